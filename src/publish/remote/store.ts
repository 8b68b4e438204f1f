/**
 * What the publisher needs of a place that holds a repository's files: list, read, write with a
 * condition, delete. Keys are POSIX paths relative to the repository's root
 * (`<app>/metadata/timestamp.json`). Two kinds: an S3-compatible bucket (./s3-store.ts) and a
 * local folder (./folder-store.ts), so the one upload order (./push.ts) serves both.
 */

/** One object as the store lists it. */
export interface StoredObject {
  readonly size: number;
  /** The store's version tag of the object's content (S3's ETag, quoted as S3 sends it). */
  readonly etag: string;
}

/**
 * The condition a write carries: the name must not exist yet, or must still hold the content the
 * publisher saw (its ETag). A store that cannot enforce it checks it just before the write.
 */
export type WriteCondition = { readonly ifNoneMatch: true } | { readonly ifMatch: string };

/** A place that holds a repository's files. */
export interface RepositoryStore {
  /** Where it is, for messages (`s3://bucket/prefix`, or a folder). */
  readonly description: string;
  /** Requests made so far (lists, reads, writes, deletes), for the publish cost in docs/hosting.md. */
  readonly requests: number;
  /** Every object whose key starts with `prefix`, by key. */
  list(prefix: string): Promise<Map<string, StoredObject>>;
  /** The object at `key`, or undefined when there is none. */
  head(key: string): Promise<StoredObject | undefined>;
  /** Writes the object at `key` into the local file `file`; false when there is no such object. */
  download(key: string, file: string): Promise<boolean>;
  /**
   * Writes the local file `file` as `key`, with the `Content-Type` and `Cache-Control` of the name;
   * throws `REPO_CONFLICT` when the store refuses `condition`.
   */
  upload(key: string, file: string, condition?: WriteCondition): Promise<void>;
  /** Deletes `key` (nothing when it is already gone). */
  remove(key: string): Promise<void>;
}

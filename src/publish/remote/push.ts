/**
 * The one upload order that keeps readers safe on a store without rename (S3): every file a new
 * `timestamp.json` leads to is in place before it is written, and nothing an old one leads to is
 * deleted before it is replaced.
 *
 * 1. New names outside the metadata (content-addressed targets, legacy archives): invisible to
 *    readers until metadata names them. A name already in the store (left by an interrupted
 *    publish) holds the same bytes, since the name is the content's hash, and is not sent again.
 * 2. Versioned metadata (`N.root.json`, `N.<role>.json`), new roles before the snapshot that
 *    lists them, each written only if the name is still as the publisher saw it: absent, or
 *    holding the ETag seen (a leftover of an interrupted publish, replaced).
 * 3. Other names the command rewrote (`root.json`, `updraft-app.json`, legacy labels).
 * 4. `timestamp.json`, only if it still holds the ETag seen when the command started.
 * 5. Deletions, after the new timestamp is up.
 *
 * Conditions go to the store as `If-None-Match: *` / `If-Match` (S3, R2, MinIO enforce them); the
 * same condition is also checked with a read just before each write, which is all a store that
 * ignores them allows (then two publishers at once must be kept apart by the user, see
 * docs/hosting.md).
 */
import { classifyServedPath } from "../../formats/served-paths.js";
import { conflictError } from "./s3-store.js";
import type { RepositoryStore, StoredObject, WriteCondition } from "./store.js";

/** What changed in the working copy: files to write (key → local file) and keys to delete. */
export interface RepositoryChanges {
  /** Keys written by the command, with the local file holding their new content. */
  readonly writes: ReadonlyMap<string, string>;
  /** Keys the command removed. */
  readonly deletes: readonly string[];
}

const TIMESTAMP = "/metadata/timestamp.json";

function isMetadata(key: string): boolean {
  return key.includes("/metadata/");
}

/** Versioned metadata: `N.<role>.json` in a metadata folder. */
function isVersionedMetadata(key: string): boolean {
  return isMetadata(key) && /\/\d+\.[^/]+\.json$/.test(key);
}

/** Within phase 2: roots first (clients walk them), the snapshot last (it names the others). */
function metadataRank(key: string): number {
  if (key.endsWith(".root.json")) return 0;
  if (key.endsWith(".snapshot.json")) return 2;
  return 1;
}

/** True for a name whose content never changes (a content-addressed target, versioned metadata). */
function isImmutable(key: string): boolean {
  return classifyServedPath(key)?.immutable === true;
}

/**
 * Writes `changes` to `store` in the safe order above. `seen` is the store's listing when the
 * command started: the conditions are taken from it. Throws `REPO_CONFLICT` when another
 * publisher got there first; what was written by then is invisible to readers.
 */
export async function pushChanges(
  store: RepositoryStore,
  seen: ReadonlyMap<string, StoredObject>,
  changes: RepositoryChanges,
): Promise<{ uploaded: string[]; deleted: string[] }> {
  const keys = [...changes.writes.keys()];
  const timestamps = keys.filter((k) => k.endsWith(TIMESTAMP)).sort();
  const content = keys.filter((k) => !isMetadata(k) && !seen.has(k)).sort();
  const versioned = keys
    .filter((k) => isVersionedMetadata(k))
    .sort((a, b) => metadataRank(a) - metadataRank(b) || a.localeCompare(b));
  const rewritten = keys
    .filter((k) => !content.includes(k) && !versioned.includes(k) && !timestamps.includes(k))
    .filter((k) => !(seen.has(k) && !isMetadata(k) && isImmutable(k)))
    .sort();

  const expectUnchanged = async (key: string): Promise<WriteCondition> => {
    const before = seen.get(key);
    const now = await store.head(key);
    if (now?.etag !== before?.etag) {
      throw conflictError(
        store.description,
        `${key} ${before ? "was rewritten" : "appeared"} after this command read it`,
      );
    }
    return before ? { ifMatch: before.etag } : { ifNoneMatch: true };
  };
  // Fail before uploading anything large when another publish already moved the timestamp.
  for (const key of timestamps) await expectUnchanged(key);

  const uploaded: string[] = [];
  const put = async (key: string, condition?: WriteCondition) => {
    await store.upload(key, changes.writes.get(key)!, condition);
    uploaded.push(key);
  };
  for (const key of content) await put(key);
  for (const key of versioned) await put(key, await expectUnchanged(key));
  for (const key of rewritten) await put(key, isMetadata(key) ? await expectUnchanged(key) : undefined);
  for (const key of timestamps) await put(key, await expectUnchanged(key));
  const deleted: string[] = [];
  for (const key of [...changes.deletes].sort()) {
    await store.remove(key);
    deleted.push(key);
  }
  return { uploaded, deleted };
}

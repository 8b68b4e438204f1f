/**
 * `withWritableRepository`: how every command that writes a repository works on an object store.
 * The publisher keeps writing a local folder; for `s3://…` that folder is a working copy:
 *
 * 1. list the app's objects, download its current signed metadata (the root files,
 *    `timestamp.json`, and the role versions it leads to, found through the snapshot, so any
 *    set of roles works) and its small settings files;
 * 2. let the command ask for more (`prepare`: the archives a publish builds deltas from);
 * 3. run the command on the folder;
 * 4. upload what it added or changed and delete what it removed, in the order of ./push.ts.
 *
 * A command run on a folder (`--repo ./repo`) gets that folder itself.
 */
import { mkdir, mkdtemp, readdir, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import { hashFile } from "../../core/hash.js";
import { isJsonObject, parseJson } from "../../core/json.js";
import { readCapped } from "../../core/read-capped.js";
import { metadataPath } from "../../formats/native.js";
import { isS3Url, parseS3Url } from "./location.js";
import { pushChanges } from "./push.js";
import { S3Store } from "./s3-store.js";
import type { RepositoryStore, StoredObject } from "./store.js";

/** App files beside `metadata/` and `targets/` (settings, legacy labels) fetched when at most this large. */
const SMALL_APP_FILE = 1024 * 1024;
/** Cap of a metadata file read to find the next role versions (tuf-js caps a role far lower). */
const METADATA_CAP = 64 * 1024 * 1024;

/** The local copy of a remote repository a command works on. */
export interface WorkingCopy {
  /** The local folder standing for the repository's root. */
  readonly repoDir: string;
  /**
   * Downloads the file at `key` (relative to the repository's root) into the working copy, unless
   * it is there already. False when the store has no such file.
   */
  fetch(key: string): Promise<boolean>;
  /**
   * Puts a stand-in (a sparse file of the object's size, nothing downloaded) for every object under
   * `prefix` (relative to the repository's root), so a command can delete them: a stand-in it
   * removes is deleted from the store, one it leaves is left as it is. Returns how many.
   */
  standIn(prefix: string): Promise<number>;
}

/** Options of {@link withWritableRepository}. */
export interface WritableRepositoryOptions {
  /** The app the command works on: only its files are copied and uploaded. */
  app: string;
  /** Endpoint of an S3-compatible store (`--s3-endpoint`). */
  s3Endpoint?: string;
  /** Fetches what the command reads beyond the app's metadata, once the metadata is in the copy. */
  prepare?: (copy: WorkingCopy) => Promise<void>;
  /** Told what was uploaded and deleted, and how many requests it took. */
  onPushed?: (pushed: PushReport) => void;
}

/** What {@link withWritableRepository} sent to the store. */
export interface PushReport {
  readonly store: string;
  readonly uploaded: readonly string[];
  readonly deleted: readonly string[];
  /** Requests made to the store by the whole command (list, downloads, checks, uploads). */
  readonly requests: number;
}

/**
 * Runs `run` on a folder holding the repository `repo` (a folder, or `s3://BUCKET/PREFIX`) and, for
 * an object store, makes what it wrote visible in the safe order. Nothing is uploaded when `run`
 * throws.
 */
export async function withWritableRepository<T>(
  repo: string,
  options: WritableRepositoryOptions,
  run: (repoDir: string) => Promise<T>,
): Promise<T> {
  if (!isS3Url(repo)) return run(repo);
  const store = new S3Store(parseS3Url(repo), options.s3Endpoint !== undefined ? { endpoint: options.s3Endpoint } : {});
  return withStoreWorkingCopy(store, options, run);
}

/** {@link withWritableRepository} over any {@link RepositoryStore}. */
export async function withStoreWorkingCopy<T>(
  store: RepositoryStore,
  options: WritableRepositoryOptions,
  run: (repoDir: string) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "updraft-repo-"));
  try {
    const seen = await store.list(`${options.app}/`);
    const copy = new StoreCopy(store, dir, seen);
    await copy.fetchMetadata(options.app);
    await options.prepare?.(copy);
    const result = await run(dir);
    const changes = await copy.changes();
    const pushed = await pushChanges(store, seen, changes);
    options.onPushed?.({ store: store.description, ...pushed, requests: store.requests });
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The working copy: what was fetched, with the sha256 it had, to tell what the command changed. */
class StoreCopy implements WorkingCopy {
  private readonly fetched = new Map<string, string>();
  private readonly standIns = new Set<string>();

  constructor(
    private readonly store: RepositoryStore,
    readonly repoDir: string,
    private readonly seen: ReadonlyMap<string, StoredObject>,
  ) {}

  private local(key: string): string {
    return join(this.repoDir, ...key.split("/"));
  }

  async fetch(key: string): Promise<boolean> {
    if (this.fetched.has(key)) return true;
    if (!this.seen.has(key)) return false;
    const file = this.local(key);
    await mkdir(dirname(file), { recursive: true });
    if (!(await this.store.download(key, file))) return false;
    this.fetched.set(key, (await hashFile(file)).sha256);
    return true;
  }

  async standIn(prefix: string): Promise<number> {
    let count = 0;
    for (const [key, object] of this.seen) {
      if (!key.startsWith(prefix) || this.fetched.has(key) || this.standIns.has(key)) continue;
      const file = this.local(key);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, "");
      await truncate(file, object.size);
      this.standIns.add(key);
      count++;
    }
    return count;
  }

  /** The version of role `name` that a fetched metadata document names in `meta`, if any. */
  private async metaVersions(key: string): Promise<Map<string, number>> {
    const versions = new Map<string, number>();
    if (!(await this.fetch(key))) return versions;
    try {
      const doc = parseJson((await readCapped(this.local(key), METADATA_CAP)).toString("utf8"));
      const signed = isJsonObject(doc) ? doc.signed : undefined;
      const meta = signed !== undefined && isJsonObject(signed) ? signed.meta : undefined;
      for (const [name, entry] of Object.entries(meta !== undefined && isJsonObject(meta) ? meta : {})) {
        const version = isJsonObject(entry) ? entry.version : undefined;
        if (typeof version === "number" && Number.isSafeInteger(version) && version > 0) versions.set(name, version);
      }
    } catch {
      // Unreadable metadata: the command reads it and says what is wrong.
    }
    return versions;
  }

  /**
   * The app's current metadata: every root version and `root.json`, `timestamp.json`, the snapshot
   * it names and every role version that snapshot names; plus the app's small files beside its
   * metadata and targets (`updraft-app.json`, legacy labels).
   */
  async fetchMetadata(app: string): Promise<void> {
    const metadata = `${metadataPath(app)}/`;
    for (const [key, object] of this.seen) {
      const rest = key.slice(app.length + 1);
      const smallAppFile = !rest.includes("/") && object.size <= SMALL_APP_FILE;
      const root = key.startsWith(metadata) && /^(\d+\.)?root\.json$/.test(key.slice(metadata.length));
      if (smallAppFile || root) await this.fetch(key);
    }
    const snapshots = await this.metaVersions(`${metadata}timestamp.json`);
    for (const [name, version] of snapshots) {
      const roles = await this.metaVersions(`${metadata}${version}.${name}`);
      for (const [role, v] of roles) await this.fetch(`${metadata}${v}.${role}`);
    }
  }

  /** What the command changed: files new or different from what was fetched, and fetched files it removed. */
  async changes(): Promise<{ writes: Map<string, string>; deletes: string[] }> {
    const writes = new Map<string, string>();
    const present = new Set<string>();
    for (const file of await listFiles(this.repoDir)) {
      const key = relative(this.repoDir, file).split(sep).join("/");
      present.add(key);
      if (this.standIns.has(key)) continue;
      const before = this.fetched.get(key);
      if (before !== undefined && before === (await hashFile(file)).sha256) continue;
      writes.set(key, file);
    }
    const deletes = [...this.fetched.keys(), ...this.standIns].filter((key) => !present.has(key));
    return { writes, deletes };
  }
}

/** Every regular file under `dir`, skipping hidden names (the publish lock, temporary files). */
async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

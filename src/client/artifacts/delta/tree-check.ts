/**
 * Confirms that an installed version folder holds exactly the files its signed manifest lists,
 * before a delta is applied on top of it. Hashing 200 MB on every check would be slow, so the
 * result is cached per version in `.updraft/tree-cache/<version>.json` as each file's stat
 * identity (inode, size, mtime in ns) at the time its sha256 was confirmed; a file whose identity
 * changed since is hashed again. Writing a file changes its mtime, replacing it changes its inode:
 * either makes it re-checked.
 */
import { type BigIntStats, lstatSync } from "node:fs";
import { readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { ErrorCodes, type Fail, failWith } from "../../../core/errors.js";
import { ensureDir, exists, randomSuffix, readLocalJson } from "../../../core/fs.js";
import { hashFile } from "../../../core/hash.js";
import { isJsonObject } from "../../../core/json.js";
import { isValidVersion } from "../../../core/version.js";
import { treeId } from "../../../formats/delta.js";
import type { ManifestFile, ReleaseManifest } from "../../../formats/native.js";
import type { InstallLayout } from "../../install/layout.js";
import { forEachLimited } from "./concurrency.js";
import { underRoot } from "./paths.js";

const CACHE_SCHEMA = 1;

/** The outcome of checking one installed version. */
export interface TreeCheckResult {
  version: string;
  /** The version folder. */
  root: string;
  /** Per manifest file (same order): true if it holds its signed content. */
  good: boolean[];
  /** Paths that are missing or differ from the manifest. */
  modified: string[];
  /** Stat identity of every good file, by path (reused to cache the next version's tree). */
  identities: Map<string, string>;
  /** Files whose identity matched the cache (not hashed). */
  fromCache: number;
  /** Bytes hashed because the cache did not vouch for them. */
  bytesHashed: number;
}

interface CacheDocument {
  schema: number;
  version: string;
  treeId: string;
  /** path → "ino:size:mtimeNs" */
  files: Record<string, string>;
}

/** Path of the tree cache of `version`. */
export function treeCachePath(layout: InstallLayout, version: string): string {
  return join(layout.stateDir, "tree-cache", `${encodeURIComponent(version)}.json`);
}

/**
 * The stat identity of a regular file, or undefined if `path` is not one. Synchronous: one
 * lstat costs microseconds, far less than a round trip through libuv's thread pool, and trees
 * have thousands of files; callers yield to the event loop between batches.
 */
export function statIdentity(path: string): string | undefined {
  const st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
  return st?.isFile() ? identityOfStats(st) : undefined;
}

/** The stat identity recorded for a regular file with these stats (from `lstat` or `fstat`). */
export function identityOfStats(st: BigIntStats): string {
  return `${st.ino}:${st.size}:${st.mtimeNs}`;
}

/** Files handled between two yields to the event loop in synchronous loops. */
export const BATCH = 256;

/**
 * The stat identities a tree cache read from `file` vouches for: none when it was written for
 * another build of the version. Throws `MANIFEST_INVALID` naming the file when it is not a tree
 * cache at all.
 */
export function parseTreeCache(raw: unknown, file: string, manifest: ReleaseManifest): Map<string, string> {
  const invalid: Fail = failWith(
    ErrorCodes.MANIFEST_INVALID,
    "It is only a cache: delete it, or let the next update hash the files again.",
    `${file} is not a tree cache: `,
  );
  if (!isJsonObject(raw)) invalid("it is not a JSON object");
  if (raw.schema !== CACHE_SCHEMA) invalid(`"schema" must be ${CACHE_SCHEMA} (got ${JSON.stringify(raw.schema)})`);
  if (typeof raw.treeId !== "string") invalid(`"treeId" must be a string`);
  const files = raw.files;
  if (!isJsonObject(files)) invalid(`"files" must be an object`);
  const identities = new Map<string, string>();
  for (const [path, id] of Object.entries(files)) {
    if (typeof id !== "string") invalid(`the identity of "${path}" must be a string`);
    identities.set(path, id);
  }
  return raw.treeId === treeId(manifest.files) ? identities : new Map();
}

async function readCache(layout: InstallLayout, manifest: ReleaseManifest): Promise<Map<string, string>> {
  const file = treeCachePath(layout, manifest.version);
  try {
    const raw = await readLocalJson(file);
    return raw === undefined ? new Map() : parseTreeCache(raw, file, manifest);
  } catch {
    // A damaged or unreadable cache costs only hashing the files again; it is rewritten after.
    return new Map();
  }
}

/**
 * Writes the tree cache of `manifest`'s version from identities known to match (files just
 * verified or just installed), and drops the caches of versions no longer installed.
 */
export async function writeTreeCache(
  layout: InstallLayout,
  manifest: ReleaseManifest,
  identities: ReadonlyMap<string, string>,
): Promise<void> {
  const files: Record<string, string> = {};
  for (const f of manifest.files) {
    const id = identities.get(f.path);
    if (id !== undefined) files[f.path] = id;
  }
  const doc: CacheDocument = { schema: CACHE_SCHEMA, version: manifest.version, treeId: treeId(manifest.files), files };
  const dir = join(layout.stateDir, "tree-cache");
  await ensureDir(dir);
  // A cache: written by rename (never half a file) but not fsynced; a lost or stale cache only
  // means the next check hashes the files again.
  const tmp = join(dir, `.${randomSuffix()}.tmp`);
  await writeFile(tmp, JSON.stringify(doc), { mode: 0o644 });
  await rename(tmp, treeCachePath(layout, manifest.version));
  for (const name of await readdir(dir)) {
    if (!name.endsWith(".json") || name === `${encodeURIComponent(manifest.version)}.json`) continue;
    const version = decodeURIComponent(name.slice(0, -5));
    if (!isValidVersion(version) || !(await exists(layout.versionDir(version))))
      await rm(join(dir, name), { force: true });
  }
}

/** Stat identities of the files of `manifest` under `root` (for a tree just verified file by file). */
export async function identitiesOf(root: string, files: readonly ManifestFile[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < files.length; i++) {
    if (i % BATCH === BATCH - 1) await yieldToLoop();
    const id = statIdentity(underRoot(root, files[i]!.path));
    if (id !== undefined) out.set(files[i]!.path, id);
  }
  return out;
}

/**
 * Checks the installed `manifest.version` folder against `manifest`: a file whose stat identity
 * matches the cache is trusted, any other is hashed. Updates the cache with what it hashed.
 */
export async function checkInstalledTree(layout: InstallLayout, manifest: ReleaseManifest): Promise<TreeCheckResult> {
  const root = layout.versionDir(manifest.version);
  const cache = await readCache(layout, manifest);
  const good = new Array<boolean>(manifest.files.length).fill(false);
  const modified: string[] = [];
  const identities = new Map<string, string>();
  const toHash: number[] = [];
  let fromCache = 0;
  let bytesHashed = 0;
  for (let i = 0; i < manifest.files.length; i++) {
    if (i % BATCH === BATCH - 1) await yieldToLoop();
    const f = manifest.files[i]!;
    const id = statIdentity(underRoot(root, f.path));
    if (id === undefined) continue;
    identities.set(f.path, id);
    if (cache.get(f.path) === id) {
      good[i] = true;
      fromCache++;
    } else toHash.push(i);
  }
  await forEachLimited(toHash, 4, async (i) => {
    const f = manifest.files[i]!;
    const actual = await hashFile(underRoot(root, f.path)).catch(() => undefined);
    bytesHashed += actual?.size ?? 0;
    if (actual?.sha256 === f.sha256 && actual.size === f.size) good[i] = true;
  });
  manifest.files.forEach((f, i) => {
    if (!good[i]) {
      modified.push(f.path);
      identities.delete(f.path);
    }
  });
  if (toHash.length > 0) await writeTreeCache(layout, manifest, identities).catch(() => undefined);
  return { version: manifest.version, root, good, modified, identities, fromCache, bytesHashed };
}

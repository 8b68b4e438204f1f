/**
 * `updraft prune --keep N`: removes the releases beyond the newest N (by version) from the signed
 * metadata and deletes their files. A release a channel document names is always kept. What an
 * install of a removed version gets afterwards: the channel's release, from its full archive when
 * no delta starts from that version (the client already falls back to it), never a broken update;
 * deltas and manifest patches of kept releases that start from a removed version stay, since they
 * still serve installs of it.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { exists, removePath, safeJoin } from "../core/fs.js";
import { isJsonObject, parseJson } from "../core/json.js";
import { compareVersions } from "../core/version.js";
import { releaseTargetPrefix } from "../formats/native.js";
import { allReleases, commitHistory, loadHistory, removeRelease } from "./history.js";
import { type KeySet, ONLINE_ROLES } from "./keys.js";
import { assertAppName } from "./publish.js";
import {
  type AppPaths,
  appPaths,
  assertKeysMatchRoot,
  type CommittedVersions,
  consistentTargetPath,
  type ExpiryDays,
  loadRepository,
  withPublishLock,
} from "./tuf-repo.js";

/** Options of {@link pruneReleases}. */
export interface PruneOptions {
  repoDir: string;
  app: string;
  /** How many of the highest versions to keep (at least 1); releases named by a channel are kept too. */
  keep: number;
  /** targets, snapshot and timestamp keys. */
  keys: KeySet;
  /** Report what would be removed, change nothing. */
  dryRun?: boolean;
  now?: Date;
  expiry?: Partial<ExpiryDays>;
}

/** What {@link pruneReleases} did (or would do, with `dryRun`). */
export interface PruneResult {
  app: string;
  /** Versions kept, highest first. */
  kept: string[];
  /** Versions removed, highest first. */
  removed: string[];
  /** Files deleted from the targets folder, and their bytes. */
  files: number;
  bytes: number;
  /** New metadata versions; absent when nothing was removed or with `dryRun`. */
  metadata?: CommittedVersions;
}

/** Versions named anywhere in the channel documents (`version`, and `releases[].version` of later schemas). */
async function channelVersions(paths: AppPaths, targets: Iterable<[string, { hashes: Record<string, string> }]>) {
  const versions = new Set<string>();
  for (const [name, info] of targets) {
    const sha256 = info.hashes.sha256;
    if (!sha256) continue;
    const doc = parseJson(await readFile(consistentTargetPath(paths, name, sha256), "utf8"));
    if (!isJsonObject(doc)) continue;
    if (typeof doc.version === "string") versions.add(doc.version);
    for (const entry of Array.isArray(doc.releases) ? doc.releases : []) {
      if (isJsonObject(entry) && typeof entry.version === "string") versions.add(entry.version);
    }
  }
  return versions;
}

/** Files and bytes under `dir` (0 when it does not exist). */
async function folderSize(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (!entry.isFile()) continue;
    files++;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return { files, bytes };
}

/**
 * Removes every release but the `keep` highest versions (and those a channel names) from the
 * signed metadata, commits it, then deletes the removed releases' folders under `targets/`.
 */
export async function pruneReleases(options: PruneOptions): Promise<PruneResult> {
  const app = assertAppName(options.app);
  if (!Number.isSafeInteger(options.keep) || options.keep < 1) {
    throw new UpdraftError(ErrorCodes.USAGE, `--keep must be a whole number of at least 1 (got ${options.keep})`, {
      hint: "Say how many of the newest releases to keep, e.g. --keep 20.",
    });
  }
  const paths = appPaths(resolve(options.repoDir), app);
  if (!(await exists(paths.appDir))) await loadRepository(paths); // REPO_NOT_FOUND before creating a lock there
  return withPublishLock(paths, async () => {
    const state = await loadRepository(paths);
    assertKeysMatchRoot(state.root, options.keys, ONLINE_ROLES);
    const history = await loadHistory(state);
    const named = await channelVersions(paths, Object.entries(history.topLevel));
    const versions = allReleases(history)
      .map((r) => r.version)
      .sort((a, b) => compareVersions(b, a));
    const kept = versions.filter((v, i) => i < options.keep || [...named].some((n) => compareVersions(n, v) === 0));
    const removed = versions.filter((v) => !kept.includes(v));
    const folders = removed.map((v) => safeJoin(paths.targetsDir, releaseTargetPrefix(v).slice(0, -1)));
    let files = 0;
    let bytes = 0;
    for (const folder of folders) {
      const size = await folderSize(folder);
      files += size.files;
      bytes += size.bytes;
    }
    if (removed.length === 0 || options.dryRun) return { app, kept, removed, files, bytes };
    for (const version of removed) removeRelease(history, version);
    const committed = await commitHistory(state, history, {
      keys: options.keys,
      ...(options.now ? { now: options.now } : {}),
      ...(options.expiry ? { expiry: options.expiry } : {}),
    });
    // Files go only once no signed metadata lists them; a reader still on the old timestamp may
    // then miss one and retry, which finds the new metadata.
    for (const folder of folders) await removePath(folder);
    const { targetsVersion, snapshotVersion, timestampVersion } = committed;
    return { app, kept, removed, files, bytes, metadata: { targetsVersion, snapshotVersion, timestampVersion } };
  });
}

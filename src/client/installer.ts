/**
 * Installs a verified release into its own version folder and switches `current` to it:
 * extract into `.updraft/staging`, verify, move into place, switch the pointer, record the state,
 * and remove versions older than the previous one. The installed version is never touched until
 * the new one is complete and verified.
 */
import { mkdir, readdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCodes, toUpdraftError } from "../core/errors.js";
import { fsyncDir, randomSuffix, removePath, safeJoin } from "../core/fs.js";
import type { ReleaseManifest } from "../formats/native.js";
import { type ExtractStats, extractRelease, type ReusableFile } from "./extract.js";
import { type InstallLayout, VERSION_DIR_PREFIX } from "./layout.js";
import { readCurrentVersion, switchCurrent } from "./pointer.js";
import { readState, writeState } from "./state.js";

/** Result of one install. */
export interface InstallOutcome {
  version: string;
  previous: string | undefined;
  folder: string;
  stats: ExtractStats;
  removed: string[];
}

/** Files of the installed release that a new release may reuse, keyed by path. */
export function reusableFiles(
  layout: InstallLayout,
  installed: ReleaseManifest | undefined,
): Map<string, ReusableFile> {
  const map = new Map<string, ReusableFile>();
  if (!installed) return map;
  const root = layout.versionDir(installed.version);
  for (const f of installed.files) {
    map.set(f.path, { absolutePath: safeJoin(root, f.path), sha256: f.sha256, mode: f.mode });
  }
  return map;
}

/**
 * Fills a fresh staging folder with the exact tree of the new release (every file verified
 * against its manifest), throwing on any difference. A full archive or a delta does this.
 */
export type StageProducer = (stagingDir: string) => Promise<ExtractStats>;

/** A producer that extracts a verified full archive, reusing unchanged installed files. */
export function fromFullArchive(
  layout: InstallLayout,
  manifest: ReleaseManifest,
  archivePath: string,
  installedManifest: ReleaseManifest | undefined,
): StageProducer {
  return (stagingDir) => extractRelease(archivePath, manifest, stagingDir, reusableFiles(layout, installedManifest));
}

/** Installs `manifest` (its tree made by `produce`) and makes it current. */
export async function installRelease(
  layout: InstallLayout,
  manifest: ReleaseManifest,
  produce: StageProducer,
): Promise<InstallOutcome> {
  const staging = join(layout.stagingDir, `${VERSION_DIR_PREFIX}${manifest.version}-${randomSuffix()}`);
  const finalDir = layout.versionDir(manifest.version);
  const previous = await readCurrentVersion(layout);
  let stats: ExtractStats;
  try {
    await removePath(layout.stagingDir);
    await mkdir(layout.stagingDir, { recursive: true });
    stats = await produce(staging);
    if (previous !== manifest.version) await removePath(finalDir);
    await rename(staging, finalDir);
    await fsyncDir(layout.dir);
  } catch (err) {
    await removePath(staging).catch(() => {});
    throw toUpdraftError(err, ErrorCodes.INSTALL_FAILED, `Installing ${manifest.version}`);
  }
  await switchCurrent(layout, manifest.version);
  await writeState(layout, {
    ...(await readState(layout)),
    current: manifest.version,
    ...(previous && previous !== manifest.version ? { previous } : {}),
    installedAt: new Date().toISOString(),
  });
  const removed = await pruneVersions(layout, [manifest.version, previous]);
  return { version: manifest.version, previous, folder: finalDir, stats, removed };
}

/** Removes version folders other than `keep`; returns the versions removed. */
export async function pruneVersions(layout: InstallLayout, keep: (string | undefined)[]): Promise<string[]> {
  const keepNames = new Set(keep.filter(Boolean).map((v) => `${VERSION_DIR_PREFIX}${v}`));
  const removed: string[] = [];
  for (const entry of await readdir(layout.dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith(VERSION_DIR_PREFIX) || keepNames.has(entry.name)) continue;
    await removePath(join(layout.dir, entry.name));
    removed.push(entry.name.slice(VERSION_DIR_PREFIX.length));
  }
  return removed;
}

/**
 * Installs a verified release into its own version folder and switches `current` to it, as one
 * journaled transaction: stage and verify (nothing the app uses changes), write the intent
 * durably, move the folder into place, switch the pointer, record the state, close the journal.
 * The journal, state and recovery steps are the commit protocol both engines share (commit.ts);
 * this engine brings its switch and {@link versionedCommit}.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCodes, toUpdraftError } from "../../core/errors.js";
import { FaultSteps, faultPoint } from "../../core/fault.js";
import { ensureDir, randomSuffix, safeJoin } from "../../core/fs.js";
import type { ReleaseManifest } from "../../formats/native.js";
import { type ExtractStats, extractRelease, type ReusableFile } from "../artifacts/tar-zst.js";
import { type CommitEngine, commitInstall, journalIntent } from "./commit.js";
import { assertFreeSpace, diskFullWhileStaging } from "./disk.js";
import { isLeftover } from "./fs-ops.js";
import type { VersionedJournal } from "./journal.js";
import { type InstallLayout, VERSION_DIR_PREFIX } from "./layout.js";
import { readCurrentVersion, switchCurrent } from "./pointer.js";
import type { ProbationPolicy } from "./probation.js";

/** Result of one install. */
export interface InstallOutcome {
  version: string;
  previous: string | undefined;
  folder: string;
  stats: ExtractStats;
}

/** Options of {@link installRelease}. */
export interface InstallOptions {
  /** Put the new version on probation (it must confirm it works). */
  probation?: ProbationPolicy;
  /** The installed release, whose unchanged files need no new disk space. */
  installed?: ReleaseManifest;
  /** Check free space before staging (default true). */
  checkSpace?: boolean;
  /** The manifest's exact signed bytes, kept as they are (a manifest patch applies to them); else it is re-serialized. */
  manifestBytes?: Uint8Array;
}

/** Bytes an install writes: the new release's files minus those it can hard-link from the installed one. */
export function bytesToWrite(manifest: ReleaseManifest, installed: ReleaseManifest | undefined): number {
  const reusable = new Set((installed?.files ?? []).map((f) => `${f.path}\0${f.sha256}\0${f.mode}`));
  let total = 0;
  for (const f of manifest.files) if (!reusable.has(`${f.path}\0${f.sha256}\0${f.mode}`)) total += f.size;
  return total;
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

/**
 * Installs `manifest` (its tree made by `produce`) and makes it current. The caller holds the
 * install lock. With a `probation` policy the new version must confirm it works (see recover.ts).
 */
export async function installRelease(
  layout: InstallLayout,
  manifest: ReleaseManifest,
  produce: StageProducer,
  options: InstallOptions = {},
): Promise<InstallOutcome> {
  const { probation } = options;
  const to = manifest.version;
  const staging = join(layout.stagingDir, `${VERSION_DIR_PREFIX}${to}-${randomSuffix()}`);
  const finalDir = layout.versionDir(to);
  const from = await readCurrentVersion(layout);
  let stats: ExtractStats;
  const needed = bytesToWrite(manifest, options.installed);
  const { files } = layout;
  try {
    await files.removeOrSetAside(layout.stagingDir, layout.stateDir);
    await ensureDir(layout.stagingDir);
    if (options.checkSpace !== false) await assertFreeSpace(layout.stagingDir, needed, `installing ${to}`);
    stats = await produce(staging);
    if (options.manifestBytes) await files.writeFileAtomic(layout.manifestFile(to), options.manifestBytes);
    else await files.writeJsonAtomic(layout.manifestFile(to), manifest);
  } catch (err) {
    await files.removeOrSetAside(layout.stagingDir, layout.stateDir).catch(() => {});
    throw (
      diskFullWhileStaging(err, layout.stagingDir, needed) ??
      toUpdraftError(err, ErrorCodes.INSTALL_FAILED, `Installing ${to}`)
    );
  }
  await faultPoint(FaultSteps.VERSIONED_STAGED);
  const journal: VersionedJournal = { mode: "versioned", ...journalIntent(to, from, probation) };
  await commitInstall(
    layout,
    versionedCommit,
    journal,
    async () => {
      if (from !== to) await files.removeOrSetAside(finalDir, layout.stateDir);
      await files.rename(staging, finalDir);
      await files.syncFolder(layout.dir);
      await faultPoint(FaultSteps.VERSIONED_FOLDER_IN_PLACE);
      await switchCurrent(layout, to);
      await faultPoint(FaultSteps.VERSIONED_POINTER_SWITCHED);
      return journal;
    },
    `Switching to ${to}`,
  );
  return { version: to, previous: from, folder: finalDir, stats };
}

/**
 * The versioned engine's part of the shared commit. Its commit point is the pointer switch: once
 * `current` names the new version the install goes forward; before, the new folder is removed
 * and `current` (restored if a crash left none) keeps the old version.
 */
export const versionedCommit: CommitEngine<VersionedJournal> = {
  isCommitted: async (layout, journal) => (await readCurrentVersion(layout)) === journal.to,
  async rollBack(layout, journal) {
    if (journal.to !== journal.from)
      await layout.files.removeOrSetAside(layout.versionDir(journal.to), layout.stateDir);
    if ((await readCurrentVersion(layout)) === undefined && journal.from) await switchCurrent(layout, journal.from);
    await layout.files.removeOrSetAside(layout.stagingDir, layout.stateDir);
  },
};

/** Removes version folders other than `keep`; returns the versions removed. */
export async function pruneVersions(layout: InstallLayout, keep: (string | undefined)[]): Promise<string[]> {
  const keepNames = new Set(keep.filter(Boolean).map((v) => `${VERSION_DIR_PREFIX}${v}`));
  const removed: string[] = [];
  for (const entry of await readdir(layout.dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith(VERSION_DIR_PREFIX) || keepNames.has(entry.name)) continue;
    if (isLeftover(entry.name)) continue; // a version moved aside: the leftover sweep deletes it
    // An old version may still be running: what cannot be deleted now is deleted on a later run.
    await layout.files.removeOrSetAside(join(layout.dir, entry.name), layout.stateDir);
    removed.push(entry.name.slice(VERSION_DIR_PREFIX.length));
  }
  return removed;
}

/**
 * In-place install, for apps that run from one fixed folder (SAAU, python-autoupdate): the listed
 * files are replaced inside the app folder as one transaction. Every new file is staged (and
 * hashed) first inside `.updraft/` (same file system, so every move is an atomic rename); the
 * journal is written; each original is moved to `.updraft/backup/` before its replacement moves
 * in. Killed at any point, recovery puts back the whole old set or completes the whole new set.
 * The journal, state and recovery steps are the commit protocol both engines share (commit.ts);
 * this engine brings its switch ({@link swapFiles}) and {@link inPlaceCommit}.
 */
import { copyFile, open, readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ErrorCodes, isUpdraftError, toUpdraftError, UpdraftError } from "../../core/errors.js";
import { FaultSteps, faultPoint, inPlaceFileStep } from "../../core/fault.js";
import { assertSafeRelativePath, ensureDir, entryExists, readLocalJson, safeJoin } from "../../core/fs.js";
import { hashFile } from "../../core/hash.js";
import { type LockToken, withLock } from "../../core/lock.js";
import { type CommitEngine, commitInstall, journalIntent } from "./commit.js";
import { type BackupIndex, type PreparedPlan, parseBackupIndex, parsePreparedPlan } from "./in-place-records.js";
import { type InPlaceJournal, type JournalFile, writeJournal } from "./journal.js";
import type { InstallLayout } from "./layout.js";
import type { ProbationPolicy } from "./probation.js";
import { readState } from "./state.js";

/** One file to install: its place in the app folder and a verified source file. */
export interface InPlaceFile {
  /** POSIX path relative to the app folder. */
  path: string;
  /** Absolute path of the verified file to install there. */
  source: string;
}

/** A release to install in place. */
export interface InPlaceRelease {
  version: string;
  files: InPlaceFile[];
  /** Paths to delete from the app folder (used by rollback to undo files a release added). */
  remove?: string[];
}

/** What an in-place install did. */
export interface InPlaceOutcome {
  /** The version now in the app folder. */
  version: string;
  /** The version it replaced, when one was recorded. */
  previous: string | undefined;
  /** Files overwritten. */
  replaced: number;
  /** Files that did not exist before. */
  added: number;
  /** Files deleted. */
  removed: number;
}

/** Folders inside `.updraft/` this module uses. */
export function inPlacePaths(layout: InstallLayout) {
  return {
    plan: join(layout.stateDir, "prepared.json"),
    staged: join(layout.stagingDir, "in-place"),
    backupNew: join(layout.stateDir, "backup", "new"),
    backupPrevious: join(layout.stateDir, "backup", "previous"),
    /** Where {@link rollbackInPlace} holds the kept set while it installs it again. */
    rollbackSource: join(layout.stateDir, "backup", "rollback-source"),
    backupIndex: (dir: string) => join(dir, "updraft-backup.json"),
  };
}

async function copyDurably(source: string, dest: string): Promise<{ sha256: string; size: number }> {
  await ensureDir(dirname(dest));
  await copyFile(source, dest);
  const handle = await open(dest, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  return hashFile(dest);
}

function withInstallLock<T>(
  layout: InstallLayout,
  lock: LockToken | undefined,
  body: (lock: LockToken) => Promise<T>,
): Promise<T> {
  return withLock(layout.lockFile, lock, { purpose: "installing in place" }, body);
}

/**
 * Stages `release` inside `.updraft/staging/in-place` and records the plan durably. The app
 * folder is not touched: {@link applyPreparedInPlace} (now, or from the helper once the app has
 * exited) does the swap.
 */
export async function prepareInPlace(
  layout: InstallLayout,
  release: InPlaceRelease,
  options: { lock?: LockToken } = {},
): Promise<void> {
  await withInstallLock(layout, options.lock, async () => {
    const p = inPlacePaths(layout);
    const seen = new Set<string>();
    for (const path of [...release.files.map((f) => f.path), ...(release.remove ?? [])]) {
      assertSafeRelativePath(path);
      const folded = path.toLowerCase();
      if (seen.has(folded)) throw new UpdraftError(ErrorCodes.ARCHIVE_INVALID, `"${path}" is listed twice`);
      if (path.split("/")[0] === ".updraft") {
        throw new UpdraftError(ErrorCodes.ARCHIVE_INVALID, `"${path}" would overwrite Updraft's own state`);
      }
      seen.add(folded);
    }
    await layout.files.remove(p.plan);
    await layout.files.removeOrSetAside(p.staged, layout.stateDir);
    try {
      const files: PreparedPlan["files"] = [];
      for (const f of release.files)
        files.push({ path: f.path, ...(await copyDurably(f.source, safeJoin(p.staged, f.path))) });
      await layout.files.syncFolder(p.staged).catch(() => {});
      await layout.files.writeJsonAtomic(p.plan, {
        schema: 1,
        version: release.version,
        files,
        remove: release.remove ?? [],
      } satisfies PreparedPlan);
    } catch (err) {
      await layout.files.removeOrSetAside(p.staged, layout.stateDir).catch(() => {});
      throw toUpdraftError(err, ErrorCodes.INSTALL_FAILED, `Staging ${release.version}`);
    }
    await faultPoint(FaultSteps.IN_PLACE_PREPARED);
  });
}

/** True if a prepared in-place install waits to be applied. */
export async function hasPreparedInPlace(layout: InstallLayout): Promise<boolean> {
  return parsePreparedPlan(await readLocalJson(inPlacePaths(layout).plan).catch(() => undefined)) !== undefined;
}

/**
 * Applies the prepared plan as one journaled transaction. Returns undefined when nothing is
 * prepared. On failure the old set is put back before the error is thrown.
 */
export async function applyPreparedInPlace(
  layout: InstallLayout,
  options: { lock?: LockToken; probation?: ProbationPolicy } = {},
): Promise<InPlaceOutcome | undefined> {
  return withInstallLock(layout, options.lock, async () => {
    const p = inPlacePaths(layout);
    const raw = await readLocalJson(p.plan, undefined, "the prepared update").catch((err: unknown) => {
      if (isUpdraftError(err, ErrorCodes.MANIFEST_INVALID)) return null; // not JSON: damaged like a wrong shape
      throw err;
    });
    if (raw === undefined) return undefined;
    const plan = parsePreparedPlan(raw);
    if (!plan) {
      // Nothing was swapped yet: dropping a plan Updraft could not have written leaves the app as it is.
      await dropPlan(layout);
      throw new UpdraftError(
        ErrorCodes.INSTALL_FAILED,
        `The prepared update in ${p.plan} is damaged; it was discarded`,
        {
          hint: "The app is unchanged. Run the update again.",
        },
      );
    }
    for (const f of plan.files) {
      const got = await hashFile(safeJoin(p.staged, f.path)).catch(() => undefined);
      if (got?.sha256 !== f.sha256) {
        await dropPlan(layout);
        throw new UpdraftError(ErrorCodes.FILE_MISMATCH, `The staged copy of "${f.path}" changed before the swap`, {
          hint: "Run the update again.",
        });
      }
    }
    const from = (await readState(layout)).current;
    const files: JournalFile[] = [];
    for (const f of plan.files)
      files.push({ path: f.path, hadOriginal: await entryExists(safeJoin(layout.dir, f.path)) });
    for (const path of plan.remove) {
      if (await entryExists(safeJoin(layout.dir, path))) files.push({ path, hadOriginal: true, remove: true });
    }
    await layout.files.removeOrSetAside(p.backupNew, layout.stateDir);
    await ensureDir(p.backupNew);
    const journal: InPlaceJournal = {
      mode: "in-place",
      ...journalIntent(plan.version, from, options.probation),
      phase: "swapping",
      files,
    };
    await commitInstall(
      layout,
      inPlaceCommit,
      journal,
      () => swapFiles(layout, journal),
      `Replacing the files of ${plan.version}`,
    );
    return {
      version: plan.version,
      previous: from,
      replaced: files.filter((f) => f.hadOriginal && !f.remove).length,
      added: files.filter((f) => !f.hadOriginal).length,
      removed: files.filter((f) => f.remove).length,
    };
  });
}

/**
 * The in-place switch: each original moves to the backup and its replacement moves in, then every
 * touched folder is synced and the journal's phase becomes `swapped`, the commit point.
 */
async function swapFiles(layout: InstallLayout, journal: InPlaceJournal): Promise<InPlaceJournal> {
  const p = inPlacePaths(layout);
  let n = 0;
  for (const f of journal.files) {
    n++;
    const target = safeJoin(layout.dir, f.path);
    if (f.hadOriginal) {
      const backup = safeJoin(p.backupNew, f.path);
      await ensureDir(dirname(backup));
      // A running program may be renamed (not deleted or overwritten): the original only ever moves.
      await layout.files.rename(target, backup);
    }
    await faultPoint(inPlaceFileStep("backup", n));
    if (!f.remove) {
      await ensureDir(dirname(target));
      await layout.files.rename(safeJoin(p.staged, f.path), target);
    }
    await faultPoint(inPlaceFileStep("swap", n));
  }
  await syncFolders(layout, layout.dir, journal.files);
  await syncFolders(
    layout,
    p.backupNew,
    journal.files.filter((f) => f.hadOriginal),
  ).catch(() => {});
  const swapped: InPlaceJournal = { ...journal, phase: "swapped" };
  await writeJournal(layout, swapped);
  await faultPoint(FaultSteps.IN_PLACE_SWAPPED);
  return swapped;
}

async function syncFolders(layout: InstallLayout, root: string, files: JournalFile[]): Promise<void> {
  const dirs = new Set<string>([root]);
  for (const f of files) dirs.add(dirname(safeJoin(root, f.path)));
  for (const d of dirs) await layout.files.syncFolder(d).catch(() => {});
}

/** Drops the prepared plan and its staged files. */
async function dropPlan(layout: InstallLayout): Promise<void> {
  const p = inPlacePaths(layout);
  await layout.files.remove(p.plan);
  await layout.files.removeOrSetAside(p.staged, layout.stateDir);
}

/**
 * The in-place engine's part of the shared commit. Its commit point is the journal's `swapped`
 * phase: from there the install goes forward (the replaced set becomes the kept backup); before,
 * every original is put back from `.updraft/backup/new` and every file the release added deleted.
 */
export const inPlaceCommit: CommitEngine<InPlaceJournal> = {
  isCommitted: async (_layout, journal) => journal.phase === "swapped",
  rollBack: restoreOriginals,
  finish: keepReplacedSet,
};

/** Keeps the set the install replaced as `.updraft/backup/previous` (for rollback) and drops the staging. */
async function keepReplacedSet(layout: InstallLayout, journal: InPlaceJournal): Promise<void> {
  const p = inPlacePaths(layout);
  if (journal.from !== undefined && journal.from === journal.to) {
    // A reinstall of the installed version (a repair) replaced that same version: the kept set stays
    // the one `previous` names, or a rollback would put back these files under the older version's name.
    await layout.files.removeOrSetAside(p.backupNew, layout.stateDir);
  } else if (await entryExists(p.backupNew)) {
    await layout.files.writeJsonAtomic(p.backupIndex(p.backupNew), {
      schema: 1,
      version: journal.from ?? null,
      replaced: journal.files.filter((f) => f.hadOriginal).map((f) => f.path),
      added: journal.files.filter((f) => !f.hadOriginal).map((f) => f.path),
    } satisfies BackupIndex & { schema: 1 });
    // The set kept before may hold a program still running (replaced by an update it did not wait out).
    await layout.files.removeOrSetAside(p.backupPrevious, layout.stateDir);
    await layout.files.rename(p.backupNew, p.backupPrevious);
  }
  await dropPlan(layout);
}

/** Puts the old set back from an interrupted (`swapping`) transaction and drops the staging. */
async function restoreOriginals(layout: InstallLayout, journal: InPlaceJournal): Promise<void> {
  const p = inPlacePaths(layout);
  for (const f of journal.files) {
    const target = safeJoin(layout.dir, f.path);
    const backup = safeJoin(p.backupNew, f.path);
    if (f.hadOriginal) {
      if (await entryExists(backup)) {
        await ensureDir(dirname(target));
        await layout.files.rename(backup, target);
      }
    } else {
      // A file the release added may already run (a helper it started): moved aside, deleted later.
      await layout.files.removeOrSetAside(target, layout.stateDir);
    }
  }
  await syncFolders(layout, layout.dir, journal.files);
  await layout.files.removeOrSetAside(p.backupNew, layout.stateDir);
  await dropPlan(layout);
}

/** Prepares and applies `release` at once (when the app's files are not in use). */
export async function installInPlace(
  layout: InstallLayout,
  release: InPlaceRelease,
  options: { lock?: LockToken; probation?: ProbationPolicy } = {},
): Promise<InPlaceOutcome> {
  return withInstallLock(layout, options.lock, async (lock) => {
    await prepareInPlace(layout, release, { lock });
    return (await applyPreparedInPlace(layout, {
      lock,
      ...(options.probation ? { probation: options.probation } : {}),
    }))!;
  });
}

/** The set the last in-place install replaced, if it is still kept. */
export async function previousInPlaceSet(layout: InstallLayout): Promise<BackupIndex | undefined> {
  const p = inPlacePaths(layout);
  return parseBackupIndex(await readLocalJson(p.backupIndex(p.backupPrevious)).catch(() => undefined));
}

/**
 * Goes back to the set the last in-place install replaced, as a new in-place transaction (so it
 * is crash-safe too). Returns the version restored.
 */
export async function rollbackInPlace(layout: InstallLayout, options: { lock?: LockToken } = {}): Promise<string> {
  return withInstallLock(layout, options.lock, async (lock) => {
    const index = await previousInPlaceSet(layout);
    if (!index?.version) {
      throw new UpdraftError(ErrorCodes.NO_UPDATE, "There is no previous version to go back to", {
        hint: "Only the version before the last update is kept.",
      });
    }
    const p = inPlacePaths(layout);
    const hold = p.rollbackSource;
    await layout.files.removeOrSetAside(hold, layout.stateDir);
    await layout.files.rename(p.backupPrevious, hold);
    try {
      await prepareInPlace(
        layout,
        {
          version: index.version,
          files: index.replaced.map((path) => ({ path, source: safeJoin(hold, path) })),
          remove: index.added,
        },
        { lock },
      );
      await applyPreparedInPlace(layout, { lock });
    } finally {
      await layout.files.removeOrSetAside(hold, layout.stateDir);
    }
    return index.version;
  });
}

/** Removes `.updraft/staging` leftovers of in-place installs that never got a plan. */
export async function cleanStaleInPlaceStaging(layout: InstallLayout): Promise<void> {
  if (await hasPreparedInPlace(layout)) return;
  const p = inPlacePaths(layout);
  const entries = await readdir(p.staged).catch(() => []);
  if (entries.length > 0) await layout.files.removeOrSetAside(p.staged, layout.stateDir);
}

/**
 * Puts back the kept set a rollback was installing when it was interrupted before its plan was
 * written (after that, the plan or the journal finishes the rollback).
 */
export async function restoreHeldRollbackSource(layout: InstallLayout): Promise<void> {
  const p = inPlacePaths(layout);
  if (parseBackupIndex(await readLocalJson(p.backupIndex(p.rollbackSource)).catch(() => undefined)) === undefined)
    return;
  await layout.files.removeOrSetAside(p.backupPrevious, layout.stateDir);
  await layout.files.rename(p.rollbackSource, p.backupPrevious);
}

/**
 * Recovery and health: every entry point calls {@link recover} first. It finishes or undoes an
 * interrupted install (from the journal), and enforces probation: a new version that has not
 * confirmed within its time or launch budget is rolled back to the previous one and marked failed.
 */
import { rename } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { readLocalJson, removePath, safeJoin } from "../core/fs.js";
import { hashFile } from "../core/hash.js";
import { parseReleaseManifest } from "../formats/native.js";
import { recordFailure, recordSuccess } from "./backoff.js";
import {
  finishInPlace,
  hasPreparedInPlace,
  inPlacePaths,
  openInPlaceJournal,
  rollBackInPlaceJournal,
  rollbackInPlace,
} from "./inplace.js";
import { pruneVersions, recoverVersioned } from "./installer.js";
import { readJournal } from "./journal.js";
import type { InstallLayout } from "./layout.js";
import { acquireLock, type HeldLock } from "./lock.js";
import { readCurrentVersion, switchCurrent } from "./pointer.js";
import { launched, type Probation, verdict } from "./probation.js";
import { readState, updateState } from "./state.js";

/** What {@link recover} found and did. */
export interface RecoveryReport {
  /** An interrupted install was finished (`rolled-forward`) or undone (`rolled-back`). */
  transaction: "none" | "rolled-forward" | "rolled-back";
  /** Another updater holds the lock: nothing was touched. */
  busy?: boolean;
  /** Set when an unconfirmed version was rolled back. */
  rolledBack?: { from: string; to: string; reason: string };
  /** The current version's probation, when it is on one (after counting this launch). */
  probation?: Probation;
}

/** Options of {@link recover}. */
export interface RecoverOptions {
  /** Count this call as a launch of the app (call once at app start). */
  launch?: boolean;
  now?: Date;
  lock?: HeldLock;
}

async function withOptionalLock<T>(
  layout: InstallLayout,
  lock: HeldLock | undefined,
  body: (lock: HeldLock) => Promise<T>,
): Promise<T | undefined> {
  if (lock) return body(lock);
  let held: HeldLock;
  try {
    held = await acquireLock(layout.lockFile, "recovering");
  } catch (err) {
    if (err instanceof UpdraftError && err.code === ErrorCodes.LOCKED) return undefined;
    throw err;
  }
  try {
    return await body(held);
  } finally {
    await held.release();
  }
}

/** Finishes or undoes whatever an interrupted install left; cheap when there is nothing. */
export async function recoverTransaction(layout: InstallLayout): Promise<RecoveryReport["transaction"]> {
  const journal = await readJournal(layout);
  let result: RecoveryReport["transaction"] = "none";
  if (journal?.mode === "versioned") {
    result = await recoverVersioned(layout);
    if (result === "rolled-back") await recordFailure(layout, journal.to, "the install was interrupted");
  } else if (journal?.mode === "in-place") {
    const j = (await openInPlaceJournal(layout))!;
    if (j.phase === "swapped") {
      await finishInPlace(layout, j);
      result = "rolled-forward";
    } else {
      await rollBackInPlaceJournal(layout, j);
      await recordFailure(layout, j.to, "the install was interrupted");
      result = "rolled-back";
    }
  }
  const p = inPlacePaths(layout);
  const heldForRollback = join(layout.stateDir, "backup", "rollback-source");
  if (!(await hasPreparedInPlace(layout))) {
    if ((await readLocalJson(p.backupIndex(heldForRollback)).catch(() => undefined)) !== undefined) {
      await removePath(p.backupPrevious);
      await rename(heldForRollback, p.backupPrevious);
    }
    // Staging without a journal or a prepared plan is an abandoned attempt.
    if (!journal) await removePath(layout.stagingDir);
  }
  return result;
}

/** Runs recovery and the probation check. Never throws LOCKED: a busy install is left alone. */
export async function recover(layout: InstallLayout, options: RecoverOptions = {}): Promise<RecoveryReport> {
  const report = await withOptionalLock(layout, options.lock, async (lock) => {
    const transaction = await recoverTransaction(layout);
    const out: RecoveryReport = { transaction };
    const state = await readState(layout);
    const probation = state.probation;
    if (!probation || state.current !== probation.version) return out;
    const now = options.now ?? new Date();
    const judged = options.launch ? launched(probation, now) : probation;
    if (options.launch) await updateState(layout, (s) => ({ ...s, probation: judged }));
    const reason = verdict(judged, now);
    if (reason) out.rolledBack = await rollbackToPrevious(layout, reason, lock);
    else out.probation = judged;
    return out;
  });
  return report ?? { transaction: "none", busy: true };
}

/**
 * Goes back to the previous version and marks the current one failed with `reason`. Checks
 * (versioned mode) that the previous version's files still match its signed manifest first.
 */
export async function rollbackToPrevious(
  layout: InstallLayout,
  reason: string,
  lock?: HeldLock,
): Promise<{ from: string; to: string; reason: string }> {
  const run = async (held: HeldLock) => {
    const state = await readState(layout);
    const from = state.current ?? (await readCurrentVersion(layout));
    const to = state.probation?.previous ?? state.previous;
    if (!from || !to || from === to) {
      throw new UpdraftError(ErrorCodes.NO_UPDATE, "There is no previous version to go back to", {
        hint: "Only the version before the last update is kept.",
      });
    }
    if (state.mode === "in-place") {
      await rollbackInPlace(layout, { lock: held });
    } else {
      await assertIntact(layout, to);
      await switchCurrent(layout, to);
    }
    await updateState(layout, (s) => {
      const next = { ...s, current: to, installedAt: new Date().toISOString() };
      delete next.previous;
      delete next.probation;
      return next;
    });
    await recordFailure(layout, from, reason);
    if (state.mode !== "in-place") await removePath(layout.versionDir(from));
    return { from, to, reason };
  };
  if (lock) return run(lock);
  const held = await acquireLock(layout.lockFile, "rolling back");
  try {
    return await run(held);
  } finally {
    await held.release();
  }
}

/** Throws FILE_MISMATCH unless every file of an installed version matches its signed manifest. */
async function assertIntact(layout: InstallLayout, version: string): Promise<void> {
  let manifestText: unknown;
  try {
    manifestText = await readLocalJson(layout.manifestFile(version));
  } catch {
    manifestText = undefined;
  }
  if (manifestText === undefined) {
    throw new UpdraftError(ErrorCodes.FILE_MISMATCH, `The manifest of ${version} is missing; cannot check it`, {
      hint: "Reinstall the app.",
    });
  }
  const manifest = parseReleaseManifest(manifestText);
  const root = layout.versionDir(version);
  for (const f of manifest.files) {
    const got = await hashFile(safeJoin(root, f.path)).catch(() => undefined);
    if (got?.sha256 !== f.sha256) {
      throw new UpdraftError(ErrorCodes.FILE_MISMATCH, `Version ${version} is damaged ("${f.path}" changed)`, {
        hint: "Update to a newer release or reinstall; the damaged version was not switched to.",
      });
    }
  }
}

/** Marks the current version as working: ends probation, makes it known-good, prunes old versions. */
export async function confirm(
  layout: InstallLayout,
): Promise<{ version: string | undefined; wasOnProbation: boolean }> {
  const held = await acquireLock(layout.lockFile, "confirming");
  try {
    const before = await readState(layout);
    const current = before.current ?? (await readCurrentVersion(layout));
    const wasOnProbation = before.probation !== undefined && before.probation.version === current;
    await updateState(layout, (s) => {
      const next = { ...s, ...(current ? { knownGood: current } : {}) };
      delete next.probation;
      return next;
    });
    if (current) {
      await recordSuccess(layout, current);
      if (before.mode !== "in-place") await pruneVersions(layout, [current, before.previous]);
    }
    return { version: current, wasOnProbation };
  } finally {
    await held.release();
  }
}

/**
 * Recovery and health: every entry point calls {@link recover} first. It finishes or undoes an
 * interrupted install (from the journal, through the commit protocol both engines share: see
 * commit.ts), and enforces probation: a new version that has not
 * confirmed within its time or launch budget is rolled back to the previous one and marked failed.
 */
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { readLocalJson, safeJoin } from "../../core/fs.js";
import { hashFile } from "../../core/hash.js";
import { type AcquireOptions, type LockToken, withLock } from "../../core/lock.js";
import { parseReleaseManifest } from "../../formats/native.js";
import { recordFailure, recordSuccess } from "./attempts.js";
import { settleCommit } from "./commit.js";
import { hasPreparedInPlace, inPlaceCommit, restoreHeldRollbackSource, rollbackInPlace } from "./in-place.js";
import { readJournal } from "./journal.js";
import type { InstallLayout } from "./layout.js";
import { currentPointer, readCurrentVersion, switchCurrent } from "./pointer.js";
import { launched, type Probation, verdict } from "./probation.js";
import { readState, updateState } from "./state.js";
import { pruneVersions, versionedCommit } from "./versioned.js";

/** What recovery (`Updater.recover()`, and every operation before it starts) found and did. */
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
  /** The caller's lock (nested call); without it, recovery takes the lock or leaves a busy install alone. */
  lock?: LockToken | undefined;
}

async function withOptionalLock<T>(
  layout: InstallLayout,
  lock: LockToken | undefined,
  waitMs: number,
  body: (lock: LockToken) => Promise<T>,
): Promise<T | undefined> {
  try {
    return await withLock(layout.lockFile, lock, { purpose: "recovering", waitMs }, body);
  } catch (err) {
    if (!lock && err instanceof UpdraftError && err.code === ErrorCodes.LOCKED) return undefined;
    throw err;
  }
}

/**
 * Finishes or undoes whatever an interrupted install left; cheap when there is nothing. An
 * interruption is not the release's fault: its attempt is not marked failed.
 */
export async function recoverTransaction(layout: InstallLayout): Promise<RecoveryReport["transaction"]> {
  const journal = await readJournal(layout);
  let result: RecoveryReport["transaction"] = "none";
  if (journal?.mode === "versioned") result = await settleCommit(layout, versionedCommit, journal);
  else if (journal?.mode === "in-place") result = await settleCommit(layout, inPlaceCommit, journal);
  if (!(await hasPreparedInPlace(layout))) {
    await restoreHeldRollbackSource(layout);
    // Staging without a journal or a prepared plan is an abandoned attempt.
    if (!journal) await layout.files.removeOrSetAside(layout.stagingDir, layout.stateDir);
  }
  await currentPointer(layout).repair(layout);
  await layout.files.sweepLeftovers(layout.stateDir);
  return result;
}

/** Runs recovery and the probation check. Never throws LOCKED: a busy install is left alone. */
export async function recover(layout: InstallLayout, options: RecoverOptions = {}): Promise<RecoveryReport> {
  // A launch must be counted, so it waits out a short holder (a `status` or `check` running now).
  const waitMs = options.launch ? (CONFIRM_LOCK.waitMs ?? 0) : 0;
  const report = await withOptionalLock(layout, options.lock, waitMs, async (lock) => {
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
  lock?: LockToken,
): Promise<{ from: string; to: string; reason: string }> {
  // Without the caller's lock (the helper), wait out a short operation such as a status check.
  return withLock(layout.lockFile, lock, { purpose: "rolling back", waitMs: 10_000 }, async (held) => {
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
    if (state.mode !== "in-place") await layout.files.removeOrSetAside(layout.versionDir(from), layout.stateDir);
    return { from, to, reason };
  });
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

/**
 * How a confirmation takes the lock: it waits a few seconds for a short operation (a status
 * check recovering, the helper) rather than fail, as an app confirms once when it starts.
 */
export const CONFIRM_LOCK: AcquireOptions = { purpose: "confirming", waitMs: 10_000 };

/** Marks the current version as working: ends probation, makes it known-good, prunes old versions. */
export async function confirm(
  layout: InstallLayout,
  lock?: LockToken,
): Promise<{ version: string | undefined; wasOnProbation: boolean }> {
  return withLock(layout.lockFile, lock, CONFIRM_LOCK, async () => {
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
  });
}

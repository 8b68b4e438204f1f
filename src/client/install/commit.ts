/**
 * The commit step both install engines share. An install has two phases, as Sparkle's installers
 * do: phase 1 stages the new files where the app does not look (each engine's own business, and
 * nothing to undo but the staging); phase 2, here, commits them:
 *
 * 1. journal the intent, with the new version's probation, durably, before anything the app uses
 *    changes;
 * 2. run the engine's switch, which ends at its commit point (versioned: `current` names the new
 *    folder; in-place: the journal says `swapped`);
 * 3. record the state (current, previous, probation);
 * 4. let the engine tidy up, and close the journal.
 *
 * Whatever interrupts phase 2, {@link settleCommit} finishes it from the journal: forward from
 * step 3 when the engine says its commit point was passed, else back through the engine's undo.
 * Both directions are idempotent, so a crash during recovery is recovered again.
 */
import { ErrorCodes, toUpdraftError } from "../../core/errors.js";
import { FaultSteps, faultPoint } from "../../core/fault.js";
import { type Journal, type JournalIntent, removeJournal, writeJournal } from "./journal.js";
import type { InstallLayout } from "./layout.js";
import { openProbation, type ProbationPolicy } from "./probation.js";
import { type InstallState, readState, updateState } from "./state.js";

/** The fault points of the shared steps, which the crash walk (src/core/fault.ts) names after the engine passing them. */
interface CommitFaultPoints {
  /** The journal is durable; nothing the app uses has changed yet. */
  journalWritten(): Promise<void>;
  /** The state records the new version; the journal is still open. */
  stateWritten(): Promise<void>;
  /** The journal is closed: the install is complete. */
  journalRemoved(): Promise<void>;
}

const FAULT_POINTS: Record<Journal["mode"], CommitFaultPoints> = {
  versioned: {
    journalWritten: () => faultPoint(FaultSteps.VERSIONED_JOURNAL_WRITTEN),
    stateWritten: () => faultPoint(FaultSteps.VERSIONED_STATE_WRITTEN),
    journalRemoved: () => faultPoint(FaultSteps.VERSIONED_JOURNAL_REMOVED),
  },
  "in-place": {
    journalWritten: () => faultPoint(FaultSteps.IN_PLACE_JOURNAL_WRITTEN),
    stateWritten: () => faultPoint(FaultSteps.IN_PLACE_STATE_WRITTEN),
    journalRemoved: () => faultPoint(FaultSteps.IN_PLACE_JOURNAL_REMOVED),
  },
};

/** What an install engine brings to the shared commit: how to tell, finish and undo its switch. */
export interface CommitEngine<J extends Journal> {
  /** Whether the switch of `journal` passed its commit point (read from disk, or from the journal itself). */
  isCommitted(layout: InstallLayout, journal: J): Promise<boolean>;
  /** Undoes a switch that did not reach its commit point, and its staging. Idempotent. */
  rollBack(layout: InstallLayout, journal: J): Promise<void>;
  /** Tidies up after a committed switch, once the state is recorded. Idempotent. */
  finish?(layout: InstallLayout, journal: J): Promise<void>;
}

/** How recovery ended an open transaction. */
export type Settlement = "rolled-forward" | "rolled-back";

/** The intent of an install from `from` to `to`: the shared fields of its journal, with its probation opened now. */
export function journalIntent(
  to: string,
  from: string | undefined,
  policy: ProbationPolicy | undefined,
): JournalIntent {
  const now = new Date();
  const probation = policy && openProbation(policy, to, from, now);
  return {
    schema: 1,
    to,
    ...(from ? { from } : {}),
    startedAt: now.toISOString(),
    ...(probation ? { probation } : {}),
  };
}

/**
 * Phase 2 of an install: journals `journal`, runs `switchOver` (the engine's switch, ending at its
 * commit point and returning the journal as it stands then), records the state and closes the
 * journal. A switch that throws is settled at once, forward or back as recovery would, and then
 * reported as INSTALL_FAILED in the context `failure` (e.g. "Switching to 1.2.0").
 */
export async function commitInstall<J extends Journal>(
  layout: InstallLayout,
  engine: CommitEngine<J>,
  journal: J,
  switchOver: () => Promise<J>,
  failure: string,
): Promise<void> {
  await writeJournal(layout, journal);
  await FAULT_POINTS[journal.mode].journalWritten();
  let committed: J;
  try {
    committed = await switchOver();
  } catch (err) {
    const failed = toUpdraftError(err, ErrorCodes.INSTALL_FAILED, failure);
    // An undo that fails too (the same file still held) leaves the journal open: the next run
    // finishes the undo. What the caller must hear about is the first failure.
    await settleCommit(layout, engine, journal).catch(() => {});
    throw failed;
  }
  await rollForward(layout, engine, committed);
}

/** Finishes or undoes the open transaction `journal` of `engine`: forward past its commit point, back before it. */
export async function settleCommit<J extends Journal>(
  layout: InstallLayout,
  engine: CommitEngine<J>,
  journal: J,
): Promise<Settlement> {
  if (await engine.isCommitted(layout, journal)) {
    await rollForward(layout, engine, journal);
    return "rolled-forward";
  }
  await engine.rollBack(layout, journal);
  await removeJournal(layout);
  return "rolled-back";
}

async function rollForward<J extends Journal>(layout: InstallLayout, engine: CommitEngine<J>, journal: J) {
  await recordState(layout, journal);
  await FAULT_POINTS[journal.mode].stateWritten();
  await engine.finish?.(layout, journal);
  await removeJournal(layout);
  await FAULT_POINTS[journal.mode].journalRemoved();
}

/**
 * Makes the state say what the journal committed; a repeat (after a crash) leaves a matching state
 * alone. A reinstall of the current version keeps `previous`: it is still the version to go back to.
 */
async function recordState(layout: InstallLayout, journal: Journal) {
  const state = await readState(layout);
  if (state.current === journal.to && state.probation?.version === journal.probation?.version) return;
  await updateState(layout, (s) => {
    const next: InstallState = { ...s, mode: journal.mode, current: journal.to, installedAt: new Date().toISOString() };
    if (journal.from !== undefined && journal.from !== journal.to) next.previous = journal.from;
    delete next.probation;
    if (journal.probation) next.probation = journal.probation;
    return next;
  });
}

/**
 * The fault steps the tests walk (see src/core/fault.ts), and the environment that stops a child
 * process at one. test/fault-steps.test.ts checks that these lists hold every step the code calls.
 */
import { type FaultStep, FaultSteps, inPlaceFileStep } from "../../src/core/fault.js";

/** Every step of the versioned install transaction, in order. */
export const VERSIONED_STEPS = [
  FaultSteps.VERSIONED_STAGED,
  FaultSteps.VERSIONED_JOURNAL_WRITTEN,
  FaultSteps.VERSIONED_FOLDER_IN_PLACE,
  FaultSteps.VERSIONED_POINTER_SWITCHED,
  FaultSteps.VERSIONED_STATE_WRITTEN,
  FaultSteps.VERSIONED_JOURNAL_REMOVED,
] as const satisfies readonly FaultStep[];

/** How many files the in-place crash walk's release replaces. */
export const IN_PLACE_WALK_FILES = 3;

/** Every step of the in-place install transaction for a release of {@link IN_PLACE_WALK_FILES} files, in order. */
export const IN_PLACE_STEPS: readonly FaultStep[] = [
  FaultSteps.IN_PLACE_PREPARED,
  FaultSteps.IN_PLACE_JOURNAL_WRITTEN,
  ...Array.from({ length: IN_PLACE_WALK_FILES }, (_, i) => [
    inPlaceFileStep("backup", i + 1),
    inPlaceFileStep("swap", i + 1),
  ]).flat(),
  FaultSteps.IN_PLACE_SWAPPED,
  FaultSteps.IN_PLACE_STATE_WRITTEN,
  FaultSteps.IN_PLACE_JOURNAL_REMOVED,
];

/** Every step of a download. */
export const DOWNLOAD_STEPS = [FaultSteps.DOWNLOAD_FIRST_BYTES] as const satisfies readonly FaultStep[];

/** The lock's steps: a process waiting for a lock another one holds. */
export const LOCK_STEPS = [FaultSteps.LOCK_WAITING] as const satisfies readonly FaultStep[];

/** The step inside a file operation's retry: paused before trying a held file again. */
export const FILE_RETRY_STEPS = [FaultSteps.FILE_RETRY_WAITING] as const satisfies readonly FaultStep[];

/** Every step some test stops a process at. */
export const WALKED_STEPS: readonly FaultStep[] = [
  ...DOWNLOAD_STEPS,
  ...VERSIONED_STEPS,
  ...IN_PLACE_STEPS,
  ...LOCK_STEPS,
  ...FILE_RETRY_STEPS,
];

/** Environment that makes the child SIGKILL itself at `step`. */
export function killAt(step: FaultStep): { UPDRAFT_FAULT_STEP: FaultStep } {
  return { UPDRAFT_FAULT_STEP: step };
}

/** Environment that makes the child write `pauseFile` at `step` and wait until it is deleted. */
export function pauseAt(
  step: FaultStep,
  pauseFile: string,
): { UPDRAFT_PAUSE_STEP: FaultStep; UPDRAFT_PAUSE_FILE: string } {
  return { UPDRAFT_PAUSE_STEP: step, UPDRAFT_PAUSE_FILE: pauseFile };
}

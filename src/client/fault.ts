/**
 * Fault injection for the crash tests: when `UPDRAFT_FAULT_STEP` names a step, the process
 * SIGKILLs itself there, exactly like a power cut or a killed updater. Inert otherwise.
 */

/** Every step of the versioned install transaction, in order. */
export const VERSIONED_STEPS = [
  "versioned:staged",
  "versioned:journal-written",
  "versioned:folder-in-place",
  "versioned:pointer-switched",
  "versioned:state-written",
  "versioned:journal-removed",
] as const;

/** Every step of the in-place install transaction, in order (`swap-N` after the N-th file). */
export const IN_PLACE_STEPS = [
  "in-place:prepared",
  "in-place:journal-written",
  "in-place:backup-1",
  "in-place:swap-1",
  "in-place:backup-2",
  "in-place:swap-2",
  "in-place:swapped",
  "in-place:state-written",
  "in-place:journal-removed",
] as const;

/** Kills this process with SIGKILL if `UPDRAFT_FAULT_STEP` equals `step`. */
export function faultPoint(step: string): void {
  if (process.env.UPDRAFT_FAULT_STEP === step) process.kill(process.pid, "SIGKILL");
}

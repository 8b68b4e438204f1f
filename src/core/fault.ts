/**
 * Fault injection for the crash tests: when `UPDRAFT_FAULT_STEP` names a step, the process
 * SIGKILLs itself there, exactly like a power cut or a killed updater. When `UPDRAFT_PAUSE_STEP`
 * names a step, the process writes the file `UPDRAFT_PAUSE_FILE` there and waits until it is
 * deleted (so a test can start a second updater at a known moment). Inert otherwise.
 *
 * The tests keep the list of steps they walk (test/helpers/fault-steps.ts); a test checks that it
 * holds every step the code calls, so a new step comes with its crash test.
 */
import { writeFileSync } from "node:fs";
import { access } from "node:fs/promises";

/** The named steps, in the order an update passes them: download, versioned install, in-place install; and the lock. */
export const FaultSteps = {
  /** A download killed here has its first bytes in the `.part` file (its resume record must be there first). */
  DOWNLOAD_FIRST_BYTES: "download:first-bytes",
  VERSIONED_STAGED: "versioned:staged",
  VERSIONED_JOURNAL_WRITTEN: "versioned:journal-written",
  VERSIONED_FOLDER_IN_PLACE: "versioned:folder-in-place",
  VERSIONED_POINTER_SWITCHED: "versioned:pointer-switched",
  VERSIONED_STATE_WRITTEN: "versioned:state-written",
  VERSIONED_JOURNAL_REMOVED: "versioned:journal-removed",
  IN_PLACE_PREPARED: "in-place:prepared",
  IN_PLACE_JOURNAL_WRITTEN: "in-place:journal-written",
  /** After the per-file steps ({@link inPlaceFileStep}) of every file. */
  IN_PLACE_SWAPPED: "in-place:swapped",
  IN_PLACE_STATE_WRITTEN: "in-place:state-written",
  IN_PLACE_JOURNAL_REMOVED: "in-place:journal-removed",
  /** A file operation found its file held (Windows: antivirus, running program) and pauses before trying again. */
  FILE_RETRY_WAITING: "file:retry-waiting",
  /** A lock taken by another holder, each time before waiting for it again (only with `waitMs`). */
  LOCK_WAITING: "lock:waiting",
} as const;

/** What the in-place transaction does to each file, in order: move the old one to the backup, move the new one in. */
export const IN_PLACE_FILE_STEP_KINDS = ["backup", "swap"] as const;

/** A per-file step of the in-place transaction: its kind and the file's number, from 1 in the order files are replaced. */
export type InPlaceFileStep = `in-place:${(typeof IN_PLACE_FILE_STEP_KINDS)[number]}-${number}`;

/** A place where a test can stop an update: a named step or a per-file step. */
export type FaultStep = (typeof FaultSteps)[keyof typeof FaultSteps] | InPlaceFileStep;

/** The per-file step `kind` of the `n`-th file (from 1) the in-place transaction replaces. */
export function inPlaceFileStep(kind: (typeof IN_PLACE_FILE_STEP_KINDS)[number], n: number): InPlaceFileStep {
  return `in-place:${kind}-${n}`;
}

/** Kills this process with SIGKILL, or pauses it, if the environment names `step`. */
export async function faultPoint(step: FaultStep): Promise<void> {
  if (process.env.UPDRAFT_FAULT_STEP === step) process.kill(process.pid, "SIGKILL");
  const pauseFile = process.env.UPDRAFT_PAUSE_FILE;
  if (process.env.UPDRAFT_PAUSE_STEP === step && pauseFile) {
    writeFileSync(pauseFile, String(process.pid));
    // Bounded: a paused updater gives up waiting after 60 s.
    for (let i = 0; i < 600; i++) {
      try {
        await access(pauseFile);
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

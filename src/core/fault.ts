/**
 * Fault injection for the crash tests: when `UPDRAFT_FAULT_STEP` names a step, the process
 * SIGKILLs itself there, exactly like a power cut or a killed updater. When `UPDRAFT_PAUSE_STEP`
 * names a step, the process writes the file `UPDRAFT_PAUSE_FILE` there and waits until it is
 * deleted (so a test can start a second updater at a known moment). Inert otherwise.
 */
import { writeFileSync } from "node:fs";
import { access } from "node:fs/promises";

/** Every step of the versioned install transaction, in order. */
export const VERSIONED_STEPS = [
  "versioned:staged",
  "versioned:journal-written",
  "versioned:folder-in-place",
  "versioned:pointer-switched",
  "versioned:state-written",
  "versioned:journal-removed",
] as const;

/** A download killed here has its first bytes in the `.part` file (its resume record must be there first). */
export const DOWNLOAD_FIRST_BYTES = "download:first-bytes";

/** Every step of the in-place install transaction for a three-file release, in order. */
export const IN_PLACE_STEPS = [
  "in-place:prepared",
  "in-place:journal-written",
  "in-place:backup-1",
  "in-place:swap-1",
  "in-place:backup-2",
  "in-place:swap-2",
  "in-place:backup-3",
  "in-place:swap-3",
  "in-place:swapped",
  "in-place:state-written",
  "in-place:journal-removed",
] as const;

/** Kills this process with SIGKILL, or pauses it, if the environment names `step`. */
export async function faultPoint(step: string): Promise<void> {
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

/**
 * The install journal: the intent of an install, written durably (temp file, fsync, rename,
 * fsync folder) before anything the app uses changes, so that recovery after a crash knows
 * whether to roll forward or back.
 */
import { join } from "node:path";
import { readJsonIfExists, removePath, writeJsonAtomic } from "../core/fs.js";
import type { InstallLayout } from "./layout.js";

/** One file of an in-place transaction. */
export interface JournalFile {
  path: string;
  /** A file existed at `path` before the transaction (it is backed up before being replaced). */
  hadOriginal: boolean;
  /** The transaction removes this path rather than replacing it. */
  remove?: boolean;
}

/** A versioned install: a new version folder and a pointer switch. */
export interface VersionedJournal {
  schema: 1;
  mode: "versioned";
  to: string;
  from?: string;
  startedAt: string;
}

/** An in-place install: files swapped inside the app folder, originals kept in the backup. */
export interface InPlaceJournal {
  schema: 1;
  mode: "in-place";
  to: string;
  from?: string;
  /** `swapping` until every file is in place; `swapped` once the new set is complete. */
  phase: "swapping" | "swapped";
  files: JournalFile[];
  startedAt: string;
}

/** Any journal. */
export type Journal = VersionedJournal | InPlaceJournal;

/** Path of the journal file. */
export function journalFile(layout: InstallLayout): string {
  return join(layout.stateDir, "journal.json");
}

/** Writes the journal durably. */
export async function writeJournal(layout: InstallLayout, journal: Journal): Promise<void> {
  await writeJsonAtomic(journalFile(layout), journal);
}

/** Reads the journal, or undefined when no transaction is open. */
export async function readJournal(layout: InstallLayout): Promise<Journal | undefined> {
  let raw: unknown;
  try {
    raw = await readJsonIfExists(journalFile(layout));
  } catch {
    return undefined; // A torn journal cannot exist: it is only ever renamed into place whole.
  }
  const j = raw as Partial<Journal> | undefined;
  if (!j || typeof j.to !== "string" || (j.mode !== "versioned" && j.mode !== "in-place")) return undefined;
  return j as Journal;
}

/** Closes the transaction. */
export async function removeJournal(layout: InstallLayout): Promise<void> {
  await removePath(journalFile(layout));
}

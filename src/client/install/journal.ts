/**
 * The install journal: the intent of an install, written durably (temp file, fsync, rename,
 * fsync folder) before anything the app uses changes, so that recovery after a crash knows
 * whether to roll forward or back.
 */
import { join } from "node:path";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { assertSafeRelativePath, readLocalJson } from "../../core/fs.js";
import { isValidVersion } from "../../core/version.js";
import type { InstallLayout } from "./layout.js";
import { type Probation, parseProbation } from "./probation.js";

/** One file of an in-place transaction. */
export interface JournalFile {
  path: string;
  /** A file existed at `path` before the transaction (it is backed up before being replaced). */
  hadOriginal: boolean;
  /** The transaction removes this path rather than replacing it. */
  remove?: boolean;
}

/**
 * What every journal records, whichever engine wrote it: the intent of the install. Both engines
 * commit through the same protocol (see commit.ts); only their switch and its undo differ.
 */
export interface JournalIntent {
  schema: 1;
  /** The version the install switches to. */
  to: string;
  /** The version it replaces, when one was installed. */
  from?: string;
  startedAt: string;
  /** The new version's probation, opened when the journal is written so a crash keeps it. */
  probation?: Probation;
}

/** A versioned install: a new version folder and a pointer switch. */
export interface VersionedJournal extends JournalIntent {
  mode: "versioned";
}

/** An in-place install: files swapped inside the app folder, originals kept in the backup. */
export interface InPlaceJournal extends JournalIntent {
  mode: "in-place";
  /** `swapping` until every file is in place; `swapped` once the new set is complete. */
  phase: "swapping" | "swapped";
  files: JournalFile[];
}

/** Any journal. */
export type Journal = VersionedJournal | InPlaceJournal;

/** Path of the journal file. */
export function journalFile(layout: InstallLayout): string {
  return join(layout.stateDir, "journal.json");
}

/** Writes the journal durably. */
export async function writeJournal(layout: InstallLayout, journal: Journal): Promise<void> {
  await layout.files.writeJsonAtomic(journalFile(layout), journal);
}

/** Cap of the journal file: an in-place journal lists every file of a release. */
const JOURNAL_MAX_BYTES = 32 << 20;

function journalInvalid(why: string): never {
  throw new UpdraftError(ErrorCodes.INSTALL_FAILED, `The install journal is damaged: ${why}`, {
    hint: "An interrupted install cannot be finished safely; reinstall the app into a new folder.",
    internal: { damagedJournal: true },
  });
}

/**
 * Validates a parsed journal (untrusted input: it decides what recovery renames and deletes).
 * Versions must be versions and paths safe relative paths, or nothing is touched.
 */
export function parseJournal(raw: unknown): Journal | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) journalInvalid("not an object");
  const j = raw as Record<string, unknown>;
  const version = (v: unknown, field: string) =>
    typeof v === "string" && isValidVersion(v) ? v : journalInvalid(`"${field}" is not a version`);
  const to = version(j.to, "to");
  const from = j.from === undefined ? undefined : version(j.from, "from");
  const startedAt = typeof j.startedAt === "string" ? j.startedAt : new Date(0).toISOString();
  const probation = parseProbation(j.probation);
  const common: JournalIntent = {
    schema: 1 as const,
    to,
    ...(from !== undefined ? { from } : {}),
    startedAt,
    ...(probation && probation.version === to ? { probation } : {}),
  };
  if (j.mode === "versioned") return { ...common, mode: "versioned" };
  if (j.mode !== "in-place") journalInvalid(`unknown mode ${JSON.stringify(j.mode)}`);
  if (j.phase !== "swapping" && j.phase !== "swapped") journalInvalid(`unknown phase ${JSON.stringify(j.phase)}`);
  if (!Array.isArray(j.files)) journalInvalid('"files" is not a list');
  const files = j.files.map((f: unknown, i: number): JournalFile => {
    const o = (typeof f === "object" && f !== null ? f : {}) as Record<string, unknown>;
    if (typeof o.path !== "string") journalInvalid(`files[${i}] has no path`);
    try {
      assertSafeRelativePath(o.path, "journal path");
    } catch (err) {
      journalInvalid((err as Error).message);
    }
    return { path: o.path, hadOriginal: o.hadOriginal === true, ...(o.remove === true ? { remove: true } : {}) };
  });
  return { ...common, mode: "in-place", phase: j.phase, files };
}

/**
 * Reads the journal, or undefined when no transaction is open. A journal Updraft cannot have
 * written (it is only ever renamed into place whole) is moved aside to `journal.json.damaged`
 * and nothing it names is touched: the install goes on from the `current` pointer.
 */
export async function readJournal(layout: InstallLayout): Promise<Journal | undefined> {
  const file = journalFile(layout);
  try {
    let raw: unknown;
    try {
      raw = await readLocalJson(file, JOURNAL_MAX_BYTES, "the install journal");
    } catch (err) {
      if (err instanceof UpdraftError && err.code === ErrorCodes.MANIFEST_INVALID) journalInvalid("not JSON");
      throw err;
    }
    return parseJournal(raw);
  } catch (err) {
    if (!(err instanceof UpdraftError) || err.internal.damagedJournal !== true) throw err;
    await layout.files.remove(`${file}.damaged`);
    await layout.files.rename(file, `${file}.damaged`);
    process.emitWarning(`${err.message}; moved aside to ${file}.damaged`, { code: "UPDRAFT_JOURNAL_DAMAGED" });
    return undefined;
  }
}

/** Closes the transaction. */
export async function removeJournal(layout: InstallLayout): Promise<void> {
  await layout.files.remove(journalFile(layout));
}

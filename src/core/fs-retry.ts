/**
 * Trying a file operation again while another program holds its file: the Windows reality of an
 * antivirus or indexer scanning a new file, a backup tool, or a running program. Such a hold shows
 * as `EBUSY`, `EPERM` or `EACCES` (a folder with a held file in it: `ENOTEMPTY`); the operation is
 * tried again with a growing pause within a budget (10 s by default, `UPDRAFT_FILE_LOCK_BUDGET_MS`),
 * each pause reported, and then fails with `FILE_LOCKED`, naming the file and what usually holds it.
 * The one implementation: the install folder's file operations (client/install/fs-ops.ts) and the
 * atomic writes of fs.ts both use it.
 */
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { dirname } from "node:path";
import { ErrorCodes, UpdraftError } from "./errors.js";
import { FaultSteps, faultPoint } from "./fault.js";

/** One pause of a file operation that found its file held by another program (an Updater `file-busy` event). */
export interface FileBusy {
  /** What was being done: `rename`, `remove`, `replace`, `link`. */
  operation: string;
  /** The file or folder held. */
  path: string;
  /** What the system said (`EBUSY`, `EPERM`, `EACCES`, `ENOTEMPTY`). */
  errno: string;
  /** How many tries failed so far. */
  attempt: number;
  /** The pause before the next try (ms). */
  delayMs: number;
  /** What is left of the operation's budget after that pause (ms). */
  remainingMs: number;
}

/** Default budget of one operation: about what an antivirus scan of a new file takes. */
export const DEFAULT_FILE_LOCK_BUDGET_MS = 10_000;
/** Longest budget an option or the environment may set. */
export const MAX_FILE_LOCK_BUDGET_MS = 10 * 60_000;
/** The errnos with which Windows says "another program holds this file". */
const HELD_ERRNOS = new Set(["EBUSY", "EPERM", "EACCES", "ENOTEMPTY"]);
const FIRST_PAUSE_MS = 25;
const LONGEST_PAUSE_MS = 1_000;

/** The errno of a file system error, if it has one. */
export function errnoOf(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/** True when `errno` is how Windows says another program holds the file. */
export function isHeldErrno(errno: string | undefined): boolean {
  return errno !== undefined && HELD_ERRNOS.has(errno);
}

/** The budget of one operation: `UPDRAFT_FILE_LOCK_BUDGET_MS` (a whole number of ms), else the default. */
export function fileLockBudget(): number {
  const raw = process.env.UPDRAFT_FILE_LOCK_BUDGET_MS;
  if (raw === undefined || !/^\d{1,9}$/.test(raw)) return DEFAULT_FILE_LOCK_BUDGET_MS;
  return Math.min(Number(raw), MAX_FILE_LOCK_BUDGET_MS);
}

/** What usually holds `path`, for the message of `FILE_LOCKED`. */
export function usualHolder(path: string): string {
  if (/\.(exe|dll|com|scr|sys|ocx|node|so|dylib)$/i.test(path)) {
    return "the app (or its service) is still running from it, or an antivirus is scanning it";
  }
  return "an antivirus, indexer or backup tool is scanning it, or another program has it open";
}

/** The `FILE_LOCKED` error for `path`, held through a whole budget. */
export function fileLocked(operation: string, path: string, errno: string, waitedMs: number, cause: unknown) {
  return new UpdraftError(
    ErrorCodes.FILE_LOCKED,
    `Cannot ${operation} ${path}: the file is in use (${errno}, still after ${Math.round(waitedMs / 100) / 10} s); usually ${usualHolder(path)}`,
    {
      cause,
      hint: "Close the app (stop its service), wait for the scan to end, and run the update again; the previous version was kept.",
      details: { path, operation, errno },
    },
  );
}

/**
 * A permission problem looks like a lock (EACCES, EPERM): a folder the process may not write to
 * is not waited for, as no other program will let go of it.
 */
async function folderRefusesWrites(path: string): Promise<boolean> {
  try {
    await access(dirname(path), constants.W_OK);
    return false;
  } catch {
    return true;
  }
}

/** How long {@link retryWhileHeld} tries, and who hears of each pause. */
export interface RetryWhileHeldOptions {
  /** Budget of the whole operation (ms); default {@link fileLockBudget}. */
  budgetMs?: number;
  onBusy?: (busy: FileBusy) => void;
}

/** Runs `body` (an `operation` on `path`), again after a pause while the file is held; see the file comment. */
export async function retryWhileHeld<T>(
  operation: string,
  path: string,
  body: () => Promise<T>,
  options: RetryWhileHeldOptions = {},
): Promise<T> {
  const budgetMs = options.budgetMs ?? fileLockBudget();
  const started = Date.now();
  let pause = FIRST_PAUSE_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await body();
    } catch (err) {
      const errno = errnoOf(err);
      if (errno === undefined || !isHeldErrno(errno)) throw err;
      if ((errno === "EACCES" || errno === "EPERM") && (await folderRefusesWrites(path))) throw err;
      const waited = Date.now() - started;
      const remaining = budgetMs - waited;
      if (remaining <= 0) throw fileLocked(operation, path, errno, waited, err);
      const delayMs = Math.min(pause, remaining);
      options.onBusy?.({ operation, path, errno, attempt, delayMs, remainingMs: remaining - delayMs });
      await faultPoint(FaultSteps.FILE_RETRY_WAITING);
      await new Promise((r) => setTimeout(r, delayMs));
      pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
    }
  }
}

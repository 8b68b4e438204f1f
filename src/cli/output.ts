/**
 * How every CLI command reports: one JSON document on stdout with `--json` (whatever happens:
 * success, usage error, failure, interruption), readable lines on stderr otherwise, and a stable
 * exit status (see ExitCodes in src/core/errors.ts).
 *
 * SIGINT and SIGTERM abort the running command through an AbortSignal, so it unwinds cleanly
 * (locks released, partial downloads kept for resume). A command that does not stop within a
 * grace period, or a second signal, ends the process; Updraft's writes are crash-safe, so the next
 * run finishes or undoes what was started.
 */
import { ErrorCodes, ExitCodes, exitCodeFor, toUpdraftError, UpdraftError } from "../core/errors.js";

/** Options every command accepts. */
export interface CommonOptions {
  json?: boolean;
}

/** What a command body gets. */
export interface CommandContext {
  /** Aborted on SIGINT or SIGTERM: pass it to every operation that can be cancelled. */
  signal: AbortSignal;
}

/** What a command body returns. */
export interface CommandOutcome {
  result: Record<string, unknown>;
  human?: string;
  exitCode?: number;
}

/** How {@link runCommand} treats interruptions. */
export interface RunOptions {
  /**
   * Time a command has to unwind after the first signal before the process ends anyway
   * (default 5 s); `false` waits for it (a server finishing the downloads in progress).
   */
  graceMs?: number | false;
  /** Runs on every signal after the first, instead of ending the process at once. */
  onRepeatSignal?: () => void;
}

const INTERRUPTED = "interrupted: run the same command again to resume";
const DEFAULT_GRACE_MS = 5000;
const SIGNALS = ["SIGINT", "SIGTERM"] as const;

/** The state of this CLI process: one per process, since a process runs one command. */
const session = {
  json: false,
  reported: false,
  controller: new AbortController(),
  signalCount: 0,
  cleanups: new Set<() => void>(),
  run: undefined as RunOptions | undefined,
  grace: undefined as NodeJS.Timeout | undefined,
};

/** Sets JSON mode for errors found before a command runs (usage errors, signals). */
export function setJsonMode(json: boolean): void {
  session.json = json;
}

/** Registers something to stop before the final report (a progress bar); returns its removal. */
export function onReport(cleanup: () => void): () => void {
  session.cleanups.add(cleanup);
  return () => session.cleanups.delete(cleanup);
}

/** Prints a progress/info line for humans (stderr, so stdout stays clean for `--json`). */
export function info(opts: CommonOptions, line: string): void {
  if (!opts.json) process.stderr.write(`${line}\n`);
}

/** Prints the final success; only the first report of a process is printed. */
export function reportSuccess(json: boolean, outcome: CommandOutcome): void {
  if (session.reported) return;
  session.reported = true;
  stopCleanups();
  const { result, human, exitCode = ExitCodes.OK } = outcome;
  if (json) process.stdout.write(`${JSON.stringify({ ok: true, ...result })}\n`);
  else if (human) process.stdout.write(`${human}\n`);
  process.exitCode = exitCode;
}

/** Prints the final failure; only the first report of a process is printed. */
export function reportError(json: boolean, err: unknown): void {
  if (session.reported) return;
  session.reported = true;
  stopCleanups();
  const e = toUpdraftError(err);
  if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: e.toJSON() })}\n`);
  else if (e.code === ErrorCodes.ABORTED && session.signalCount > 0) {
    process.stderr.write(`updraft: ${INTERRUPTED}\n`);
  } else {
    process.stderr.write(`updraft: error [${e.code}]: ${e.message}\n`);
    if (e.hint) process.stderr.write(`  hint: ${e.hint}\n`);
    if (process.env.UPDRAFT_DEBUG && e.stack) process.stderr.write(`${e.stack}\n`);
  }
  process.exitCode = exitCodeFor(e.code);
}

function stopCleanups(): void {
  clearTimeout(session.grace);
  for (const cleanup of session.cleanups) cleanup();
  session.cleanups.clear();
}

function interruptedError(signal: string, cause?: unknown): UpdraftError {
  return new UpdraftError(ErrorCodes.ABORTED, `Interrupted by ${signal}`, {
    ...(cause === undefined ? {} : { cause }),
    hint: "Run the same command again to resume: nothing is lost.",
    details: { signal },
  });
}

function endNow(signal: string): never {
  reportError(session.json, interruptedError(signal));
  process.exit(exitCodeFor(ErrorCodes.ABORTED));
}

function onSignal(signal: NodeJS.Signals): void {
  session.signalCount++;
  if (session.signalCount > 1) {
    if (session.run?.onRepeatSignal) session.run.onRepeatSignal();
    else endNow(signal);
    return;
  }
  // Stop the bars first so that nothing draws over the last words.
  stopCleanups();
  if (!session.run) endNow(signal);
  session.controller.abort(interruptedError(signal));
  const grace = session.run.graceMs ?? DEFAULT_GRACE_MS;
  if (grace !== false) session.grace = setTimeout(() => endNow(signal), grace);
}

/** Catches SIGINT and SIGTERM for the whole process (call once, before parsing the command line). */
export function catchSignals(): void {
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

/** Runs a command body; prints its result or error and sets the exit status. */
export async function runCommand(
  opts: CommonOptions,
  body: (ctx: CommandContext) => Promise<CommandOutcome>,
  options: RunOptions = {},
): Promise<void> {
  const json = opts.json ?? session.json;
  session.json = json;
  session.run = options;
  const { signal } = session.controller;
  try {
    const outcome = await body({ signal });
    reportSuccess(json, outcome);
  } catch (err) {
    // Whatever a cancelled operation threw on its way out, the user interrupted it.
    const reason = signal.reason as UpdraftError | undefined;
    reportError(json, signal.aborted && reason ? interruptedError(String(reason.details?.signal), err) : err);
  }
}

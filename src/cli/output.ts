/**
 * How every CLI command reports: one JSON document on stdout with `--json`, readable lines on
 * stderr otherwise, and a stable exit status (see ExitCodes in src/core/errors.ts).
 */
import { ExitCodes, exitCodeFor, toUpdraftError } from "../core/errors.js";

/** Options every command accepts. */
export interface CommonOptions {
  json?: boolean;
}

/** Prints a progress/info line for humans (stderr, so stdout stays clean for `--json`). */
export function info(opts: CommonOptions, line: string): void {
  if (!opts.json) process.stderr.write(`${line}\n`);
}

/** Runs a command body; prints its result or error and sets the exit status. */
export async function runCommand(
  opts: CommonOptions,
  body: () => Promise<{ result: Record<string, unknown>; human?: string; exitCode?: number }>,
): Promise<void> {
  try {
    const { result, human, exitCode = ExitCodes.OK } = await body();
    if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, ...result })}\n`);
    else if (human) process.stdout.write(`${human}\n`);
    process.exitCode = exitCode;
  } catch (err) {
    const e = toUpdraftError(err);
    if (opts.json) process.stdout.write(`${JSON.stringify({ ok: false, error: e.toJSON() })}\n`);
    else {
      process.stderr.write(`updraft: error [${e.code}]: ${e.message}\n`);
      if (e.hint) process.stderr.write(`  hint: ${e.hint}\n`);
      if (process.env.UPDRAFT_DEBUG && e.stack) process.stderr.write(`${e.stack}\n`);
    }
    process.exitCode = exitCodeFor(e.code);
  }
}

/** Runs the built `updraft` CLI (or another command) as a real child process. */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";

/** Absolute path of the compiled `updraft` executable (the launcher that checks the Node version). */
export const CLI = fileURLToPath(new URL("../../src/cli/updraft.js", import.meta.url));

/** Result of one CLI run. */
export interface CliResult {
  code: number | null;
  /** The signal that ended the process, if one did. */
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A process in progress: its output so far, and its end. */
export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Options of a run. */
export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** The program to run instead of `node updraft` (then `args` are its own). */
  command?: string;
  /** Kill the process (SIGKILL) and fail if it runs longer than this: a hang fails the test. */
  limitMs?: number;
}

function spawnProcess(args: string[], options: RunOptions): RunningCli {
  const child = spawn(options.command ?? process.execPath, options.command ? args : [CLI, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    const timer =
      options.limitMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill("SIGKILL");
            reject(new Error(`${args.join(" ")} still ran after ${options.limitMs} ms: ${stderr}`));
          }, options.limitMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Runs `updraft ...args` (or `options.command ...args`) with the same Node that runs the tests, to the end. */
export async function runCli(args: string[], options: RunOptions & { input?: string } = {}): Promise<CliResult> {
  const run = spawnProcess(args, options);
  run.child.stdin.end(options.input ?? "");
  const { code, signal } = await run.exited;
  return { code, signal, stdout: run.stdout(), stderr: run.stderr() };
}

/** Starts `updraft ...args` (or `options.command ...args`) without waiting; killed when the test ends. */
export function startCli(t: TestContext, args: string[], options: RunOptions = {}): RunningCli {
  const run = spawnProcess(args, options);
  t.after(() => {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill("SIGKILL");
  });
  return run;
}

/** Parses the single JSON document a `--json` run prints. */
export function parseJson(result: CliResult): Record<string, unknown> {
  try {
    return JSON.parse(result.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(
      `CLI did not print JSON (exit ${result.code}).\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
    );
  }
}

/** Runs the built `updraft` CLI as a real child process. */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Absolute path of the compiled CLI entry. */
export const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

/** Result of one CLI run. */
export interface CliResult {
  code: number | null;
  /** The signal that ended the process, if one did. */
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link startCli} and {@link runCli}. */
export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** Kill the process (SIGKILL) and reject if it runs longer than this: a hang fails the test. */
  limitMs?: number;
}

/** A CLI process being run: the child (to signal it) and its outcome. */
export interface StartedCli {
  child: ChildProcess;
  result: Promise<CliResult>;
}

/** Starts `updraft ...args` with the same Node that runs the tests. */
export function startCli(args: string[], options: CliOptions = {}): StartedCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const result = new Promise<CliResult>((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const timer =
      options.limitMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill("SIGKILL");
            reject(new Error(`updraft ${args.join(" ")} still ran after ${options.limitMs} ms: ${stderr}`));
          }, options.limitMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  child.stdin!.end(options.input ?? "");
  return { child, result };
}

/** Runs `updraft ...args` with the same Node that runs the tests. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, options).result;
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

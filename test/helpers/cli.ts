/** Runs the built `updraft` CLI as a real child process. */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Absolute path of the compiled `updraft` executable (the launcher that checks the Node version). */
export const CLI = fileURLToPath(new URL("../../src/cli/updraft.js", import.meta.url));

/** Result of one CLI run. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `updraft ...args` with the same Node that runs the tests. */
export function runCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
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
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
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

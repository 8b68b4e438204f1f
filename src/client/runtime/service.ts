/**
 * Service mode (what SAAU did for Windows services): stop the service with the user's command,
 * swap the files, start it with the user's command; if the start command fails, put the old files
 * back and start the old version again.
 */
import { spawn } from "node:child_process";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";

/** The user's commands (shell command lines). */
export interface ServiceCommands {
  stop: string;
  start: string;
  /** Working folder of both commands. */
  cwd?: string;
  /** Most time each command may take (default 120 s). */
  timeoutMs?: number;
}

/** What happened to the service. */
export interface ServiceOutcome {
  stopped: boolean;
  /** `new`: the new version started; `previous`: the start failed and the old version runs again. */
  running: "new" | "previous" | "none";
}

/** Result of one shell command. */
export interface CommandRun {
  code: number | null;
  output: string;
}

/** Runs a shell command line, bounded by `timeoutMs`; keeps the last 2 kB of its output. */
export function runShell(command: string, cwd: string | undefined, timeoutMs: number): Promise<CommandRun> {
  const argv = process.platform === "win32" ? ["cmd.exe", "/d", "/s", "/c", command] : ["/bin/sh", "-c", command];
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd, stdio: ["ignore", "pipe", "pipe"], windowsHide: true });
    let output = "";
    const keep = (d: Buffer) => {
      output = (output + d.toString("utf8")).slice(-2048);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const timer = setTimeout(() => {
      output += `\n(killed after ${timeoutMs / 1000} s)`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ code: null, output: err.message });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output: output.trim() });
    });
  });
}

function describe(run: CommandRun): string {
  return `${run.code === null ? "did not finish" : `exited with ${run.code}`}${run.output ? `: ${run.output.split("\n").slice(-3).join(" | ")}` : ""}`;
}

/**
 * Stops the service, runs `swap`, starts the service. If the start fails, runs `undo` (which puts
 * the old files back) and starts the service again, then throws `SERVICE_FAILED`. If `swap` fails,
 * the old service is started again and the swap's error is thrown.
 */
export async function updateService<T>(
  commands: ServiceCommands,
  swap: () => Promise<T>,
  undo: () => Promise<unknown>,
): Promise<{ result: T; service: ServiceOutcome }> {
  const timeout = commands.timeoutMs ?? 120_000;
  const stop = await runShell(commands.stop, commands.cwd, timeout);
  if (stop.code !== 0) {
    throw new UpdraftError(ErrorCodes.SERVICE_FAILED, `The service's stop command ${describe(stop)}`, {
      hint: "Nothing was changed. Check the --service-stop command and try again.",
    });
  }
  let result: T;
  try {
    result = await swap();
  } catch (err) {
    await runShell(commands.start, commands.cwd, timeout);
    throw err;
  }
  const start = await runShell(commands.start, commands.cwd, timeout);
  if (start.code === 0) return { result, service: { stopped: true, running: "new" } };
  await runShell(commands.stop, commands.cwd, timeout);
  await undo();
  const again = await runShell(commands.start, commands.cwd, timeout);
  throw new UpdraftError(
    ErrorCodes.SERVICE_FAILED,
    `The new version's start command ${describe(start)}; the previous files were put back and ${again.code === 0 ? "the previous version started again" : `starting it ${describe(again)}`}`,
    {
      hint: "Check the new release (and the --service-start command); the failed version is not retried for a while.",
      details: { running: again.code === 0 ? "previous" : "none" },
    },
  );
}

/**
 * The restart helper: a detached copy of the `updraft` CLI that waits for the app's process to
 * exit and then starts the app again (the job SAAU's `usleep.exe` + script did), for apps in any
 * language.
 */
import { spawn } from "node:child_process";
import { openSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { processAlive } from "./lock.js";

/** Path of the CLI entry that runs the helper. */
export const CLI_ENTRY = fileURLToPath(new URL("../cli/main.js", import.meta.url));

/** What the helper runs once the app has exited. */
export interface RestartPlan {
  /** PID to wait for. */
  waitPid: number;
  /** Program and arguments to start. */
  command: string[];
  cwd: string;
  /** Extra environment for the restarted app. */
  env?: Record<string, string>;
  /** Where the helper and the restarted app write their output (appended). */
  logFile?: string;
}

/** Starts the detached helper and returns its PID. The caller should exit soon after. */
export async function spawnRestartHelper(plan: RestartPlan): Promise<number> {
  if (plan.command.length === 0) throw new UpdraftError(ErrorCodes.USAGE, "No command to restart the app with");
  let out: number | "ignore" = "ignore";
  if (plan.logFile) {
    await mkdir(join(plan.logFile, ".."), { recursive: true });
    out = openSync(plan.logFile, "a");
  }
  const child = spawn(
    process.execPath,
    [CLI_ENTRY, "helper", "--wait-pid", String(plan.waitPid), "--cwd", plan.cwd, "--", ...plan.command],
    {
      detached: true,
      stdio: ["ignore", out, out],
      env: { ...process.env, ...plan.env },
      windowsHide: true,
    },
  );
  child.unref();
  if (child.pid === undefined) throw new UpdraftError(ErrorCodes.INTERNAL, "Could not start the restart helper");
  return child.pid;
}

/** The helper's body: waits for `waitPid` to exit (up to `timeoutMs`), then starts the command detached. */
export async function runRestartHelper(plan: RestartPlan, timeoutMs = 10 * 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (processAlive(plan.waitPid)) {
    if (Date.now() > deadline) {
      throw new UpdraftError(ErrorCodes.INTERNAL, `Process ${plan.waitPid} did not exit within ${timeoutMs / 1000} s`, {
        hint: "Close the app; it was updated and will run the new version at its next start.",
      });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const [program, ...args] = plan.command;
  const child = spawn(program!, args, {
    cwd: plan.cwd,
    detached: true,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, ...plan.env },
    windowsHide: false,
  });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (err) =>
      reject(
        new UpdraftError(ErrorCodes.INTERNAL, `Could not restart the app (${program}): ${err.message}`, { cause: err }),
      ),
    );
  });
  child.unref();
  return child.pid!;
}

/**
 * The restart helper: a detached copy of the `updraft` CLI that waits for the app's process to
 * exit, applies a prepared in-place swap if there is one, starts the app again (the job SAAU's
 * `usleep.exe` + script did), and then watches the new version's probation: if it exits with an
 * error or does not confirm in time, the helper rolls back to the previous version and starts it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { openSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { processAlive } from "../core/lock.js";
import { applyPreparedInPlace } from "./inplace.js";
import { installLayout } from "./layout.js";
import { rollbackToPrevious } from "./recover.js";
import { readState, updateState } from "./state.js";

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
  /** Install folder whose new version's probation the helper watches after the restart. */
  watchDir?: string;
  /** App folder with a prepared in-place install to apply once the app has exited. */
  applyPrepared?: string;
}

/** Starts the detached helper and returns its PID. The caller should exit soon after. */
export async function spawnRestartHelper(plan: RestartPlan): Promise<number> {
  if (plan.command.length === 0) throw new UpdraftError(ErrorCodes.USAGE, "No command to restart the app with");
  let out: number | "ignore" = "ignore";
  if (plan.logFile) {
    await mkdir(join(plan.logFile, ".."), { recursive: true });
    out = openSync(plan.logFile, "a");
  }
  const args = [CLI_ENTRY, "helper", "--wait-pid", String(plan.waitPid), "--cwd", plan.cwd];
  if (plan.watchDir) args.push("--watch", plan.watchDir);
  if (plan.applyPrepared) args.push("--apply-prepared", plan.applyPrepared);
  const child = spawn(process.execPath, [...args, "--", ...plan.command], {
    detached: true,
    stdio: ["ignore", out, out],
    env: { ...process.env, ...plan.env },
    windowsHide: true,
  });
  child.unref();
  if (child.pid === undefined) throw new UpdraftError(ErrorCodes.INTERNAL, "Could not start the restart helper");
  return child.pid;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The exit status of apps the helper started, recorded from the moment they start. */
const exitCodes = new WeakMap<ChildProcess, number>();

function startApp(plan: RestartPlan): Promise<ChildProcess> {
  const [program, ...args] = plan.command;
  const child = spawn(program!, args, {
    cwd: plan.cwd,
    detached: true,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, ...plan.env },
  });
  child.once("exit", (code, sig) => exitCodes.set(child, code ?? (sig ? 128 : 0)));
  return new Promise((resolve, reject) => {
    child.once("spawn", () => resolve(child));
    child.once("error", (err) =>
      reject(
        new UpdraftError(ErrorCodes.INTERNAL, `Could not start the app (${program}): ${err.message}`, { cause: err }),
      ),
    );
  });
}

function log(line: string): void {
  process.stderr.write(`updraft helper: ${line}\n`);
}

/** Stops the app and everything it started (its process group on POSIX). */
async function stopApp(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (process.platform === "win32") child.kill(sig);
      else process.kill(-pid, sig);
    } catch {
      // already gone
    }
  };
  signal("SIGTERM");
  for (let i = 0; i < 30 && child.exitCode === null && child.signalCode === null; i++) await sleep(100);
  signal("SIGKILL");
}

/**
 * Watches the probation of the version the helper just started. Returns how it ended:
 * `confirmed`, `not-on-probation`, or `rolled-back`.
 */
export async function watchProbation(dir: string, child: ChildProcess, plan: RestartPlan): Promise<string> {
  const layout = installLayout(dir);
  const first = await readState(layout);
  const p = first.probation;
  if (!p || p.version !== first.current) return "not-on-probation";
  // The clock starts when the new version actually starts.
  const timeoutMs = Math.max(Date.parse(p.deadline) - Date.parse(p.since), 1000);
  const deadline = Date.now() + timeoutMs;
  await updateState(layout, (s) =>
    s.probation
      ? {
          ...s,
          probation: {
            ...s.probation,
            since: new Date().toISOString(),
            deadline: new Date(deadline).toISOString(),
            launches: s.probation.launches + 1,
          },
        }
      : s,
  );
  let reason: string | undefined;
  let restartPrevious = true;
  // Bounded: the loop ends at the deadline at the latest.
  while (Date.now() <= deadline + 500) {
    const state = await readState(layout);
    if (!state.probation || state.probation.version !== p.version) return "confirmed";
    const exitCode = exitCodes.get(child);
    if (exitCode !== undefined && exitCode !== 0) {
      reason = `${p.version} exited with code ${exitCode} before confirming it works`;
      break;
    }
    if (Date.now() > deadline) {
      const running = exitCodes.get(child) === undefined;
      reason = `${p.version} did not confirm it works within ${Math.round(timeoutMs / 1000)} s`;
      restartPrevious = running;
      if (running) await stopApp(child);
      break;
    }
    await sleep(100);
  }
  if (!reason) return "confirmed";
  const done = await rollbackToPrevious(layout, reason);
  log(`rolled back from ${done.from} to ${done.to}: ${reason}`);
  if (restartPrevious) {
    const again = await startApp(plan);
    again.unref();
    log(`restarted ${done.to} as PID ${again.pid}`);
  }
  return "rolled-back";
}

/** The helper's body: waits for `waitPid` to exit, swaps if asked, restarts, then watches probation. */
export async function runRestartHelper(plan: RestartPlan, timeoutMs = 10 * 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (processAlive(plan.waitPid)) {
    if (Date.now() > deadline) {
      throw new UpdraftError(ErrorCodes.INTERNAL, `Process ${plan.waitPid} did not exit within ${timeoutMs / 1000} s`, {
        hint: "Close the app; the update is applied at its next start.",
      });
    }
    await sleep(50);
  }
  if (plan.applyPrepared) {
    try {
      const outcome = await applyPreparedInPlace(installLayout(plan.applyPrepared), {
        probation: { timeoutMs: 60_000, maxLaunches: 3 },
      });
      if (outcome) log(`replaced the files of ${outcome.previous ?? "?"} with ${outcome.version}`);
    } catch (err) {
      log(`the update could not be applied, the previous version stays: ${(err as Error).message}`);
    }
  }
  const child = await startApp(plan);
  log(`restarted the app as PID ${child.pid}`);
  const watchDir = plan.watchDir ?? plan.applyPrepared;
  if (watchDir) {
    const outcome = await watchProbation(watchDir, child, plan);
    log(`probation: ${outcome}`);
  }
  child.unref();
  return child.pid!;
}

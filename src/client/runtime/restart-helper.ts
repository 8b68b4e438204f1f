/**
 * The restart helper: a detached Node process (its own entry point, ./helper-main.ts) that waits
 * for the app's process to exit, applies a prepared in-place swap if there is one, starts the app
 * again (the job SAAU's `usleep.exe` + script did), and then watches the new version's probation:
 * if it exits with an error or does not confirm in time, the helper rolls back to the previous
 * version and starts it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { ensureDir } from "../../core/fs.js";
import { processAlive } from "../../core/lock.js";
import type { HealthReport } from "../../formats/health-report.js";
import { applyPreparedInPlace } from "../install/in-place.js";
import { installLayout } from "../install/layout.js";
import {
  DEFAULT_HEALTH_TIMEOUT_MS,
  DEFAULT_MAX_LAUNCHES,
  healthOf,
  launched,
  launchWindowMs,
  type ProbationPolicy,
} from "../install/probation.js";
import { confirm, rollbackToPrevious } from "../install/recover.js";
import { readState, updateState } from "../install/state.js";
import {
  healthReportOf,
  type OutcomeFacts,
  reportTargetOf,
  rollbackReasonOf,
  sendHealthReport,
} from "./health-report.js";
import { type HelperJob, serializeHelperJob } from "./helper-job.js";

/** Path of the helper's entry point, started with this process's Node. */
export const HELPER_ENTRY = fileURLToPath(new URL("./helper-main.js", import.meta.url));

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
    await ensureDir(join(plan.logFile, ".."));
    out = openSync(plan.logFile, "a");
  }
  // Absolute paths: the job document must not depend on the folder the helper starts in.
  const job: HelperJob = {
    job: "restart",
    waitPid: plan.waitPid,
    command: plan.command,
    cwd: resolve(plan.cwd),
    ...(plan.watchDir ? { watchDir: resolve(plan.watchDir) } : {}),
    ...(plan.applyPrepared ? { applyPrepared: resolve(plan.applyPrepared) } : {}),
  };
  // The extra environment goes through the helper's own environment, not its command line
  // (which other users can read); the restarted app inherits it.
  try {
    return spawnDetachedHelper(job, out, plan.env);
  } finally {
    // The helper has its own copy of the descriptor; this process (a long-running app) keeps none.
    if (out !== "ignore") closeSync(out);
  }
}

/** Starts the helper detached from this process (it outlives it) and returns its PID. */
function spawnDetachedHelper(job: HelperJob, out: number | "ignore", env?: Record<string, string>): number {
  const child = spawn(process.execPath, [HELPER_ENTRY, serializeHelperJob(job)], {
    detached: true,
    stdio: ["ignore", out, out],
    env: { ...process.env, ...env },
    windowsHide: true,
  });
  child.unref();
  if (child.pid === undefined) {
    throw new UpdraftError(ErrorCodes.INSTALL_FAILED, "Could not start the detached helper", {
      hint: "The system refused a new process: check its limits and try again.",
    });
  }
  return child.pid;
}

/**
 * Sends `report` to `url` from a detached helper process and returns at once: the caller (an
 * update in progress, a CLI about to exit) never waits for the report URL. Never throws: a report
 * that cannot be sent is dropped.
 */
export function spawnHealthReporter(url: string, report: HealthReport): void {
  try {
    spawnDetachedHelper({ job: "report", url, report }, "ignore");
  } catch {
    // Dropped: a report is never worth a failure.
  }
}

/**
 * Sends the report of `facts` about `facts.to` if that version names a report URL, waiting at
 * most the report timeout: for the helper, which runs apart from any update. Never throws.
 */
async function reportFromHelper(dir: string, facts: OutcomeFacts): Promise<void> {
  const layout = installLayout(dir);
  const target = await reportTargetOf(layout, facts.to);
  const report = target === undefined ? undefined : await healthReportOf(layout, target.app, facts);
  if (target !== undefined && report !== undefined) await sendHealthReport(target.url, report);
}

/**
 * For apps that count their launch with the CLI (`updraft recover --launch`): a detached watcher
 * that confirms the version on an `uptime:N` probation once the app (process `pid`, which ran the
 * command) has lived N seconds. If the app ends first, nothing is confirmed: the launch budget judges it.
 */
export function spawnUptimeWatcher(dir: string, pid: number): number {
  return spawnDetachedHelper({ job: "watch-uptime", dir: resolve(dir), pid }, "ignore");
}

/** The body of {@link spawnUptimeWatcher}: bounded by the policy's uptime. */
export async function watchUptime(dir: string, pid: number): Promise<"confirmed" | "exited" | "not-on-probation"> {
  const layout = installLayout(dir);
  const first = await readState(layout);
  const p = first.probation;
  if (!p || p.version !== first.current || healthOf(p).kind !== "uptime") return "not-on-probation";
  const until = Date.now() + launchWindowMs(p);
  while (Date.now() < until) {
    if (!processAlive(pid)) return "exited";
    const state = await readState(layout);
    if (state.probation?.version !== p.version) return "confirmed";
    await sleep(Math.min(250, Math.max(1, until - Date.now())));
  }
  if (!processAlive(pid)) return "exited";
  const state = await readState(layout);
  if (state.probation?.version === p.version) {
    await confirm(layout);
    await reportFromHelper(dir, { event: "confirmed", to: p.version });
  }
  return "confirmed";
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Probation of an in-place (SAAU-style) swap the helper applies: those apps confirm by running
 * their next `updraft check` or `update`, as the README's migration section says.
 */
const LEGACY_PROBATION: ProbationPolicy = {
  health: { kind: "confirm" },
  timeoutMs: DEFAULT_HEALTH_TIMEOUT_MS,
  maxLaunches: DEFAULT_MAX_LAUNCHES,
};

/** An app the helper started, as far as the helper can see it. */
interface WatchedApp {
  child: ChildProcess;
  /** Exit status, once it exited (a signal counts as 128). */
  exitCode: number | undefined;
}

function startApp(plan: RestartPlan): Promise<WatchedApp> {
  const [program, ...args] = plan.command;
  const child = spawn(program!, args, {
    cwd: plan.cwd,
    detached: true,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, ...plan.env },
  });
  const app: WatchedApp = { child, exitCode: undefined };
  child.once("exit", (code, sig) => {
    app.exitCode = code ?? (sig ? 128 : 0);
  });
  return new Promise((resolve, reject) => {
    child.once("spawn", () => resolve(app));
    child.once("error", (err) =>
      reject(
        new UpdraftError(ErrorCodes.INSTALL_FAILED, `Could not start the app (${program}): ${err.message}`, {
          cause: err,
          hint: "Check the --restart command: the program must exist and be executable.",
        }),
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
 * Watches the probation of the version the helper just started, from this launch on. Under
 * `uptime:N` the helper confirms it once it has run N seconds or exited 0; under `confirm` it
 * waits for the app's own confirmation until the health timeout. Either way an exit with an error
 * first, or a timeout under `confirm`, rolls back and starts the previous version. Returns how it
 * ended: `confirmed`, `not-on-probation`, `exited` (judged later) or `rolled-back`.
 */
export async function watchProbation(dir: string, app: WatchedApp, plan: RestartPlan): Promise<string> {
  const layout = installLayout(dir);
  const first = await readState(layout);
  const p = first.probation;
  if (!p || p.version !== first.current) return "not-on-probation";
  const launchedNow = launched(p, new Date());
  await updateState(layout, (s) => (s.probation?.version === p.version ? { ...s, probation: launchedNow } : s));
  const health = healthOf(p);
  const windowMs = launchWindowMs(p);
  const until = Date.now() + windowMs;
  let reason: string | undefined;
  // Bounded: the loop ends at `until` at the latest.
  for (;;) {
    const state = await readState(layout);
    if (!state.probation || state.probation.version !== p.version) return "confirmed";
    const code = app.exitCode;
    if (code !== undefined && code !== 0) {
      reason = `${p.version} exited with code ${code} before proving it works`;
      break;
    }
    if (code === 0) {
      if (health.kind !== "uptime") return "exited";
      await confirm(layout);
      await reportFromHelper(dir, { event: "confirmed", to: p.version });
      return "confirmed";
    }
    if (Date.now() >= until) {
      if (health.kind === "uptime") {
        await confirm(layout);
        await reportFromHelper(dir, { event: "confirmed", to: p.version });
        return "confirmed";
      }
      reason = `${p.version} did not confirm it works within ${Math.round(windowMs / 1000)} s`;
      await stopApp(app.child);
      break;
    }
    await sleep(Math.min(100, Math.max(1, until - Date.now())));
  }
  const done = await rollbackToPrevious(layout, reason);
  log(`rolled back from ${done.from} to ${done.to}: ${reason}`);
  const again = await startApp(plan);
  again.child.unref();
  log(`restarted ${done.to} as PID ${again.child.pid}`);
  await reportFromHelper(dir, {
    event: "rolled-back",
    from: done.to,
    to: done.from,
    reason: rollbackReasonOf(reason),
  });
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
        probation: LEGACY_PROBATION,
      });
      if (outcome) log(`replaced the files of ${outcome.previous ?? "?"} with ${outcome.version}`);
    } catch (err) {
      log(`the update could not be applied, the previous version stays: ${(err as Error).message}`);
    }
  }
  const app = await startApp(plan);
  log(`restarted the app as PID ${app.child.pid}`);
  const watchDir = plan.watchDir ?? plan.applyPrepared;
  if (watchDir) {
    const outcome = await watchProbation(watchDir, app, plan);
    log(`probation: ${outcome}`);
  }
  app.child.unref();
  return app.child.pid!;
}

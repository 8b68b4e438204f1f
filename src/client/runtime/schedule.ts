/**
 * Periodic checks for long-running apps: an interval with a floor (1 hour by default, so a fleet
 * never hammers a repository), random jitter on every delay, and delays counted from when the
 * process started checking, never from the wall clock (no "every hour on the hour" stampede).
 */
import { ErrorCodes, UpdraftError } from "../../core/errors.js";

/** Default and minimum interval between automatic checks: 1 hour. */
export const DEFAULT_MIN_INTERVAL_MS = 60 * 60 * 1000;

/** Default jitter: each delay is the interval ± 20 %. */
export const DEFAULT_JITTER = 0.2;

/** Options of {@link scheduleJittered}. */
export interface ScheduleOptions {
  /** Wanted interval (ms). Raised to `minimumIntervalMs` when lower. */
  intervalMs: number;
  /** Floor of the interval (ms). Default 1 hour; tests and special deployments may lower it explicitly. */
  minimumIntervalMs?: number;
  /** Fraction of the interval each delay varies by, 0–0.5 (default 0.2). */
  jitter?: number;
  /** Delay before the first run (ms); default a random point within the first `jitter · interval`. */
  firstDelayMs?: number;
  /** Source of randomness in [0, 1) (default `Math.random`). */
  random?: () => number;
  /** Keep the process alive while waiting (default false: the app decides when it exits). */
  keepAlive?: boolean;
}

/** The interval actually used: the wanted one, raised to the floor. */
export function effectiveInterval(intervalMs: number, minimumIntervalMs: number = DEFAULT_MIN_INTERVAL_MS): number {
  if (!Number.isFinite(intervalMs) || intervalMs <= 0 || !Number.isFinite(minimumIntervalMs) || minimumIntervalMs < 0) {
    throw new UpdraftError(
      ErrorCodes.USAGE,
      `Invalid check interval ${intervalMs} ms (floor ${minimumIntervalMs} ms)`,
      {
        hint: "Give a positive interval in milliseconds, e.g. 6 * 3600_000 for six hours.",
      },
    );
  }
  return Math.max(intervalMs, minimumIntervalMs);
}

/** One delay: `interval · (1 + jitter · u)` with `u` uniform in [-1, 1). */
export function jitteredDelay(intervalMs: number, jitter: number, random: () => number = Math.random): number {
  const j = Math.min(Math.max(jitter, 0), 0.5);
  return Math.max(1, Math.round(intervalMs * (1 + j * (2 * random() - 1))));
}

/**
 * Runs `task` again and again: first after `firstDelayMs`, then after a jittered interval counted
 * from the end of the previous run (runs never overlap). `task` must not throw (catch inside).
 * Returns the function that stops it; a run in progress finishes, no new one starts.
 */
export function scheduleJittered(options: ScheduleOptions, task: () => Promise<void>): () => void {
  const interval = effectiveInterval(options.intervalMs, options.minimumIntervalMs);
  const jitter = options.jitter ?? DEFAULT_JITTER;
  const random = options.random ?? Math.random;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const plan = (delay: number) => {
    if (stopped) return;
    timer = setTimeout(async () => {
      if (stopped) return;
      try {
        await task();
      } finally {
        plan(jitteredDelay(interval, jitter, random));
      }
    }, delay);
    if (!options.keepAlive) timer.unref?.();
  };
  plan(options.firstDelayMs ?? Math.round(interval * Math.min(Math.max(jitter, 0), 0.5) * random()));
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

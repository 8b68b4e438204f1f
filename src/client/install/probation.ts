/**
 * Probation: how a freshly installed version proves it works. What it is (the release's health
 * policy with the updater's limits), how it is stored (`state.json` and the install journal, so a
 * crash mid-install keeps it), and how it moves: opened at install time with no clock running,
 * started by a launch (the helper's restart, or `recover({ launch: true })`), judged by its policy.
 * Pure functions: no I/O here; recover.ts and helper.ts read and write the state.
 */
import { isJsonObject } from "../../core/json.js";
import { isValidVersion } from "../../core/version.js";
import { formatHealthPolicy, type HealthPolicy, parseHealthPolicy } from "../../formats/native.js";

/** Time a `confirm`-policy version has from its launch to call `confirm()`: 60 s. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 60_000;
/** Launches a version on probation may make without proving it works: 3. */
export const DEFAULT_MAX_LAUNCHES = 3;
/** Bounds of the updater's probation settings (validated before anything is installed). */
export const HEALTH_TIMEOUT_RANGE_MS = { min: 1_000, max: 24 * 60 * 60 * 1000 } as const;
export const MAX_LAUNCHES_RANGE = { min: 1, max: 100 } as const;

/** How the new version of an install is judged: the release's policy with the updater's limits. */
export interface ProbationPolicy {
  health: HealthPolicy;
  /** `confirm` policy: time from the launch to the confirmation (ms). */
  timeoutMs: number;
  /** Launches allowed without proving it works. */
  maxLaunches: number;
}

/** A new version that has not yet proved it works. */
export interface Probation {
  /** The version on probation. */
  version: string;
  /** The version to go back to if this one fails. */
  previous?: string;
  /** The health policy, in its text form (`confirm`, `uptime:10`). */
  health: string;
  /** `confirm` policy: time from the launch to the confirmation (ms). */
  timeoutMs: number;
  /** When the version was installed (ISO 8601 date-time, UTC). */
  since: string;
  /** When it was first launched (ISO 8601 date-time, UTC); no clock runs before. */
  launchedAt?: string;
  /** Set at the first launch (ISO 8601 date-time, UTC): `confirm` must come by then; `uptime` is proved by then. */
  deadline?: string;
  /** Launches counted so far. */
  launches: number;
  /** The most launches allowed without proving it works. */
  maxLaunches: number;
}

/** The probation of a new install, or undefined when there is none (first install, reinstall, policy `none`). */
export function openProbation(
  policy: ProbationPolicy,
  version: string,
  previous: string | undefined,
  now: Date,
): Probation | undefined {
  if (policy.health.kind === "none" || previous === undefined || previous === version) return undefined;
  return {
    version,
    previous,
    health: formatHealthPolicy(policy.health),
    timeoutMs: policy.timeoutMs,
    since: now.toISOString(),
    launches: 0,
    maxLaunches: policy.maxLaunches,
  };
}

/** The policy of a stored probation (stored text is validated by {@link parseProbation}). */
export function healthOf(probation: Probation): HealthPolicy {
  return parseHealthPolicy(probation.health) ?? { kind: "confirm" };
}

/** Milliseconds from a launch to the deadline: the uptime to reach, or the time to confirm. */
export function launchWindowMs(probation: Probation): number {
  const health = healthOf(probation);
  return health.kind === "uptime" ? health.seconds * 1000 : probation.timeoutMs;
}

/** The probation after one more launch at `now`; the first launch starts the clock. */
export function launched(probation: Probation, now: Date): Probation {
  const first = probation.launchedAt === undefined;
  return {
    ...probation,
    launches: probation.launches + 1,
    ...(first
      ? {
          launchedAt: now.toISOString(),
          deadline: new Date(now.getTime() + launchWindowMs(probation)).toISOString(),
        }
      : {}),
  };
}

/**
 * Why the version must be rolled back, judged without watching it run (at any later entry
 * point), or undefined. Too many launches fail every policy; a passed deadline fails `confirm`
 * only: under `uptime` a passed deadline says nothing without seeing the process (the helper
 * and the library's launch timer watch it and confirm).
 */
export function verdict(probation: Probation, now: Date): string | undefined {
  if (probation.launches > probation.maxLaunches) {
    return `it started ${probation.launches} times without proving it works`;
  }
  const deadline = probation.deadline === undefined ? Number.NaN : Date.parse(probation.deadline);
  if (healthOf(probation).kind === "confirm" && now.getTime() > deadline) {
    return `it did not confirm it works by ${probation.deadline}`;
  }
  return undefined;
}

function isDate(v: unknown): v is string {
  return typeof v === "string" && v.length <= 40 && Number.isFinite(Date.parse(v));
}

function intIn(v: unknown, range: { min: number; max: number }): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= range.min && v <= range.max;
}

/**
 * Reads a stored probation (state file or journal: untrusted), or undefined when it is not
 * usable. Probations written before health policies existed are read as `confirm`, not started.
 */
export function parseProbation(raw: unknown): Probation | undefined {
  if (!isJsonObject(raw) || typeof raw.version !== "string" || !isValidVersion(raw.version)) return undefined;
  if (raw.previous !== undefined && (typeof raw.previous !== "string" || !isValidVersion(raw.previous))) {
    return undefined;
  }
  const health = typeof raw.health === "string" && parseHealthPolicy(raw.health) ? raw.health : "confirm";
  const launchedAt = isDate(raw.launchedAt) ? raw.launchedAt : undefined;
  return {
    version: raw.version,
    ...(typeof raw.previous === "string" ? { previous: raw.previous } : {}),
    health,
    timeoutMs: intIn(raw.timeoutMs, HEALTH_TIMEOUT_RANGE_MS) ? raw.timeoutMs : DEFAULT_HEALTH_TIMEOUT_MS,
    since: isDate(raw.since) ? raw.since : new Date(0).toISOString(),
    ...(launchedAt !== undefined ? { launchedAt } : {}),
    ...(launchedAt !== undefined && isDate(raw.deadline) ? { deadline: raw.deadline } : {}),
    launches: intIn(raw.launches, { min: 0, max: 1_000_000 }) ? raw.launches : 0,
    maxLaunches: intIn(raw.maxLaunches, MAX_LAUNCHES_RANGE) ? raw.maxLaunches : DEFAULT_MAX_LAUNCHES,
  };
}

/**
 * Health reports: the one small anonymous JSON document an install sends per update outcome to the
 * release's `reportUrl` (opt-in by the publisher, `publish --report-url`). Parsed here for both
 * sides: the client builds it, `updraft serve --events` validates what arrives.
 */
import { isJsonObject } from "../core/json.js";
import { isValidVersion } from "../core/version.js";

/** Schema number of a health report. */
export const HEALTH_REPORT_SCHEMA = 1;
/** Largest report body a server accepts, in bytes (a real one is about 300). */
export const MAX_HEALTH_REPORT_BYTES = 2048;

/** What happened to the install. */
export const HEALTH_OUTCOMES = ["installed", "confirmed", "rolled-back", "failed"] as const;
/** One of {@link HEALTH_OUTCOMES}. */
export type HealthOutcome = (typeof HEALTH_OUTCOMES)[number];

/**
 * Why a new version was rolled back:
 * - `crashed`: it exited with an error before proving it works;
 * - `not-confirmed`: it did not confirm within its health timeout;
 * - `too-many-launches`: it kept starting without proving it works;
 * - `by-user`: someone asked for the rollback (`updraft rollback`).
 */
export const ROLLBACK_REASONS = ["crashed", "not-confirmed", "too-many-launches", "by-user"] as const;
/** One of {@link ROLLBACK_REASONS}. */
export type RollbackReason = (typeof ROLLBACK_REASONS)[number];

/** One outcome of one install, as sent to a release's report URL. Nothing in it names the machine or its user. */
export interface HealthReport {
  /** {@link HEALTH_REPORT_SCHEMA}. */
  schema: typeof HEALTH_REPORT_SCHEMA;
  app: string;
  event: HealthOutcome;
  /** The version updated from (absent on a first install). */
  from?: string;
  /** The version the outcome is about: the one installed, confirmed, rolled back or failed. */
  to: string;
  /** Node's `os-arch` of the install (`linux-x64`). */
  platform: string;
  /** The artifact installed (`full`, `delta-files`, `delta-tree`), for `installed`. */
  artifact?: string;
  /** Bytes downloaded for the update, for `installed`. */
  bytes?: number;
  /** Seconds the update took, for `installed`. */
  seconds?: number;
  /** For `rolled-back`: a {@link RollbackReason}; for `failed`: the error code (`ARCHIVE_INVALID`). */
  reason?: string;
  /** A random id made by the install for its reports only (UUID v4): never derived from the machine. */
  installId: string;
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const PLATFORM = /^[a-z0-9]{1,16}-[a-z0-9]{1,16}$|^any$/;
const ARTIFACT = /^[a-z][a-z-]{0,31}$/;
const ERROR_CODE = /^[A-Z][A-Z_]{1,39}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** Largest byte count and duration a report may state (1 TB, 30 days). */
const MAX_BYTES = 1e12;
const MAX_SECONDS = 30 * 24 * 3600;

function isVersion(v: unknown): v is string {
  return typeof v === "string" && v.length <= 64 && isValidVersion(v);
}

function isAmount(v: unknown, max: number): v is number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= max;
}

/**
 * Checks an untrusted value against the report's shape; returns the report (only its known
 * fields) or a sentence saying what is wrong.
 */
export function parseHealthReport(value: unknown): HealthReport | string {
  if (!isJsonObject(value)) return "a report is a JSON object";
  const { schema, app, event, from, to, platform, artifact, bytes, seconds, reason, installId } = value;
  if (schema !== HEALTH_REPORT_SCHEMA) return `schema must be ${HEALTH_REPORT_SCHEMA}`;
  if (typeof app !== "string" || !NAME.test(app)) return "app must be an app name";
  if (typeof event !== "string" || !(HEALTH_OUTCOMES as readonly string[]).includes(event)) {
    return `event must be one of ${HEALTH_OUTCOMES.join(", ")}`;
  }
  if (from !== undefined && !isVersion(from)) return "from must be a version";
  if (!isVersion(to)) return "to must be a version";
  if (typeof platform !== "string" || !PLATFORM.test(platform)) return "platform must be os-arch";
  if (artifact !== undefined && (typeof artifact !== "string" || !ARTIFACT.test(artifact))) {
    return "artifact must be an artifact kind";
  }
  if (bytes !== undefined && !(isAmount(bytes, MAX_BYTES) && Number.isInteger(bytes))) return "bytes out of range";
  if (seconds !== undefined && !isAmount(seconds, MAX_SECONDS)) return "seconds out of range";
  if (event === "rolled-back" && !(ROLLBACK_REASONS as readonly unknown[]).includes(reason)) {
    return `a rolled-back report's reason must be one of ${ROLLBACK_REASONS.join(", ")}`;
  }
  if (event === "failed" && (typeof reason !== "string" || !ERROR_CODE.test(reason))) {
    return "a failed report's reason must be an error code";
  }
  if (reason !== undefined && event !== "rolled-back" && event !== "failed") return "only failures have a reason";
  if (typeof installId !== "string" || !UUID.test(installId)) return "installId must be a random UUID";
  return {
    schema: HEALTH_REPORT_SCHEMA,
    app,
    event: event as HealthOutcome,
    ...(from !== undefined ? { from } : {}),
    to,
    platform,
    ...(artifact !== undefined ? { artifact } : {}),
    ...(bytes !== undefined ? { bytes } : {}),
    ...(seconds !== undefined ? { seconds } : {}),
    ...(reason !== undefined ? { reason: reason as string } : {}),
    installId,
  };
}

/**
 * The failed-version back-off (SAAU's putVersion/HitVersion): every install attempt is recorded
 * before it starts; a version that failed blocks itself for the window (2 hours by default), so a
 * broken release is not retried in a loop. A newer version is tried at once.
 *
 * What may ban a version: only the release itself, verified, failing to install (its archive or
 * files break the signed manifest, a delta that cannot produce it, a service that does not start
 * with it, a label that breaks its format) or to start (probation, see recover.ts). Never a
 * user's interruption (SIGINT, SIGTERM, a killed process: its attempt stays `pending`, which
 * blocks nothing), nor the network or the mirror (transport errors, bytes that do not match
 * their signed hash), nor the machine (permissions, locked files, a full disk).
 */
import { bansRelease, UpdraftError } from "../../core/errors.js";
import type { InstallLayout } from "./layout.js";
import { readState, updateState } from "./state.js";

/** Default back-off window: 2 hours. */
export const DEFAULT_BACKOFF_MS = 2 * 60 * 60 * 1000;

/** Why a version is skipped, and until when. */
export interface Skipped {
  /** The version held back. */
  version: string;
  /** Why its last attempt failed. */
  reason: string;
  /** When it may be tried again (ISO 8601). */
  retryAfter: string;
}

/** Records that an install of `version` starts now (putVersion). */
export async function recordAttempt(layout: InstallLayout, version: string, now = new Date()): Promise<void> {
  await updateState(layout, (s) => ({
    ...s,
    attempts: { ...s.attempts, [version]: { at: now.toISOString(), outcome: "pending" } },
  }));
}

/**
 * True when `err` says the release itself failed to install, so the version may be banned: its
 * code's `bansRelease` in the error table (see the file comment).
 */
export function isReleaseFault(err: unknown): boolean {
  return err instanceof UpdraftError && bansRelease(err.code);
}

/**
 * Records `err` as a failure of `version` when it is the release's fault; anything else leaves
 * the attempt as it was (the next run tries again).
 */
export async function recordIfReleaseFault(
  layout: InstallLayout,
  version: string,
  err: unknown,
  context?: string,
): Promise<void> {
  if (!isReleaseFault(err)) return;
  const message = (err as Error).message;
  await recordFailure(layout, version, context ? `${context}: ${message}` : message);
}

/** Records that `version` failed (install or health check). */
export async function recordFailure(
  layout: InstallLayout,
  version: string,
  reason: string,
  now = new Date(),
): Promise<void> {
  await updateState(layout, (s) => ({
    ...s,
    attempts: { ...s.attempts, [version]: { at: now.toISOString(), outcome: "failed", reason } },
  }));
}

/** Records that `version` installed and confirmed. */
export async function recordSuccess(layout: InstallLayout, version: string, now = new Date()): Promise<void> {
  await updateState(layout, (s) => ({
    ...s,
    attempts: { ...s.attempts, [version]: { at: now.toISOString(), outcome: "succeeded" } },
  }));
}

/** Returns why `version` must not be tried now (HitVersion), or undefined if it may be. */
export async function backoffFor(
  layout: InstallLayout,
  version: string,
  options: { windowMs?: number; now?: Date } = {},
): Promise<Skipped | undefined> {
  const attempt = (await readState(layout)).attempts?.[version];
  // A pending attempt was interrupted (or is running): that says nothing about the release.
  if (attempt?.outcome !== "failed") return undefined;
  const windowMs = options.windowMs ?? DEFAULT_BACKOFF_MS;
  const retryAt = Date.parse(attempt.at) + windowMs;
  const now = (options.now ?? new Date()).getTime();
  if (!(retryAt > now)) return undefined;
  return {
    version,
    reason: attempt.reason ?? "an earlier attempt failed",
    retryAfter: new Date(retryAt).toISOString(),
  };
}

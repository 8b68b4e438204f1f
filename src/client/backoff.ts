/**
 * The failed-version back-off (SAAU's putVersion/HitVersion): every install attempt is recorded
 * before it starts; an attempt at a version that did not succeed within the window (2 hours by
 * default) blocks that version, so a broken release is not retried in a loop. A newer version is
 * tried at once.
 */
import type { InstallLayout } from "./layout.js";
import { lockHolder } from "./lock.js";
import { readState, updateState } from "./state.js";

/** Default back-off window: 2 hours. */
export const DEFAULT_BACKOFF_MS = 2 * 60 * 60 * 1000;

/** Why a version is skipped, and until when. */
export interface Skipped {
  version: string;
  reason: string;
  retryAfter: string;
}

/** Records that an install of `version` starts now (putVersion). */
export async function recordAttempt(layout: InstallLayout, version: string, now = new Date()): Promise<void> {
  await updateState(layout, (s) => ({
    ...s,
    attempts: { ...s.attempts, [version]: { at: now.toISOString(), outcome: "pending" } },
  }));
}

/** Records that `version` failed (download, verification, install or health check). */
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
  if (!attempt || attempt.outcome === "succeeded") return undefined;
  // A pending attempt whose updater still runs is in progress, not failed.
  if (attempt.outcome === "pending" && (await lockHolder(layout.lockFile))) return undefined;
  const windowMs = options.windowMs ?? DEFAULT_BACKOFF_MS;
  const retryAt = Date.parse(attempt.at) + windowMs;
  const now = (options.now ?? new Date()).getTime();
  if (!(retryAt > now)) return undefined;
  return {
    version,
    reason: attempt.reason ?? "an earlier attempt did not finish",
    retryAfter: new Date(retryAt).toISOString(),
  };
}

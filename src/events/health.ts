/**
 * Failure rates per release from the health events database: what `rollout --advance
 * --max-failure-rate` and the dashboard judge a release by.
 */
import type { StoredReport } from "./store.js";

/** The health of one release of one app, from its installs' reports. */
export interface ReleaseHealth {
  app: string;
  version: string;
  /** Distinct installs that reported any outcome for this version. */
  installs: number;
  /** Installs whose last word on this version was each outcome. */
  installed: number;
  confirmed: number;
  rolledBack: number;
  failed: number;
  /** Installs that rolled back or failed, over {@link ReleaseHealth.installs}; 0 when none reported. */
  failureRate: number;
  /** Count of failing installs per reason (rollback reason or error code). */
  reasons: Record<string, number>;
}

/** How strongly each outcome speaks: a failure outweighs an earlier success of the same install. */
const WEIGHT = { installed: 0, confirmed: 1, "rolled-back": 2, failed: 2 } as const;

/**
 * The health of `app`'s `version` from `reports` (as `EventStore.reports` returns them). Each
 * install counts once, by its most telling outcome: rolled back or failed over confirmed over
 * installed; among failures, the latest.
 */
export function releaseHealth(reports: readonly StoredReport[], app: string, version: string): ReleaseHealth {
  const byInstall = new Map<string, StoredReport>();
  for (const r of reports) {
    if (r.app !== app || r.to !== version) continue;
    const seen = byInstall.get(r.installId);
    if (seen === undefined || WEIGHT[r.event] >= WEIGHT[seen.event]) byInstall.set(r.installId, r);
  }
  const health: ReleaseHealth = {
    app,
    version,
    installs: byInstall.size,
    installed: 0,
    confirmed: 0,
    rolledBack: 0,
    failed: 0,
    failureRate: 0,
    reasons: {},
  };
  for (const r of byInstall.values()) {
    if (r.event === "installed") health.installed++;
    else if (r.event === "confirmed") health.confirmed++;
    else {
      if (r.event === "rolled-back") health.rolledBack++;
      else health.failed++;
      const reason = r.reason ?? "unknown";
      health.reasons[reason] = (health.reasons[reason] ?? 0) + 1;
    }
  }
  if (health.installs > 0) health.failureRate = (health.rolledBack + health.failed) / health.installs;
  return health;
}

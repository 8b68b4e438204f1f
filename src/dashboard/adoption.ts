/**
 * Adoption figures for the dashboard, from access logs (`updraft serve --access-log`, nginx
 * `combined`) and health reports: updates per version per day, update paths, bytes served and
 * saved by deltas, and each version's failure rate.
 */
import { compareVersions } from "../core/version.js";
import { type ReleaseHealth, releaseHealth, type StoredReport } from "../events/index.js";
import { type DayStats, type LoggedRequest, summarizeAccessLog } from "../server/index.js";

/** Counts per day and version, for a stacked area chart. */
export interface VersionSeries {
  /** UTC days, `YYYY-MM-DD`, in order. */
  days: string[];
  /** Version → count per day (same order as `days`), newest version first. */
  versions: { version: string; counts: number[]; total: number }[];
}

/** Adoption of one app. */
export interface AdoptionView {
  app: string;
  /** Completed downloads of each release per day, from the access logs. */
  downloads: VersionSeries;
  /** `installed` reports per release per day, from the health reports. */
  installs: VersionSeries;
  /** `from→to` counts (`?` when a full download's starting version is unknown), most first. */
  paths: { from: string; to: string; downloads: number; installs: number }[];
  /** Per day: bytes served and bytes saved by deltas (access logs). */
  bytes: { day: string; served: number; savedByDeltas: number }[];
  /** Checks (timestamp requests) over all days. */
  checks: number;
  /** Failure rates of each version that installs reported about, newest first. */
  health: ReleaseHealth[];
}

function seriesOf(items: readonly { day: string; version: string }[]): VersionSeries {
  const days = [...new Set(items.map((i) => i.day))].sort();
  const byVersion = new Map<string, number[]>();
  for (const { day, version } of items) {
    let counts = byVersion.get(version);
    if (counts === undefined) {
      counts = days.map(() => 0);
      byVersion.set(version, counts);
    }
    counts[days.indexOf(day)]! += 1;
  }
  const versions = [...byVersion.entries()]
    .sort(([a], [b]) => compareVersions(b, a))
    .map(([version, counts]) => ({ version, counts, total: counts.reduce((s, c) => s + c, 0) }));
  return { days, versions };
}

const isCompleteDownload = (r: LoggedRequest): boolean =>
  (r.kind === "full" || r.kind === "delta") && (r.status === 200 || r.status === 206) && !r.aborted;

/** The adoption of `app` from every request and report given (other apps' are ignored). */
export function adoptionOf(
  app: string,
  requests: readonly LoggedRequest[],
  reports: readonly StoredReport[],
): AdoptionView {
  const mine = requests.filter((r) => r.app === app);
  const days: DayStats[] = summarizeAccessLog(mine);
  const downloads = mine.filter(isCompleteDownload).map((r) => ({ day: r.day, version: r.version ?? "?" }));
  const appReports = reports.filter((r) => r.app === app);
  const installed = appReports.filter((r) => r.event === "installed");
  const paths = new Map<string, { from: string; to: string; downloads: number; installs: number }>();
  const path = (from: string, to: string) => {
    const key = `${from}\n${to}`;
    let p = paths.get(key);
    if (p === undefined) {
      p = { from, to, downloads: 0, installs: 0 };
      paths.set(key, p);
    }
    return p;
  };
  for (const r of mine.filter(isCompleteDownload)) path(r.from ?? "?", r.version ?? "?").downloads++;
  for (const r of installed) path(r.from ?? "?", r.to).installs++;
  const versions = [...new Set(appReports.map((r) => r.to))].sort((a, b) => compareVersions(b, a));
  return {
    app,
    downloads: seriesOf(downloads),
    installs: seriesOf(installed.map((r) => ({ day: r.receivedAt.slice(0, 10), version: r.to }))),
    paths: [...paths.values()].sort((a, b) => b.downloads + b.installs - (a.downloads + a.installs)),
    bytes: days.map((d) => ({ day: d.day, served: d.bytesServed, savedByDeltas: d.bytesSavedByDeltas })),
    checks: days.reduce((s, d) => s + d.checks, 0),
    health: versions.map((v) => releaseHealth(appReports, app, v)),
  };
}

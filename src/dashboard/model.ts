/**
 * What the dashboard shows of a repository, read from its files as a client following
 * `timestamp.json` would find them: apps, their channels, every release with its sizes, deltas,
 * notes and flags, and the expiry of the signed metadata. Files on disk are untrusted: each
 * document goes through the formats' validators, and a release whose manifest cannot be read is
 * listed with its error instead of failing the page.
 */
import { readdir, readFile } from "node:fs/promises";
import { isJsonObject } from "../core/json.js";
import { compareVersions } from "../core/version.js";
import { manifestTarget, parseChannelPointer, parseReleaseManifest, releaseOfTarget } from "../formats/native.js";
import { loadHistory, releaseTargetMap } from "../publish/history.js";
import { appPaths, consistentTargetPath, hasRepository, loadRepository } from "../publish/tuf-repo.js";

/**
 * Metadata expiring within this many days is flagged: a week for the timestamp (30 days long,
 * refreshed by a weekly cron), a month for the others.
 */
export const EXPIRY_WARNING_DAYS = { root: 30, targets: 30, snapshot: 30, timestamp: 7 } as const;

/** One delta of a release. */
export interface DeltaView {
  from: string;
  kind: string;
  size: number;
  /** Share of the full archive's size a delta download saves, 0 to 1. */
  saved: number;
}

/** The rollout of a release on a channel, as its channel document says (absent fields: not set). */
export interface RolloutView {
  /** Share of installs offered the release now, 0 to 100. */
  percent: number;
  halted: boolean;
  /** The schedule, when the channel document has one. */
  steps?: { percent: number; at: string }[];
}

/** One release of an app. */
export interface ReleaseView {
  version: string;
  /** Channels whose document names it. */
  channels: string[];
  releasedAt: string;
  platforms: string[];
  fullSize: number;
  deltas: DeltaView[];
  notes?: string;
  critical?: boolean;
  minimumVersion?: string;
  health?: string;
  reportUrl?: string;
  /** Set when the manifest could not be read. */
  error?: string;
}

/** One channel of an app. */
export interface ChannelView {
  name: string;
  /** The version the channel offers. */
  version: string;
  rollout?: RolloutView;
  critical?: boolean;
  minimumVersion?: string;
  yanked: { version: string; reason?: string }[];
}

/** The expiry of one signed role. */
export interface ExpiryView {
  role: "root" | "targets" | "snapshot" | "timestamp";
  expires: string;
  /** Days from now to the expiry (negative once expired). */
  daysLeft: number;
  warning: boolean;
}

/** One app of the repository. */
export interface AppView {
  name: string;
  channels: ChannelView[];
  /** Newest first. */
  releases: ReleaseView[];
  expiry: ExpiryView[];
}

function customOf(target: { custom: Record<string, unknown> }): Record<string, unknown> {
  const u = target.custom.updraft;
  return isJsonObject(u) ? u : {};
}

/** The rollout, yanks and flags of a channel document (v2 fields are read when present). */
function channelExtras(doc: Record<string, unknown>, version: string): Pick<ChannelView, "rollout" | "yanked"> {
  const out: Pick<ChannelView, "rollout" | "yanked"> = { yanked: [] };
  if (typeof doc.rolloutPercentage === "number") out.rollout = { percent: doc.rolloutPercentage, halted: false };
  const releases = Array.isArray(doc.releases) ? doc.releases : [];
  const entry = releases.find((r): r is Record<string, unknown> => isJsonObject(r) && r.version === version);
  const rollout = entry?.rollout;
  if (isJsonObject(rollout) && Array.isArray(rollout.steps)) {
    const steps = rollout.steps
      .filter((s): s is Record<string, unknown> => isJsonObject(s))
      .filter((s) => typeof s.percent === "number" && typeof s.at === "string")
      .map((s) => ({ percent: s.percent as number, at: s.at as string }));
    const halted = rollout.halted === true;
    let percent = 0;
    for (const s of steps) if (Date.parse(s.at) <= Date.now()) percent = s.percent;
    out.rollout = { percent: halted ? 0 : percent, halted, steps };
  }
  if (Array.isArray(doc.yanked)) {
    for (const y of doc.yanked) {
      if (isJsonObject(y) && typeof y.version === "string") {
        out.yanked.push({ version: y.version, ...(typeof y.reason === "string" ? { reason: y.reason } : {}) });
      }
    }
  }
  return out;
}

async function readTarget(repoDir: string, app: string, name: string, sha256: string): Promise<unknown> {
  const file = consistentTargetPath(appPaths(repoDir, app), name, sha256);
  return JSON.parse(await readFile(file, "utf8")) as unknown;
}

/** Reads one app; `now` decides the expiry warnings. */
export async function readAppView(repoDir: string, app: string, now = new Date()): Promise<AppView> {
  const state = await loadRepository(appPaths(repoDir, app));
  const expiry: ExpiryView[] = (
    [
      ["root", state.root.signed.expires],
      ["targets", state.targets.signed.expires],
      ["snapshot", state.snapshot.signed.expires],
      ["timestamp", state.timestamp.signed.expires],
    ] as const
  ).map(([role, expires]) => {
    const daysLeft = Math.floor((Date.parse(expires) - now.getTime()) / 86_400_000);
    return { role, expires, daysLeft, warning: daysLeft < EXPIRY_WARNING_DAYS[role] };
  });
  const channels: ChannelView[] = [];
  const releases: ReleaseView[] = [];
  // Channels are signed in the top-level role; releases wherever the history put them (slots, archive bins).
  const releaseTargets = releaseTargetMap(await loadHistory(state));
  for (const [name, target] of Object.entries(releaseTargets)) {
    const version = releaseOfTarget(name);
    if (version === undefined || name !== manifestTarget(version)) continue;
    releases.push(await readRelease(repoDir, app, name, target.hashes.sha256 ?? "", version));
  }
  for (const target of Object.values(state.targets.signed.targets)) {
    const custom = customOf(target);
    const sha256 = target.hashes.sha256 ?? "";
    if (custom.kind === "channel") {
      const raw = await readTarget(repoDir, app, target.path, sha256);
      const pointer = parseChannelPointer(raw, target.path);
      channels.push({
        name: pointer.channel,
        version: pointer.version,
        ...(pointer.critical !== undefined ? { critical: pointer.critical } : {}),
        ...(pointer.minimumVersion !== undefined ? { minimumVersion: pointer.minimumVersion } : {}),
        ...channelExtras(raw as Record<string, unknown>, pointer.version),
      });
    }
  }
  for (const release of releases)
    release.channels = channels.filter((c) => c.version === release.version).map((c) => c.name);
  channels.sort((a, b) => a.name.localeCompare(b.name));
  releases.sort((a, b) => compareVersions(b.version, a.version));
  return { name: app, channels, releases, expiry };
}

async function readRelease(
  repoDir: string,
  app: string,
  name: string,
  sha256: string,
  version: string,
): Promise<ReleaseView> {
  try {
    const m = parseReleaseManifest(await readTarget(repoDir, app, name, sha256), name);
    const full = m.artifacts.find((a) => a.kind === "full");
    const fullSize = full?.size ?? 0;
    const deltas = m.artifacts
      .filter((a) => a.from !== undefined)
      .map((a) => ({ from: a.from!, kind: a.kind, size: a.size, saved: fullSize > 0 ? 1 - a.size / fullSize : 0 }))
      .sort((a, b) => compareVersions(b.from, a.from));
    return {
      version: m.version,
      channels: [],
      releasedAt: m.releasedAt,
      platforms: ["any"],
      fullSize,
      deltas,
      ...(m.notes !== undefined ? { notes: m.notes } : {}),
      ...(m.critical !== undefined ? { critical: m.critical } : {}),
      ...(m.minimumVersion !== undefined ? { minimumVersion: m.minimumVersion } : {}),
      ...(m.health !== undefined ? { health: m.health } : {}),
      ...(m.reportUrl !== undefined ? { reportUrl: m.reportUrl } : {}),
    };
  } catch (err) {
    return {
      version,
      channels: [],
      releasedAt: "",
      platforms: [],
      fullSize: 0,
      deltas: [],
      error: (err as Error).message,
    };
  }
}

/** The apps of a repository folder: its sub-folders holding TUF metadata, by name. */
export async function listApps(repoDir: string): Promise<string[]> {
  const entries = await readdir(repoDir, { withFileTypes: true });
  const apps: string[] = [];
  for (const e of entries) {
    if (e.isDirectory() && !e.name.startsWith(".") && (await hasRepository(appPaths(repoDir, e.name))))
      apps.push(e.name);
  }
  return apps.sort();
}

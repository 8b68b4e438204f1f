/**
 * What the dashboard shows of a repository, read from its files as a client following
 * `timestamp.json` would find them: apps, their channels, every release with its sizes, deltas,
 * notes and flags, and the expiry of the signed metadata. Files on disk are untrusted: each
 * document goes through the formats' validators, and a release whose manifest cannot be read is
 * listed with its error instead of failing the page.
 */
import { readdir, readFile } from "node:fs/promises";
import { compareVersions } from "../core/version.js";
import { type ChannelDocument, parseChannelDocument, rolloutPercentAt, yankOf } from "../formats/channel.js";
import { channelTarget, parseReleaseManifest } from "../formats/native.js";
import { channelsOf } from "../publish/channels.js";
import { allReleases, loadHistory } from "../publish/history.js";
import { buildsOfRelease } from "../publish/release-targets.js";
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

/** What a channel document says of its offered release (the newest not yanked): rollout, flags, yanks. */
function channelViewOf(doc: ChannelDocument, now: Date): ChannelView {
  const offered = doc.releases.find((r) => yankOf(doc, r.version) === undefined);
  const rollout = offered?.rollout;
  return {
    name: doc.channel,
    version: offered?.version ?? doc.version,
    ...(rollout
      ? { rollout: { percent: rolloutPercentAt(offered, now), halted: rollout.halted, steps: rollout.steps } }
      : {}),
    ...(offered?.critical !== undefined ? { critical: offered.critical } : {}),
    ...(offered?.minimumVersion !== undefined ? { minimumVersion: offered.minimumVersion } : {}),
    yanked: doc.yanked.map((y) => ({ version: y.version, ...(y.reason !== undefined ? { reason: y.reason } : {}) })),
  };
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
  const history = await loadHistory(state);
  const documents: ChannelDocument[] = [];
  for (const channel of channelsOf(history.topLevel)) {
    const target = history.topLevel[channelTarget(channel)];
    if (!target) continue;
    const doc = parseChannelDocument(await readTarget(repoDir, app, target.path, target.hashes.sha256 ?? ""));
    documents.push(doc);
    channels.push(channelViewOf(doc, now));
  }
  for (const release of allReleases(history)) {
    const builds = [...buildsOfRelease(app, release)].sort(([a], [b]) => a.localeCompare(b));
    const [first] = builds;
    if (first === undefined) continue;
    const view = await readRelease(
      repoDir,
      app,
      first[1],
      release.targets[first[1]]?.hashes.sha256 ?? "",
      release.version,
    );
    view.platforms = builds.map(([platform]) => platform);
    releases.push(view);
  }
  // A release is on the channels whose document offers it (listed, not yanked).
  for (const release of releases) {
    release.channels = documents
      .filter((d) => d.releases.some((r) => r.version === release.version) && !yankOf(d, release.version))
      .map((d) => d.channel);
  }
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
      platforms: [],
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

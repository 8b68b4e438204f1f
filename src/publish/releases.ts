/**
 * Release management after publish: staged rollouts (`setRollout`), pulling a release back
 * (`yankRelease`), offering a release on another channel (`promoteRelease`) and the list of
 * releases (`listReleases`). Each change rewrites only channel documents and the signed metadata:
 * no release file is uploaded again.
 */
import { resolve } from "node:path";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { exists } from "../core/fs.js";
import { assertVersion, compareVersions } from "../core/version.js";
import { type ReleaseHealth, releaseHealth, type StoredReport } from "../events/index.js";
import {
  type ChannelDocument,
  type ChannelRelease,
  MAX_CHANNEL_YANKS,
  type Rollout,
  rolloutPercentAt,
  yankOf,
} from "../formats/channel.js";
import { ANY_PLATFORM, CHANNEL_PATTERN, manifestTarget } from "../formats/native.js";
import {
  channelsOf,
  emptyChannelDocument,
  placeInChannel,
  type RolloutRequest,
  readChannelDocument,
  rolloutOf,
  storeChannelDocument,
} from "./channels.js";
import { allReleases, commitHistory, findRelease, loadHistory, type RepositoryHistory } from "./history.js";
import { type KeySet, ONLINE_ROLES } from "./keys.js";
import { buildsOfRelease, releaseTargetInfo } from "./release-targets.js";
import { decideRolloutAdvance, type RolloutAdvanceDecision } from "./rollout-advance.js";
import {
  type AppPaths,
  appPaths,
  assertKeysMatchRoot,
  type CommittedVersions,
  type ExpiryDays,
  isoSeconds,
  loadRepository,
  withPublishLock,
} from "./tuf-repo.js";

/** What every release-management change needs: where, which app, the online keys. */
export interface ReleaseChangeOptions {
  repoDir: string;
  app: string;
  /** targets, snapshot and timestamp keys. */
  keys: KeySet;
  /** The publisher's clock (rollout steps start from it). Default: now. */
  now?: Date;
  expiry?: Partial<ExpiryDays>;
}

/** The channel documents a change wrote, and the new metadata versions. */
export interface ReleaseChangeResult {
  app: string;
  /** Target names written (channel documents only: no release file is uploaded again). */
  targets: string[];
  metadata: CommittedVersions;
}

function notFound(message: string, hint: string, details: Record<string, unknown>): UpdraftError {
  return new UpdraftError(ErrorCodes.RELEASE_NOT_FOUND, message, { hint, details });
}

/** The published version `asked` names (as the history spells it), or `RELEASE_NOT_FOUND`. */
function publishedVersion(history: RepositoryHistory, asked: string, app: string): string {
  const version = findRelease(history, asked)?.version;
  if (version === undefined) {
    throw notFound(
      `Version ${asked} of "${app}" was never published`,
      "Check the version: `updraft releases` lists them.",
      {
        version: asked,
      },
    );
  }
  return version;
}

/**
 * Runs `change` on the app's repository under its publish lock; `change` edits channel documents
 * through `save`, then the targets are signed once with every change.
 */
async function changeChannels<T>(
  options: ReleaseChangeOptions,
  change: (history: RepositoryHistory, save: (doc: ChannelDocument) => Promise<void>, paths: AppPaths) => Promise<T>,
): Promise<T & ReleaseChangeResult> {
  const paths = appPaths(resolve(options.repoDir), options.app);
  if (!(await exists(paths.appDir))) await loadRepository(paths); // REPO_NOT_FOUND before creating a lock there
  const now = options.now ?? new Date();
  return withPublishLock(paths, async () => {
    const state = await loadRepository(paths);
    assertKeysMatchRoot(state.root, options.keys, ONLINE_ROLES);
    const history = await loadHistory(state);
    const targets: string[] = [];
    const save = async (doc: ChannelDocument) => {
      targets.push(await storeChannelDocument(paths, history.topLevel, doc, now));
    };
    const result = await change(history, save, paths);
    // Only the top-level role (channel documents) changes; release roles keep their versions.
    const committed = await commitHistory(state, history, {
      keys: options.keys,
      now,
      ...(options.expiry ? { expiry: options.expiry } : {}),
    });
    const { targetsVersion, snapshotVersion, timestampVersion } = committed;
    const metadata: CommittedVersions = { targetsVersion, snapshotVersion, timestampVersion };
    return { ...result, app: options.app, targets, metadata };
  });
}

async function requireChannel(paths: AppPaths, history: RepositoryHistory, channel: string): Promise<ChannelDocument> {
  const targets = history.topLevel;
  const doc = await readChannelDocument(paths, targets, channel);
  if (doc === undefined || doc.releases.length === 0) {
    const channels = channelsOf(targets);
    throw notFound(
      `Channel "${channel}" has no release${channels.length > 0 ? `; the app's channels: ${channels.join(", ")}` : ""}`,
      "Publish a release to the channel first, or name another channel.",
      { channel, channels },
    );
  }
  return doc;
}

// ---------------------------------------------------------------------------------------------
// rollout

/**
 * `rollout --advance`: from the health reports of the channel's newest release, move its rollout
 * to the next step now, halt it, or leave it (see {@link decideRolloutAdvance}).
 */
export interface RolloutAdvance {
  /** The app's health reports (`updraft serve --events`). */
  reports: readonly StoredReport[];
  /** Highest acceptable share of reporting installs that rolled back or failed, 0 to 1. */
  maxFailureRate: number;
  /** Reports needed before advancing past the first step (default 10). */
  minReports?: number;
}

/** What {@link setRollout} does to the rollout of the channel's newest release. */
export type RolloutChange = RolloutRequest | { halt: true } | { resume: true } | { advance: RolloutAdvance };

/** Options of {@link setRollout}. */
export interface SetRolloutOptions extends ReleaseChangeOptions {
  channel: string;
  change: RolloutChange;
  /**
   * The version the caller believes is the channel's newest release (a dashboard page, a script
   * that read it first): the change is refused (`RELEASE_NOT_FOUND`) when another release is newest now.
   */
  expectedVersion?: string;
}

/** What {@link setRollout} did. */
export interface SetRolloutResult extends ReleaseChangeResult {
  channel: string;
  /** The release whose rollout changed: the channel's newest release not yanked. */
  version: string;
  rollout: Rollout;
  /** The share of installs offered the release now (0 when halted). */
  percentNow: number;
  /** For an `advance` change: what the reports said and what was decided. */
  advance?: { decision: RolloutAdvanceDecision; health: ReleaseHealth };
}

/**
 * Sets, halts or resumes the staged rollout of `channel`'s newest release (not yanked). Installs
 * outside the rollout stay on, or are offered, the release before it; a halt stops every new
 * install of the release at once.
 */
export async function setRollout(options: SetRolloutOptions): Promise<SetRolloutResult> {
  const now = options.now ?? new Date();
  const { change } = options;
  const requested = "halt" in change || "resume" in change || "advance" in change ? undefined : rolloutOf(change, now);
  return changeChannels(options, async (history, save, paths) => {
    const doc = await requireChannel(paths, history, options.channel);
    const newest = doc.releases.find((r) => yankOf(doc, r.version) === undefined);
    if (newest === undefined) {
      throw notFound(`Every release of channel "${options.channel}" is yanked`, "Publish a new release first.", {
        channel: options.channel,
      });
    }
    const expected = options.expectedVersion;
    if (expected !== undefined && compareVersions(expected, newest.version) !== 0) {
      throw notFound(
        `The newest release of channel "${options.channel}" is ${newest.version}, not ${expected}`,
        "Reload: the channel changed since it was read.",
        { channel: options.channel, version: newest.version, expected },
      );
    }
    const current: Rollout = newest.rollout ?? { steps: [{ percent: 100, at: newest.publishedAt }], halted: false };
    const advance =
      "advance" in change ? adviseAdvance(change.advance, options.app, newest.version, current, now) : undefined;
    const rollout: Rollout = advance?.rollout ?? requested ?? { ...current, halted: "halt" in change };
    if (rollout !== current) {
      const releases = doc.releases.map((r) => (r === newest ? { ...r, rollout } : r));
      await save({ ...doc, releases });
    }
    return {
      channel: options.channel,
      version: newest.version,
      rollout,
      percentNow: rolloutPercentAt({ rollout }, now),
      ...(advance ? { advance: { decision: advance.decision, health: advance.health } } : {}),
    };
  });
}

/**
 * The rollout after an `advance` change of `version`: halted, moved to its next step now (later
 * steps keep their times), or `current` itself when the decision is to hold.
 */
function adviseAdvance(
  request: RolloutAdvance,
  app: string,
  version: string,
  current: Rollout,
  now: Date,
): { rollout: Rollout; decision: RolloutAdvanceDecision; health: ReleaseHealth } {
  const health = releaseHealth(request.reports, app, version);
  const decision = decideRolloutAdvance({
    steps: current.steps,
    halted: current.halted,
    failureRate: health.failureRate,
    reports: health.installs,
    maxFailureRate: request.maxFailureRate,
    ...(request.minReports !== undefined ? { minReports: request.minReports } : {}),
    now,
  });
  let rollout = current;
  if (decision.action === "halt") rollout = { ...current, halted: true };
  else if (decision.action === "advance") {
    const later = current.steps.filter((s) => s.percent > decision.percent && Date.parse(s.at) > now.getTime());
    rollout = { steps: [{ percent: decision.percent, at: isoSeconds(now) }, ...later], halted: false };
  }
  return { rollout, decision, health };
}

// ---------------------------------------------------------------------------------------------
// yank

/** Options of {@link yankRelease}. */
export interface YankReleaseOptions extends ReleaseChangeOptions {
  version: string;
  /** Why, shown to installs by `check`. */
  reason?: string;
}

/** What {@link yankRelease} did. */
export interface YankReleaseResult extends ReleaseChangeResult {
  version: string;
  /** Channels whose document now lists the yank (every channel of the app). */
  channels: string[];
  /** Per channel that offered the yanked version as its newest release: the release it falls back to. */
  fallbacks: { channel: string; version: string | undefined }[];
}

/**
 * Pulls `version` back from every channel: it is never offered again, installs that run it are
 * offered the channel's newest release not yanked (a downgrade the signed yank list allows), and
 * each channel falls back to its previous release. The release's files stay.
 */
export async function yankRelease(options: YankReleaseOptions): Promise<YankReleaseResult> {
  const asked = assertVersion(options.version);
  const reason = options.reason?.trim();
  if (reason !== undefined && reason.length > 500) {
    throw new UpdraftError(ErrorCodes.USAGE, "The yank reason is longer than 500 characters", {
      hint: "Give one sentence: installs show it as is.",
    });
  }
  const at = isoSeconds(options.now ?? new Date());
  return changeChannels(options, async (history, save, paths) => {
    const targets = history.topLevel;
    const version = publishedVersion(history, asked, options.app);
    const channels = channelsOf(targets);
    const fallbacks: YankReleaseResult["fallbacks"] = [];
    for (const channel of channels) {
      const doc = (await readChannelDocument(paths, targets, channel)) ?? emptyChannelDocument(options.app, channel);
      const live = (d: ChannelDocument) => d.releases.find((r) => yankOf(d, r.version) === undefined);
      const before = live(doc);
      const yank = { version, ...(reason ? { reason } : {}), at };
      const others = doc.yanked.filter((y) => compareVersions(y.version, version) !== 0);
      const next = { ...doc, yanked: [yank, ...others].slice(0, MAX_CHANNEL_YANKS) };
      if (before !== undefined && compareVersions(before.version, version) === 0) {
        fallbacks.push({ channel, version: live(next)?.version });
      }
      await save(next);
    }
    return { version, channels, fallbacks };
  });
}

// ---------------------------------------------------------------------------------------------
// promote

/** Options of {@link promoteRelease}. */
export interface PromoteReleaseOptions extends ReleaseChangeOptions {
  version: string;
  /** The channel that offers it from now on. */
  to: string;
  /** Offer it even when the channel's newest release is higher (the releases above it leave that channel). */
  force?: boolean;
}

/** What {@link promoteRelease} did. */
export interface PromoteReleaseResult extends ReleaseChangeResult {
  version: string;
  channel: string;
  platforms: string[];
  /** The channel's newest release before. */
  previousVersion: string | undefined;
}

/**
 * Offers published `version` on channel `to` (every build of it), without uploading any file
 * again: releases are stored per version, channels only name them. Its critical flag and minimum
 * version come along; a rollout does not (start one with `setRollout`).
 */
export async function promoteRelease(options: PromoteReleaseOptions): Promise<PromoteReleaseResult> {
  const asked = assertVersion(options.version);
  if (!CHANNEL_PATTERN.test(options.to)) {
    throw new UpdraftError(ErrorCodes.USAGE, `Invalid channel name "${options.to}"`, {
      hint: "Use 1–32 lower-case letters, digits, '.', '_' or '-' (e.g. stable, beta).",
    });
  }
  const now = options.now ?? new Date();
  return changeChannels(options, async (history, save, paths) => {
    const targets = history.topLevel;
    const version = publishedVersion(history, asked, options.app);
    const flags = await releaseFlags(paths, targets, version);
    let doc = (await readChannelDocument(paths, targets, options.to)) ?? emptyChannelDocument(options.app, options.to);
    const previousVersion = doc.releases[0]?.version;
    const builds = buildsOfRelease(options.app, findRelease(history, version)!);
    for (const platform of [...builds.keys()].sort()) {
      const placed = placeInChannel(doc, {
        version,
        platform,
        publishedAt: isoSeconds(now),
        force: options.force === true,
        minimumVersion: flags?.minimumVersion,
        critical: flags?.critical,
      });
      if (placed.document === undefined) {
        throw new UpdraftError(
          ErrorCodes.USAGE,
          `Channel "${options.to}" offers ${previousVersion}, higher than ${version}: not promoting`,
          {
            hint: "Pass --force to offer it anyway (the releases above it leave that channel), or promote a higher version.",
          },
        );
      }
      doc = placed.document;
    }
    if (builds.get(ANY_PLATFORM) === manifestTarget(version)) {
      doc = withLegacyManifest(doc, version, manifestTarget(version));
    }
    await save(doc);
    return { version, channel: options.to, platforms: [...builds.keys()].sort(), previousVersion };
  });
}

/** `doc` with the entry of `version` naming its first-layout manifest. */
function withLegacyManifest(doc: ChannelDocument, version: string, legacyManifest: string): ChannelDocument {
  return { ...doc, releases: doc.releases.map((r) => (r.version === version ? { ...r, legacyManifest } : r)) };
}

/** The critical flag and minimum version some channel gives `version`. */
async function releaseFlags(
  paths: AppPaths,
  targets: RepositoryHistory["topLevel"],
  version: string,
): Promise<Pick<ChannelRelease, "critical" | "minimumVersion"> | undefined> {
  for (const channel of channelsOf(targets)) {
    const entry = (await readChannelDocument(paths, targets, channel))?.releases.find((r) => r.version === version);
    if (entry)
      return {
        ...(entry.critical ? { critical: true } : {}),
        ...(entry.minimumVersion ? { minimumVersion: entry.minimumVersion } : {}),
      };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// releases

/** One build of a release, as {@link listReleases} reports it. */
export interface ReleaseBuild {
  platform: string;
  /** Bytes of the full archive. */
  fullSize: number;
  deltas: { from: string; kind: string; size: number }[];
}

/** One release, as {@link listReleases} reports it. */
export interface ReleaseListing {
  version: string;
  builds: ReleaseBuild[];
  /** Per channel that offers it: its rollout now, critical flag and minimum version. */
  channels: {
    channel: string;
    newest: boolean;
    publishedAt: string;
    percentNow: number;
    rollout?: Rollout;
    critical?: boolean;
    minimumVersion?: string;
  }[];
  yanked?: { reason?: string; at?: string };
}

/** Options of {@link listReleases}. */
export interface ListReleasesOptions {
  repoDir: string;
  app: string;
  now?: Date;
}

/** Every release of the app, newest first: builds, sizes, deltas, the channels that offer it, rollouts, yanks. */
export async function listReleases(
  options: ListReleasesOptions,
): Promise<{ app: string; channels: string[]; releases: ReleaseListing[] }> {
  const paths = appPaths(resolve(options.repoDir), options.app);
  const history = await loadHistory(await loadRepository(paths));
  const now = options.now ?? new Date();
  const targets = history.topLevel;
  const byVersion = new Map<string, ReleaseListing>();
  const listing = (version: string): ReleaseListing => {
    const found = byVersion.get(version) ?? { version, builds: [], channels: [] };
    byVersion.set(version, found);
    return found;
  };
  const build = (version: string, platform: string): ReleaseBuild => {
    const entry = listing(version);
    const found = entry.builds.find((b) => b.platform === platform) ?? { platform, fullSize: 0, deltas: [] };
    if (!entry.builds.includes(found)) entry.builds.push(found);
    return found;
  };
  for (const release of allReleases(history)) {
    for (const [name, target] of Object.entries(release.targets)) {
      const info = releaseTargetInfo(options.app, name);
      if (info === undefined || info.kind === "manifest" || info.kind === "manifest-patch") continue;
      const b = build(release.version, info.platform);
      if (info.kind === "full") b.fullSize = target.length;
      else if (info.from !== undefined)
        b.deltas.push({ from: info.from, kind: info.deltaKind ?? "", size: target.length });
    }
  }
  const channels = channelsOf(targets);
  for (const channel of channels) {
    const doc = await readChannelDocument(paths, targets, channel);
    if (!doc) continue;
    const newest = doc.releases.find((r) => yankOf(doc, r.version) === undefined);
    for (const r of doc.releases) {
      listing(r.version).channels.push({
        channel,
        newest: r === newest,
        publishedAt: r.publishedAt,
        percentNow: rolloutPercentAt(r, now),
        ...(r.rollout ? { rollout: r.rollout } : {}),
        ...(r.critical ? { critical: true } : {}),
        ...(r.minimumVersion ? { minimumVersion: r.minimumVersion } : {}),
      });
    }
    for (const y of doc.yanked) {
      listing(y.version).yanked ??= { ...(y.reason ? { reason: y.reason } : {}), ...(y.at ? { at: y.at } : {}) };
    }
  }
  const releases = [...byVersion.values()].sort((a, b) => compareVersions(b.version, a.version));
  for (const r of releases) {
    r.builds.sort((a, b) => a.platform.localeCompare(b.platform));
    for (const b of r.builds) b.deltas.sort((x, y) => compareVersions(y.from, x.from) || x.kind.localeCompare(y.kind));
  }
  return { app: options.app, channels, releases };
}

/**
 * The publisher's side of channel documents: read the one a repository holds (a first-layout
 * pointer reads as a document with one release), change it, and store it as a target with the
 * first pointer's fields filled in for clients that read only those.
 */
import { readFile } from "node:fs/promises";
import type { TargetFile } from "@tufjs/models";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { compareVersions } from "../core/version.js";
import {
  CHANNEL_SCHEMA,
  type ChannelDocument,
  type ChannelRelease,
  MAX_CHANNEL_RELEASES,
  MAX_CHANNEL_YANKS,
  manifestOfRelease,
  parseChannelDocument,
  parseRolloutSchedule,
  type Rollout,
  rolloutPercentAt,
  serializeChannelDocument,
  yankOf,
} from "../formats/channel.js";
import { ANY_PLATFORM, channelTarget, NATIVE_SCHEMA } from "../formats/native.js";
import { type AppPaths, consistentTargetPath, isoSeconds, makeTargetFile, storeTargetBytes } from "./tuf-repo.js";

/** The Updraft part of a target's `custom` field, when it has one. */
export function updraftCustom(target: TargetFile | undefined): Record<string, unknown> | undefined {
  const updraft = target?.custom.updraft;
  return typeof updraft === "object" && updraft !== null ? (updraft as Record<string, unknown>) : undefined;
}

/** The channels the targets metadata lists a document for, sorted. */
export function channelsOf(targets: Record<string, TargetFile>): string[] {
  const out: string[] = [];
  for (const target of Object.values(targets)) {
    const custom = updraftCustom(target);
    if (custom?.kind === "channel" && typeof custom.channel === "string") out.push(custom.channel);
  }
  return out.sort();
}

/** The channel document of `channel` as the repository holds it, or undefined when the channel has none yet. */
export async function readChannelDocument(
  paths: AppPaths,
  targets: Record<string, TargetFile>,
  channel: string,
): Promise<ChannelDocument | undefined> {
  const target = targets[channelTarget(channel)];
  if (target === undefined) return undefined;
  const file = consistentTargetPath(paths, target.path, target.hashes.sha256 ?? "");
  return parseChannelDocument(await readFile(file, "utf8"), file);
}

/** An empty document for a new channel (its pointer fields are set by {@link storeChannelDocument}). */
export function emptyChannelDocument(app: string, channel: string): ChannelDocument {
  return {
    schema: NATIVE_SCHEMA,
    app,
    channel,
    version: "0",
    manifest: "",
    releasedAt: "",
    channelSchema: CHANNEL_SCHEMA,
    releases: [],
    yanked: [],
  };
}

/**
 * The release the first pointer's fields name, for clients that read only those: the newest
 * release not yanked whose rollout is complete at `now`, with a build for `any` (such clients know
 * nothing of platforms: a single platform's build would reach installs of every other platform);
 * else the oldest such release the document keeps.
 */
function pointerRelease(doc: ChannelDocument, now: Date): { release: ChannelRelease; platform: string } | undefined {
  const eligible = doc.releases.filter(
    (r) => yankOf(doc, r.version) === undefined && r.platforms.includes(ANY_PLATFORM),
  );
  const release = eligible.find((r) => rolloutPercentAt(r, now) >= 100) ?? eligible[eligible.length - 1];
  if (release === undefined) return undefined;
  return { release, platform: ANY_PLATFORM };
}

/**
 * `doc` kept within its bounds: releases newest first, down to the point where every platform of
 * the channel has two releases every install may take (not yanked, rollout complete at `now`): the
 * one offered and the one a yank of it falls back to; older ones can no longer be offered. At most
 * {@link MAX_CHANNEL_RELEASES}; yanks newest first. A check fetches the document, so its size does
 * not grow with the history.
 */
function bounded(doc: ChannelDocument, now: Date): ChannelDocument {
  const sorted = [...doc.releases].sort((a, b) => compareVersions(b.version, a.version));
  const platforms = new Set(sorted.flatMap((r) => r.platforms));
  const complete = new Map<string, number>();
  const count = (platform: string) => complete.get(platform) ?? 0;
  const covered = (p: string) => count(p) + (p === ANY_PLATFORM ? 0 : count(ANY_PLATFORM)) >= 2;
  const releases: ChannelRelease[] = [];
  for (const release of sorted) {
    if (releases.length >= MAX_CHANNEL_RELEASES || [...platforms].every(covered)) break;
    releases.push(release);
    if (yankOf(doc, release.version) === undefined && rolloutPercentAt(release, now) >= 100) {
      for (const p of release.platforms) complete.set(p, count(p) + 1);
    }
  }
  return { ...doc, releases, yanked: doc.yanked.slice(0, MAX_CHANNEL_YANKS) };
}

/**
 * Stores `doc` as the target `channels/<channel>.json` in `next` (the targets being prepared),
 * its pointer fields naming the release of {@link pointerRelease}. Returns the target's name.
 */
export async function storeChannelDocument(
  paths: AppPaths,
  next: Record<string, TargetFile>,
  doc: ChannelDocument,
  now: Date,
): Promise<string> {
  const kept = bounded(doc, now);
  const pointed = pointerRelease(kept, now);
  // Without such a release the pointer stays where it was (older clients cannot be told less); a
  // new channel without one names the newest release's first build.
  const fallback = doc.manifest === "" ? kept.releases[0] : undefined;
  const named = pointed ?? (fallback ? { release: fallback, platform: fallback.platforms[0]! } : undefined);
  const pointer = named
    ? {
        version: named.release.version,
        manifest: manifestOfRelease(named.release, named.platform),
        releasedAt: named.release.publishedAt,
      }
    : { version: doc.version, manifest: doc.manifest, releasedAt: doc.releasedAt };
  if (pointer.manifest === "") {
    throw new UpdraftError(ErrorCodes.BUILD_INVALID, `Channel "${doc.channel}" would offer no release`, {
      hint: "Publish a release to the channel first.",
    });
  }
  const full: ChannelDocument = { ...kept, ...pointer, schema: NATIVE_SCHEMA, channelSchema: CHANNEL_SCHEMA };
  const bytes = Buffer.from(serializeChannelDocument(parseChannelDocument(serializeChannelDocument(full))));
  const name = channelTarget(doc.channel);
  const stored = await storeTargetBytes(paths, name, bytes);
  next[name] = makeTargetFile(name, stored.length, stored.sha256, {
    kind: "channel",
    channel: doc.channel,
    version: kept.releases[0]?.version ?? pointer.version,
  });
  return name;
}

/**
 * A rollout as the publisher asks for it: one percent from now on, or a schedule such as
 * `5%,25%@24h,100%@72h` (delays from now).
 */
export type RolloutRequest = { percent: number } | { schedule: string };

/** The rollout `request` describes, starting at `now`; `USAGE` when it is malformed. */
export function rolloutOf(request: RolloutRequest, now: Date): Rollout {
  if ("percent" in request) {
    const { percent } = request;
    if (typeof percent !== "number" || !(percent >= 0 && percent <= 100)) {
      throw new UpdraftError(ErrorCodes.USAGE, `Invalid rollout percent ${String(percent)}: give 0 to 100`);
    }
    return { steps: [{ percent, at: isoSeconds(now) }], halted: false };
  }
  const parsed = parseRolloutSchedule(request.schedule, now);
  if ("error" in parsed) {
    throw new UpdraftError(ErrorCodes.USAGE, `Invalid rollout schedule "${request.schedule}": ${parsed.error}`, {
      hint: 'Give percents with delays from now, like "5%,25%@24h,100%@72h" (m, h or d).',
    });
  }
  return { steps: parsed.steps, halted: false };
}

/** A build being published, as {@link placeInChannel} places it. */
export interface ChannelPlacement {
  version: string;
  platform: string;
  publishedAt: string;
  /** Move the channel even to a lower version (the releases above it leave the channel). */
  force: boolean;
  rollout?: Rollout | undefined;
  minimumVersion?: string | undefined;
  critical?: boolean | undefined;
}

/**
 * `doc` with a published build placed in it: a new build of a version the channel offers joins
 * its entry; a version higher than the newest (or any, with `force`) becomes the newest release;
 * a lower one leaves the channel as it is (`document` undefined).
 */
export function placeInChannel(
  doc: ChannelDocument,
  placement: ChannelPlacement,
): { document?: ChannelDocument; higher: boolean; addedBuild: boolean } {
  const { version, platform, rollout, minimumVersion, critical } = placement;
  const flags = {
    ...(rollout !== undefined ? { rollout } : {}),
    ...(minimumVersion !== undefined ? { minimumVersion } : {}),
    ...(critical === true ? { critical: true } : {}),
  };
  const entry = doc.releases.find((r) => compareVersions(r.version, version) === 0);
  const yanked = placement.force ? doc.yanked.filter((y) => compareVersions(y.version, version) !== 0) : doc.yanked;
  if (entry !== undefined) {
    const platforms = [...new Set([...entry.platforms, platform])].sort();
    // A first-layout release keeps its `any` build's name until that build is published again.
    const { legacyManifest, ...rest } = entry;
    const keepLegacy = legacyManifest !== undefined && platform !== ANY_PLATFORM ? { legacyManifest } : {};
    const updated: ChannelRelease = { ...rest, ...keepLegacy, platforms, ...flags };
    const releases = doc.releases.map((r) => (r === entry ? updated : r));
    return { document: { ...doc, releases, yanked }, higher: false, addedBuild: true };
  }
  const newest = doc.releases[0];
  const higher = newest === undefined || compareVersions(version, newest.version) > 0;
  if (!higher && !placement.force) return { higher, addedBuild: false };
  const added: ChannelRelease = { version, platforms: [platform], publishedAt: placement.publishedAt, ...flags };
  const below = doc.releases.filter((r) => compareVersions(r.version, version) < 0);
  return { document: { ...doc, releases: [added, ...below], yanked }, higher, addedBuild: false };
}

/**
 * The channel document (`channels/<channel>.json`, a signed target): which releases a channel
 * offers, to which platforms, to what share of installs (rollout), which ones installs must take
 * (minimum version), and which ones were pulled back (yanks). Version 2 of the channel pointer:
 * it keeps the first pointer's fields at the top, so clients that read only those still update.
 * Pure parse/serialize: no I/O. See docs/format.md and docs/design/metadata-layout-v2.md.
 */
import { compareVersions } from "../core/version.js";
import {
  ANY_PLATFORM,
  APP_NAME_PATTERN,
  asObject,
  CHANNEL_PATTERN,
  type ChannelPointer,
  documentName,
  invalid,
  manifestTarget,
  NATIVE_SCHEMA,
  nameField,
  nativeDocument,
  optionalBoolean,
  PLATFORM_PATTERN,
  safePath,
  str,
  versionField,
} from "./native.js";

/** Version of the channel document's own content (`channelSchema`); the pointer fields keep `schema` 1 for older clients. */
export const CHANNEL_SCHEMA = 2;
/** Releases a channel document keeps, newest first: the newest, the ones it replaces, and room for yanks. */
export const MAX_CHANNEL_RELEASES = 8;
/** Yanks a channel document keeps, newest first. */
export const MAX_CHANNEL_YANKS = 64;
/** Steps a rollout schedule may have. */
export const MAX_ROLLOUT_STEPS = 16;

/** One step of a rollout: from `at` on, `percent` of installs are offered the release. */
export interface RolloutStep {
  /** Share of installs, 0 to 100 (two decimals count: installs fall in buckets of 0.01 %). */
  percent: number;
  /** ISO 8601 date-time from which the step applies. */
  at: string;
}

/** A staged rollout of a release. */
export interface Rollout {
  /** In time order; before the first step's `at`, no install is offered the release. */
  steps: RolloutStep[];
  /** True when the publisher halted it: no new install takes the release, whatever the steps say. */
  halted: boolean;
}

/** One release a channel offers. */
export interface ChannelRelease {
  version: string;
  /** Platforms with a build of this version (`any`, or Node's `os-arch`), sorted. */
  platforms: string[];
  /** ISO 8601 date-time when the version was first published to (or promoted into) this channel. */
  publishedAt: string;
  /** Absent: every install is offered it. */
  rollout?: Rollout;
  /** The publisher marked it critical (`publish --critical`). */
  critical?: boolean;
  /** Installs below this version must take this release (`publish --minimum-version`). */
  minimumVersion?: string;
  /**
   * The manifest of a release published before platforms (its only build, `any`, under the first
   * layout's names); absent for releases with per-platform targets.
   */
  legacyManifest?: string;
}

/** A release pulled back from the channel. */
export interface YankedRelease {
  version: string;
  /** Why, for people (shown by `check`). */
  reason?: string;
  /** ISO 8601 date-time of the yank. */
  at?: string;
}

/**
 * The channel document. The first six fields are the first channel pointer's (see
 * {@link ChannelPointer}): they name one release, for clients that know nothing else.
 */
export interface ChannelDocument extends ChannelPointer {
  /** 2 for a channel document; a first-layout pointer read by {@link parseChannelDocument} gives 1. */
  channelSchema: 1 | typeof CHANNEL_SCHEMA;
  /** Newest first. */
  releases: ChannelRelease[];
  /** Newest first. */
  yanked: YankedRelease[];
}

function isoField(obj: Record<string, unknown>, doc: string, field: string, optional = false): string | undefined {
  const v = str(obj, doc, field, optional);
  if (v !== undefined && Number.isNaN(Date.parse(v))) invalid(doc, field, `"${v}" is not an ISO 8601 date-time`);
  return v;
}

/** `obj[key]` as an array (absent: empty); `label` names it in errors. */
function arrayField(obj: Record<string, unknown>, doc: string, key: string, label = key): unknown[] {
  const v = obj[key] ?? [];
  if (!Array.isArray(v)) invalid(doc, label, "must be an array");
  return v;
}

function parseRollout(value: unknown, doc: string, field: string): Rollout {
  const o = asObject(value, doc, field);
  const raw = arrayField(o, doc, "steps", `${field}.steps`);
  if (raw.length === 0 || raw.length > MAX_ROLLOUT_STEPS) {
    invalid(doc, `${field}.steps`, `must hold 1 to ${MAX_ROLLOUT_STEPS} steps`);
  }
  const steps = raw.map((s, i) => {
    const step = asObject(s, doc, `${field}.steps[${i}]`);
    const percent = step.percent;
    if (typeof percent !== "number" || !(percent >= 0 && percent <= 100)) {
      invalid(doc, `${field}.steps[${i}].percent`, "must be a number from 0 to 100");
    }
    return { percent, at: isoField(step, doc, "at")! };
  });
  for (let i = 1; i < steps.length; i++) {
    if (Date.parse(steps[i]!.at) < Date.parse(steps[i - 1]!.at)) {
      invalid(doc, `${field}.steps[${i}].at`, "must not be before the previous step");
    }
  }
  const halted = optionalBoolean(o, doc, "halted") ?? false;
  return { steps, halted };
}

function parseRelease(value: unknown, doc: string, field: string): ChannelRelease {
  const o = asObject(value, doc, field);
  const platforms = arrayField(o, doc, "platforms", `${field}.platforms`).map((p, i) => {
    if (typeof p !== "string" || !PLATFORM_PATTERN.test(p)) {
      invalid(doc, `${field}.platforms[${i}]`, `must match ${PLATFORM_PATTERN}`);
    }
    return p;
  });
  if (platforms.length === 0) invalid(doc, `${field}.platforms`, "must name at least one platform");
  if (new Set(platforms).size !== platforms.length) invalid(doc, `${field}.platforms`, "lists a platform twice");
  const minimumVersion = versionField(o, doc, "minimumVersion", true);
  const critical = optionalBoolean(o, doc, "critical");
  const legacy = str(o, doc, "legacyManifest", true);
  return {
    version: versionField(o, doc, "version")!,
    platforms: [...platforms].sort(),
    publishedAt: isoField(o, doc, "publishedAt")!,
    ...(o.rollout !== undefined ? { rollout: parseRollout(o.rollout, doc, `${field}.rollout`) } : {}),
    ...(critical !== undefined ? { critical } : {}),
    ...(minimumVersion !== undefined ? { minimumVersion } : {}),
    ...(legacy !== undefined ? { legacyManifest: safePath(legacy, doc, `${field}.legacyManifest`) } : {}),
  };
}

/**
 * Parses and validates a channel document, or a first-layout channel pointer (turned into a
 * document with its one release, built for `any`). `source` (a file or URL) is named in errors.
 */
export function parseChannelDocument(input: string | unknown, source?: string): ChannelDocument {
  const doc = documentName("channel document", source);
  const obj = nativeDocument(input, doc);
  const pointer: ChannelPointer = {
    schema: NATIVE_SCHEMA,
    app: nameField(obj, doc, "app", APP_NAME_PATTERN),
    channel: nameField(obj, doc, "channel", CHANNEL_PATTERN),
    version: versionField(obj, doc, "version")!,
    manifest: safePath(str(obj, doc, "manifest")!, doc, "manifest"),
    releasedAt: str(obj, doc, "releasedAt")!,
  };
  if (obj.channelSchema === undefined) {
    const minimumVersion = versionField(obj, doc, "minimumVersion", true);
    const critical = optionalBoolean(obj, doc, "critical");
    const only: ChannelRelease = {
      version: pointer.version,
      platforms: [ANY_PLATFORM],
      publishedAt: pointer.releasedAt,
      ...(critical !== undefined ? { critical } : {}),
      ...(minimumVersion !== undefined ? { minimumVersion } : {}),
      legacyManifest: pointer.manifest,
    };
    return { ...pointer, channelSchema: 1, releases: [only], yanked: [] };
  }
  if (obj.channelSchema !== CHANNEL_SCHEMA) {
    invalid(
      doc,
      "channelSchema",
      `must be ${CHANNEL_SCHEMA} (got ${JSON.stringify(obj.channelSchema)}); a newer Updraft may be needed`,
    );
  }
  const releases = arrayField(obj, doc, "releases").map((r, i) => parseRelease(r, doc, `releases[${i}]`));
  if (releases.length > MAX_CHANNEL_RELEASES) invalid(doc, "releases", `holds more than ${MAX_CHANNEL_RELEASES}`);
  for (let i = 1; i < releases.length; i++) {
    if (compareVersions(releases[i]!.version, releases[i - 1]!.version) >= 0) {
      invalid(doc, `releases[${i}].version`, "must be lower than the release before it (newest first)");
    }
  }
  const yanked = arrayField(obj, doc, "yanked").map((y, i) => {
    const o = asObject(y, doc, `yanked[${i}]`);
    const reason = str(o, doc, "reason", true);
    const at = isoField(o, doc, "at", true);
    return {
      version: versionField(o, doc, "version")!,
      ...(reason !== undefined ? { reason } : {}),
      ...(at !== undefined ? { at } : {}),
    };
  });
  if (yanked.length > MAX_CHANNEL_YANKS) invalid(doc, "yanked", `holds more than ${MAX_CHANNEL_YANKS}`);
  return { ...pointer, channelSchema: CHANNEL_SCHEMA, releases, yanked };
}

/** The channel document as stored: the pointer fields first, so a reader of the first layout finds them at the top. */
export function serializeChannelDocument(doc: ChannelDocument): string {
  const { schema, app, channel, version, manifest, releasedAt, releases, yanked } = doc;
  const ordered = {
    schema,
    app,
    channel,
    version,
    manifest,
    releasedAt,
    channelSchema: CHANNEL_SCHEMA,
    releases,
    yanked,
  };
  // Compact: every check that finds an update fetches this document, and people read it with `jq`.
  return `${JSON.stringify(ordered)}\n`;
}

/** The yank of `version` in `doc`, if it was yanked. */
export function yankOf(doc: Pick<ChannelDocument, "yanked">, version: string): YankedRelease | undefined {
  return doc.yanked.find((y) => compareVersions(y.version, version) === 0);
}

/**
 * The share of installs (0–100) offered `release` at `now`: 100 without a rollout, 0 when halted
 * or before the first step, else the percent of the last step whose time has come.
 */
export function rolloutPercentAt(release: Pick<ChannelRelease, "rollout">, now: Date): number {
  const rollout = release.rollout;
  if (rollout === undefined) return 100;
  if (rollout.halted) return 0;
  let percent = 0;
  for (const step of rollout.steps) if (Date.parse(step.at) <= now.getTime()) percent = step.percent;
  return percent;
}

/**
 * Parses a rollout schedule such as `5%,25%@24h,100%@72h`: each step is a percent, and from the
 * second on, `@` and how long after `start` it applies (`m`, `h` or `d`). Percents must not go
 * down and times must go up. Returns undefined (with why) when malformed.
 */
export function parseRolloutSchedule(text: string, start: Date): { steps: RolloutStep[] } | { error: string } {
  const parts = text.split(",").map((p) => p.trim());
  if (parts.length === 0 || parts.length > MAX_ROLLOUT_STEPS) return { error: `give 1 to ${MAX_ROLLOUT_STEPS} steps` };
  const unitMs: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
  const steps: RolloutStep[] = [];
  let lastOffset = -1;
  let lastPercent = -1;
  for (const [i, part] of parts.entries()) {
    const m = /^(\d{1,3}(?:\.\d{1,2})?)%?(?:@(\d{1,5})([mhd]))?$/.exec(part);
    if (!m) return { error: `"${part}" is not PERCENT% or PERCENT%@DELAY (like 25%@24h)` };
    const percent = Number(m[1]);
    if (percent > 100) return { error: `"${part}": a percent is at most 100` };
    if (percent < lastPercent) return { error: `"${part}": percents must not go down` };
    const offset = m[2] === undefined ? 0 : Number(m[2]) * unitMs[m[3]!]!;
    if (i > 0 && m[2] === undefined) return { error: `"${part}": every step after the first needs @DELAY` };
    if (offset <= lastOffset) return { error: `"${part}": each step must come after the one before` };
    steps.push({ percent, at: new Date(start.getTime() + offset).toISOString().replace(/\.\d{3}Z$/, "Z") });
    lastOffset = offset;
    lastPercent = percent;
  }
  return { steps };
}

/** The manifest target of `release`'s build for `platform`. */
export function manifestOfRelease(release: ChannelRelease, platform: string): string {
  return platform === ANY_PLATFORM && release.legacyManifest !== undefined
    ? release.legacyManifest
    : manifestTarget(release.version, platform);
}

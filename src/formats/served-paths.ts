/**
 * What a repository publishes, path by path: the allow-list of a server, the "path kind" of an
 * access log and the cache rule of every file. The target names come from the naming functions
 * of the formats (`channelTarget`, `manifestTarget`, `fullArchiveTarget`, `deltaTarget`, the
 * legacy file names), turned into matchers, so a change of layout is made in one place.
 * Pure: no I/O.
 */
import { isSha256Hex } from "../core/hash.js";
import { isValidVersion } from "../core/version.js";
import { deltaTarget } from "./delta.js";
import {
  CHANNEL_PATTERN,
  channelTarget,
  fullArchiveTarget,
  manifestPatchTarget,
  manifestTarget,
  metadataPath,
  PLATFORM_PATTERN,
  targetsPath,
} from "./native.js";
import { UPDATE_JSON_FILE } from "./update-json.js";
import { saauZipName, VERSAO_FILE } from "./versao.js";

/**
 * The kinds of file a repository serves:
 * - `timestamp`: the app's `timestamp.json`, the one name a client asks for on every check;
 * - `metadata`: any other signed TUF metadata file (`root.json`, `<N>.<role>.json`);
 * - `channel`, `manifest`, `manifest-patch`, `full`, `delta`: the targets of the native format;
 * - `legacy-label`, `legacy-archive`: `versao.txt` / `update.json` and their zips, for older clients.
 */
export type ServedFileKind =
  | "timestamp"
  | "metadata"
  | "channel"
  | "manifest"
  | "manifest-patch"
  | "full"
  | "delta"
  | "legacy-label"
  | "legacy-archive";

/** A path a repository server may serve, and what it is. */
export interface ServedFile {
  /** The app (the first folder of the path). */
  readonly app: string;
  readonly kind: ServedFileKind;
  /** The release the file belongs to (manifests, archives, deltas: the version they install). */
  readonly version?: string;
  /** For deltas and manifest patches: the version the file applies to. */
  readonly from?: string;
  /** For deltas: the delta's encoding (the `<kind>` of `<from>.<kind>.udelta`). */
  readonly deltaKind?: string;
  /** For the targets of a per-platform build: its platform (`any` or `os-arch`). */
  readonly platform?: string;
  /** For channel pointers: the channel. */
  readonly channel?: string;
  /**
   * True if the name never changes content (versioned metadata, content-addressed targets), so
   * caches may keep it for a year; false for names that publishing rewrites.
   */
  readonly immutable: boolean;
}

/** `Cache-Control` of names that never change content. */
export const CACHE_IMMUTABLE = "public, max-age=31536000, immutable";
/**
 * `Cache-Control` of names publishing rewrites (`timestamp.json`, `root.json`, legacy labels):
 * caches may reuse a copy for 60 seconds, then must revalidate (cheap with the `ETag`). A new
 * release therefore reaches every client within a minute, and a CDN answers the bulk of checks.
 */
export const CACHE_MUTABLE = "public, max-age=60, must-revalidate";

/** The `Cache-Control` a host should send for a served file. */
export function cacheControlOf(file: ServedFile): string {
  return file.immutable ? CACHE_IMMUTABLE : CACHE_MUTABLE;
}

/** A name built by a naming function, matched back into the values it was built from. */
type NameMatcher = (name: string) => readonly string[] | undefined;

/** One argument of a naming function: the text it may hold (a regular expression fragment). */
const ANY_SEGMENT = "[^/]+";
const LOWER_WORD = "[a-z0-9-]+";

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Calls `name` with placeholders and turns the result into a matcher: each argument becomes a
 * capture of `fragments[i]`, and an argument used twice must hold the same text both times.
 */
function matcherOf(fragments: readonly string[], name: (...args: string[]) => string): NameMatcher {
  // Private-use characters: no name ever holds them.
  const holes = fragments.map((_, i) => `\uE000${i}\uE001`);
  const parts = name(...holes).split(/\uE000(\d+)\uE001/);
  let source = "";
  const seen = new Set<number>();
  parts.forEach((part, i) => {
    if (i % 2 === 0) {
      source += escapeRegExp(part);
      return;
    }
    const hole = Number(part);
    source += seen.has(hole) ? `\\k<a${hole}>` : `(?<a${hole}>${fragments[hole]})`;
    seen.add(hole);
  });
  const pattern = new RegExp(`^${source}$`);
  return (text) => {
    const groups = pattern.exec(text)?.groups;
    return groups === undefined ? undefined : fragments.map((_, i) => groups[`a${i}`] ?? "");
  };
}

const CHANNEL = matcherOf([ANY_SEGMENT], channelTarget);
const MANIFEST = matcherOf([ANY_SEGMENT], manifestTarget);
const MANIFEST_PATCH = matcherOf([ANY_SEGMENT, ANY_SEGMENT], manifestPatchTarget);
const FULL = matcherOf([ANY_SEGMENT, ANY_SEGMENT], fullArchiveTarget);
const DELTA = matcherOf([ANY_SEGMENT, ANY_SEGMENT, LOWER_WORD], deltaTarget);
const PLATFORM_MANIFEST = matcherOf([ANY_SEGMENT, ANY_SEGMENT], manifestTarget);
const PLATFORM_FULL = matcherOf([ANY_SEGMENT, ANY_SEGMENT, ANY_SEGMENT], fullArchiveTarget);
const PLATFORM_DELTA = matcherOf([ANY_SEGMENT, ANY_SEGMENT, LOWER_WORD, ANY_SEGMENT], deltaTarget);
const PLATFORM_MANIFEST_PATCH = matcherOf([ANY_SEGMENT, ANY_SEGMENT, ANY_SEGMENT], manifestPatchTarget);
const LEGACY_ZIP = matcherOf([ANY_SEGMENT, ANY_SEGMENT], saauZipName);
const METADATA_FILE = /^(?:(\d+)\.)?[a-z0-9][a-z0-9._-]*\.json$/;
const TIMESTAMP_FILE = "timestamp.json";

/** The logical TUF target name of a stored consistent-snapshot name (`dir/<sha256>.<name>`). */
function logicalTarget(stored: string): string | undefined {
  const slash = stored.lastIndexOf("/");
  const base = stored.slice(slash + 1);
  const dot = base.indexOf(".");
  if (dot !== 64 || !isSha256Hex(base.slice(0, 64))) return undefined;
  return stored.slice(0, slash + 1) + base.slice(65);
}

/** The targets of a per-platform build (`releases/<version>/<platform>/…`). */
function classifyPlatformTarget(app: string, name: string): ServedFile | undefined {
  const manifest = PLATFORM_MANIFEST(name);
  const full = PLATFORM_FULL(name);
  const delta = PLATFORM_DELTA(name);
  const patch = PLATFORM_MANIFEST_PATCH(name);
  const [version = "", platform = ""] = manifest ??
    (full ? full.slice(1) : undefined) ??
    (patch ? [patch[0], patch[2]] : undefined) ?? [delta?.[0], delta?.[3]];
  if (!isValidVersion(version) || !PLATFORM_PATTERN.test(platform)) return undefined;
  if (manifest) return { app, kind: "manifest", version, platform, immutable: true };
  if (full) return { app, kind: "full", version, platform, immutable: true };
  const from = (patch ?? delta)?.[1] ?? "";
  if (!isValidVersion(from)) return undefined;
  if (patch) return { app, kind: "manifest-patch", version, from, platform, immutable: true };
  return { app, kind: "delta", version, from, deltaKind: delta?.[2] ?? "", platform, immutable: true };
}

/**
 * What the TUF target `name` of `app` is (channel document, manifest, manifest patch, archive or
 * delta, with its version, base and platform), read from the name alone; undefined for any other name.
 */
export function classifyTarget(app: string, name: string): ServedFile | undefined {
  const perPlatform = classifyPlatformTarget(app, name);
  if (perPlatform !== undefined) return perPlatform;
  const channel = CHANNEL(name);
  if (channel !== undefined) {
    const [c = ""] = channel;
    return CHANNEL_PATTERN.test(c) ? { app, kind: "channel", channel: c, immutable: true } : undefined;
  }
  const manifest = MANIFEST(name);
  if (manifest !== undefined) {
    const [version = ""] = manifest;
    return isValidVersion(version) ? { app, kind: "manifest", version, immutable: true } : undefined;
  }
  const patch = MANIFEST_PATCH(name);
  if (patch !== undefined) {
    const [version = "", from = ""] = patch;
    return isValidVersion(version) && isValidVersion(from)
      ? { app, kind: "manifest-patch", version, from, immutable: true }
      : undefined;
  }
  const full = FULL(name);
  if (full !== undefined) {
    const [archiveApp, version = ""] = full;
    return archiveApp === app && isValidVersion(version) ? { app, kind: "full", version, immutable: true } : undefined;
  }
  const delta = DELTA(name);
  if (delta !== undefined) {
    const [version = "", from = "", deltaKind = ""] = delta;
    return isValidVersion(version) && isValidVersion(from)
      ? { app, kind: "delta", version, from, deltaKind, immutable: true }
      : undefined;
  }
  return undefined;
}

function classifyLegacy(app: string, name: string): ServedFile | undefined {
  if (name === VERSAO_FILE || name === UPDATE_JSON_FILE) return { app, kind: "legacy-label", immutable: false };
  const zip = LEGACY_ZIP(name);
  if (zip === undefined || zip[0] !== app.toLowerCase()) return undefined;
  const [, version = ""] = zip;
  return { app, kind: "legacy-archive", version, immutable: false };
}

/** The native files of an app whose folder starts `relPath`. */
function classifyNative(relPath: string, app: string): ServedFile | undefined {
  const metadataPrefix = `${metadataPath(app)}/`;
  const targetsPrefix = `${targetsPath(app)}/`;
  if (relPath.startsWith(metadataPrefix)) {
    const name = relPath.slice(metadataPrefix.length);
    const match = METADATA_FILE.exec(name);
    if (match === null) return undefined;
    if (name === TIMESTAMP_FILE) return { app, kind: "timestamp", immutable: false };
    return { app, kind: "metadata", immutable: match[1] !== undefined };
  }
  if (relPath.startsWith(targetsPrefix)) {
    const logical = logicalTarget(relPath.slice(targetsPrefix.length));
    return logical === undefined ? undefined : classifyTarget(app, logical);
  }
  return undefined;
}

/**
 * What the POSIX path `relPath` (relative to the served folder) is, or `undefined` if a
 * repository does not publish such a name (key files, build folders, notes, anything else left in
 * the folder): a server answers those with 404. The repository may lie in a subfolder of the
 * served folder (one host serving several repositories). Temporary and hidden names are never
 * published.
 */
export function classifyServedPath(relPath: string): ServedFile | undefined {
  const segments = relPath.split("/");
  let offset = 0;
  for (let i = 0; i < segments.length - 1; i++) {
    const app = segments[i] ?? "";
    const found = app === "" ? undefined : classifyNative(relPath.slice(offset), app);
    if (found !== undefined) return found;
    offset += app.length + 1;
  }
  const app = segments[segments.length - 2];
  return app === undefined || app === "" ? undefined : classifyLegacy(app, segments[segments.length - 1] ?? "");
}

/**
 * Updraft's own repository format: target names inside an app's TUF repository, the signed
 * release manifest, the channel pointer and the `updraft.json` an installed copy carries.
 * Pure parse/serialize: no I/O. See docs/format.md.
 */
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { assertSafeRelativePath } from "../core/fs.js";
import { isSha256Hex } from "../core/hash.js";
import { isJsonObject } from "../core/json.js";
import { isValidVersion } from "../core/version.js";

/** Current schema number of every native document. Readers refuse a higher one. */
export const NATIVE_SCHEMA = 1;

/** File names that every release carries at its root. */
export const EMBEDDED_CONFIG_FILE = "updraft.json";
/** The trusted TUF root embedded in each release. */
export const EMBEDDED_ROOT_FILE = "updraft-root.json";

/** App names: lower case, digits, `.`, `_`, `-`; they are folder names in the repository. */
export const APP_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Channel names follow the same rule. */
export const CHANNEL_PATTERN = /^[a-z0-9][a-z0-9._-]{0,31}$/;
/** Platform names: `any`, or Node's `process.platform` and `process.arch` joined by `-` (`linux-x64`, `win32-arm64`). */
export const PLATFORM_PATTERN = /^(?:any|[a-z][a-z0-9]{1,15}-[a-z][a-z0-9]{1,15})$/;
/** The platform of a build that runs anywhere (the default of `publish`). */
export const ANY_PLATFORM = "any";

/**
 * Windows device names: no Windows file system can hold a file or folder named so, with or
 * without an extension.
 */
const WINDOWS_DEVICE_NAME = /^(?:con|prn|aux|nul|com[1-9]|lpt[1-9])(?:\.|$)/i;
/** Suffixes of temporary files, which servers (this one included) never serve. */
const TEMPORARY_SUFFIX = /\.(?:tmp|temp|part|partial|swp)$/i;
/** Longest version publish accepts, so that every file name built from it stays far below 255 bytes. */
export const MAX_PUBLISHED_VERSION_LENGTH = 64;

/**
 * Why `name` (an app, channel or version: each becomes a folder or file name in the repository)
 * cannot be published, or `undefined` if every server and file system can carry it. Readers
 * keep accepting what {@link APP_NAME_PATTERN}, {@link CHANNEL_PATTERN} and `isValidVersion`
 * allow; publish is stricter, so that nothing it writes is hidden by a server or refused by a
 * file system:
 * - a temporary-file suffix (`.tmp`, `.part`, …): servers hide such names;
 * - a trailing `.`: Windows drops it, so the name would change;
 * - a Windows device name (`con`, `nul`, `com1`, …, also before a dot);
 * - `+` (semver build metadata): S3 and some CDNs read `+` in a path as a space.
 */
export function unpublishableNameReason(name: string): string | undefined {
  if (TEMPORARY_SUFFIX.test(name)) return "ends like a temporary file, which servers do not serve";
  if (name.endsWith(".")) return "ends with '.', which Windows drops from file names";
  if (WINDOWS_DEVICE_NAME.test(name)) return "is a Windows device name, which no Windows folder can hold";
  if (name.includes("+")) return "contains '+', which S3 and some CDNs read as a space in a path";
  return undefined;
}

/** Why `version` cannot be published (see {@link unpublishableNameReason}), or `undefined`. */
export function unpublishableVersionReason(version: string): string | undefined {
  if (version.length > MAX_PUBLISHED_VERSION_LENGTH) return `is longer than ${MAX_PUBLISHED_VERSION_LENGTH} characters`;
  return unpublishableNameReason(version);
}

/** Kinds of downloadable artifact a release lists. Later releases add delta kinds. */
export type ArtifactKind = "full" | (string & {});

/** One regular file of a release. */
export interface ManifestFile {
  /** POSIX relative path inside the release. */
  path: string;
  /** Byte length. */
  size: number;
  /** Lower-case hex sha256 of the content. */
  sha256: string;
  /** Permission bits: 0o755 for executables, 0o644 otherwise. */
  mode: number;
}

/** One symbolic link of a release; its target must resolve inside the release. */
export interface ManifestSymlink {
  path: string;
  target: string;
}

/** A downloadable form of a release (full archive now; deltas from older versions later). */
export interface ArtifactRef {
  kind: ArtifactKind;
  /** TUF target name. */
  target: string;
  /** Byte length (also signed in the TUF targets metadata). */
  size: number;
  /** Lower-case hex sha256 (also signed in the TUF targets metadata). */
  sha256: string;
  /** For deltas: the version this artifact applies to. */
  from?: string;
}

/**
 * How a new version proves it works after an update, declared by the publisher
 * (`publish --health confirm|uptime:SECONDS|none`):
 * - `confirm`: the app calls `confirm()` (or `updraft confirm`) within the health timeout of its launch;
 * - `uptime`: the app is still running `seconds` after its launch, or exits 0 before (an explicit
 *   `confirm()` counts at once); apps need no code for this one;
 * - `none`: no probation, the version is known-good once installed.
 */
export type HealthPolicy = { kind: "confirm" } | { kind: "uptime"; seconds: number } | { kind: "none" };

/** The policy of releases that declare none: still running after 10 s, or exited 0. */
export const DEFAULT_HEALTH: HealthPolicy = { kind: "uptime", seconds: 10 };

/** Longest uptime a release may ask for: one day. */
export const MAX_HEALTH_UPTIME_SECONDS = 86_400;

/** Parses `confirm`, `none` or `uptime:SECONDS` (1 to 86400); undefined when malformed. */
export function parseHealthPolicy(text: string): HealthPolicy | undefined {
  if (text === "confirm" || text === "none") return { kind: text };
  const m = /^uptime:(\d{1,5})$/.exec(text);
  const seconds = m ? Number(m[1]) : Number.NaN;
  return seconds >= 1 && seconds <= MAX_HEALTH_UPTIME_SECONDS ? { kind: "uptime", seconds } : undefined;
}

/** The health policy a release declares, or {@link DEFAULT_HEALTH}. */
export function healthPolicyOf(manifest: Pick<ReleaseManifest, "health">): HealthPolicy {
  return (manifest.health === undefined ? undefined : parseHealthPolicy(manifest.health)) ?? DEFAULT_HEALTH;
}

/** The text form of a policy, as `publish --health` takes it and manifests store it. */
export function formatHealthPolicy(policy: HealthPolicy): string {
  return policy.kind === "uptime" ? `uptime:${policy.seconds}` : policy.kind;
}

/** The signed description of one release: every file, and how to download it. */
export interface ReleaseManifest {
  schema: typeof NATIVE_SCHEMA;
  app: string;
  version: string;
  channel: string;
  /** ISO date-time of publication. */
  releasedAt: string;
  notes?: string;
  /** Installs below this version must update (the channel document carries it to clients). */
  minimumVersion?: string;
  /** The publisher marked the release critical (`publish --critical`). */
  critical?: boolean;
  /** The build's platform (Node's `os-arch`, or `any`); absent in releases published before platforms, meaning `any`. */
  platform?: string;
  /** How the new version proves it works after an update (text of a {@link HealthPolicy}); see {@link healthPolicyOf}. */
  health?: string;
  /**
   * Where installs send their anonymous health reports about this release (`publish --report-url`);
   * absent: no reports (the default).
   */
  reportUrl?: string;
  files: ManifestFile[];
  symlinks: ManifestSymlink[];
  artifacts: ArtifactRef[];
}

/** The signed pointer from a channel to its current release. */
export interface ChannelPointer {
  schema: typeof NATIVE_SCHEMA;
  app: string;
  channel: string;
  version: string;
  /** TUF target name of the release manifest. */
  manifest: string;
  releasedAt: string;
  /** Staged rollout: the share of installs (0–100) offered this version. Absent means 100. */
  rolloutPercentage?: number;
  minimumVersion?: string;
  critical?: boolean;
}

/** `updraft.json`: how an installed copy finds its updates. */
export interface AppConfig {
  /** Schema number of the document ({@link NATIVE_SCHEMA}). */
  schema: typeof NATIVE_SCHEMA;
  /** The app's name in the repository. */
  app: string;
  /** Base URL of the repository (the folder that holds `<app>/metadata`). May be absent in a release built without `--url`. */
  url?: string;
  /** The channel the install follows (`stable` unless chosen otherwise). */
  channel: string;
  /**
   * Other base URLs serving the same repository (copies made by `updraft mirror sync`, a CDN), tried
   * in order before `url` (at most 16). Only the install's own configuration has them.
   */
  mirrors?: string[];
  /**
   * The platform whose builds the install takes when it is not the machine's own (chosen at install
   * with `--platform`, e.g. `darwin-x64` under Rosetta), so later updates keep taking it.
   */
  platform?: string;
}

/** Most mirrors an install configuration may list. */
export const MAX_MIRRORS = 16;

/** TUF target name of a channel pointer. */
export function channelTarget(channel: string): string {
  return `channels/${channel}.json`;
}

/**
 * TUF target name of a release manifest: of the build for `platform` (`releases/<version>/<platform>/manifest.json`),
 * or without `platform` the single build of a release published in the first layout (`releases/<version>/manifest.json`).
 */
export function manifestTarget(version: string, platform?: string): string {
  return platform === undefined ? `releases/${version}/manifest.json` : `releases/${version}/${platform}/manifest.json`;
}

/**
 * TUF target name of a release's full archive: of the build for `platform` (`releases/<version>/<platform>/full.tar.zst`),
 * or without `platform` in the first layout (`releases/<version>/<app>-<version>.tar.zst`).
 */
export function fullArchiveTarget(app: string, version: string, platform?: string): string {
  return platform === undefined
    ? `releases/${version}/${app}-${version}.tar.zst`
    : `releases/${version}/${platform}/full.tar.zst`;
}

/** The folder every target of a release lives under (`releases/<version>/`), with its trailing slash. */
export function releaseTargetPrefix(version: string): string {
  return `releases/${version}/`;
}

/** The release version a target belongs to (`releases/<version>/…`), or undefined for another target. */
export function releaseOfTarget(name: string): string | undefined {
  const m = /^releases\/([^/]+)\/./.exec(name);
  return m?.[1];
}

/**
 * TUF target name of the zstd patch that turns release `from`'s manifest into `version`'s (applied
 * with the old manifest as raw dictionary, like `zstd --patch-from`): beside the manifest of the
 * build for `platform` (both manifests of that platform), or without `platform` in the first layout.
 */
export function manifestPatchTarget(version: string, from: string, platform?: string): string {
  const folder = platform === undefined ? `releases/${version}` : `releases/${version}/${platform}`;
  return `${folder}/manifest.from-${from}.zpatch`;
}

/** Repository-relative folder of an app's TUF metadata. */
export function metadataPath(app: string): string {
  return `${app}/metadata`;
}

/** Repository-relative folder of an app's targets. */
export function targetsPath(app: string): string {
  return `${app}/targets`;
}

// ---------------------------------------------------------------------------------------------
// Validation: every reader goes through these, so a bad document fails with the field's name.

export function invalid(doc: string, field: string, why: string): never {
  throw new UpdraftError(ErrorCodes.MANIFEST_INVALID, `Invalid ${doc}: "${field}" ${why}`);
}

export function asObject(value: unknown, doc: string, field: string): Record<string, unknown> {
  if (!isJsonObject(value)) invalid(doc, field, "must be an object");
  return value;
}

export function str(obj: Record<string, unknown>, doc: string, field: string, optional = false): string | undefined {
  const v = obj[field];
  if (v === undefined && optional) return undefined;
  if (typeof v !== "string" || v.length === 0) invalid(doc, field, "must be a non-empty string");
  return v;
}

function schemaOf(obj: Record<string, unknown>, doc: string): typeof NATIVE_SCHEMA {
  if (obj.schema !== NATIVE_SCHEMA) {
    invalid(
      doc,
      "schema",
      `must be ${NATIVE_SCHEMA} (got ${JSON.stringify(obj.schema)}); a newer Updraft may be needed`,
    );
  }
  return NATIVE_SCHEMA;
}

/** How errors name a document: its kind, and where it was read from when known. */
export function documentName(kind: string, source: string | undefined): string {
  return source === undefined ? kind : `${kind} ${source}`;
}

/** The top-level object of a native document given as JSON text or a parsed value, its schema checked. */
export function nativeDocument(input: unknown, doc: string): Record<string, unknown> {
  let value = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch (err) {
      invalid(doc, "(document)", `is not JSON: ${(err as Error).message}`);
    }
  }
  const obj = asObject(value, doc, "(document)");
  schemaOf(obj, doc);
  return obj;
}

export function optionalBoolean(obj: Record<string, unknown>, doc: string, field: string): boolean | undefined {
  const v = obj[field];
  if (v !== undefined && typeof v !== "boolean") invalid(doc, field, "must be a boolean");
  return v;
}

export function versionField(
  obj: Record<string, unknown>,
  doc: string,
  field: string,
  optional = false,
): string | undefined {
  const v = str(obj, doc, field, optional);
  if (v !== undefined && !isValidVersion(v)) invalid(doc, field, `"${v}" is not a valid version`);
  return v;
}

export function nameField(obj: Record<string, unknown>, doc: string, field: string, pattern: RegExp): string {
  const v = str(obj, doc, field)!;
  if (!pattern.test(v)) invalid(doc, field, `"${v}" must match ${pattern}`);
  return v;
}

function sizeField(obj: Record<string, unknown>, doc: string, field: string): number {
  const v = obj[field];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) invalid(doc, field, "must be a non-negative integer");
  return v;
}

function shaField(obj: Record<string, unknown>, doc: string, field: string): string {
  const v = obj[field];
  if (!isSha256Hex(v)) invalid(doc, field, "must be 64 lower-case hex characters (sha256)");
  return v;
}

export function safePath(value: string, doc: string, field: string): string {
  try {
    return assertSafeRelativePath(value, field);
  } catch (err) {
    return invalid(doc, field, (err as Error).message);
  }
}

/**
 * Parses and validates a release manifest (from JSON text or a parsed value). `source` (a file
 * or URL) is named in errors.
 */
export function parseReleaseManifest(input: string | unknown, source?: string): ReleaseManifest {
  const doc = documentName("release manifest", source);
  const obj = nativeDocument(input, doc);
  const files = obj.files;
  if (!Array.isArray(files)) invalid(doc, "files", "must be an array");
  const seen = new Set<string>();
  const seenFolded = new Set<string>();
  const claim = (p: string, field: string) => {
    if (seen.has(p)) invalid(doc, field, `lists "${p}" twice`);
    const folded = p.normalize("NFC").toLowerCase();
    if (seenFolded.has(folded))
      invalid(doc, field, `"${p}" collides with another path on case-insensitive file systems`);
    seen.add(p);
    seenFolded.add(folded);
  };
  const parsedFiles: ManifestFile[] = files.map((f, i) => {
    const o = asObject(f, doc, `files[${i}]`);
    const path = safePath(str(o, doc, "path")!, doc, `files[${i}].path`);
    claim(path, `files[${i}].path`);
    const mode = o.mode;
    if (mode !== 0o755 && mode !== 0o644) invalid(doc, `files[${i}].mode`, "must be 493 (0o755) or 420 (0o644)");
    return { path, size: sizeField(o, doc, "size"), sha256: shaField(o, doc, "sha256"), mode };
  });
  const symlinksRaw = obj.symlinks ?? [];
  if (!Array.isArray(symlinksRaw)) invalid(doc, "symlinks", "must be an array");
  const symlinks: ManifestSymlink[] = symlinksRaw.map((s, i) => {
    const o = asObject(s, doc, `symlinks[${i}]`);
    const path = safePath(str(o, doc, "path")!, doc, `symlinks[${i}].path`);
    claim(path, `symlinks[${i}].path`);
    const target = str(o, doc, "target")!;
    if (!symlinkStaysInside(path, target))
      invalid(doc, `symlinks[${i}].target`, `"${target}" points outside the release`);
    return { path, target };
  });
  const linkPaths = new Set(symlinks.map((l) => l.path));
  for (const p of seen) {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join("/");
      if (linkPaths.has(prefix)) invalid(doc, "symlinks", `"${p}" lies under the symlink "${prefix}"`);
      if (seen.has(prefix) && !linkPaths.has(prefix)) invalid(doc, "files", `"${p}" lies under the file "${prefix}"`);
    }
  }
  const artifactsRaw = obj.artifacts;
  if (!Array.isArray(artifactsRaw)) invalid(doc, "artifacts", "must be an array");
  const artifacts: ArtifactRef[] = artifactsRaw.map((a, i) => {
    const o = asObject(a, doc, `artifacts[${i}]`);
    const from = versionField(o, doc, "from", true);
    return {
      kind: str(o, doc, "kind")!,
      target: safePath(str(o, doc, "target")!, doc, `artifacts[${i}].target`),
      size: sizeField(o, doc, "size"),
      sha256: shaField(o, doc, "sha256"),
      ...(from !== undefined ? { from } : {}),
    };
  });
  const notes = str(obj, doc, "notes", true);
  const minimumVersion = versionField(obj, doc, "minimumVersion", true);
  const critical = optionalBoolean(obj, doc, "critical");
  const healthText = str(obj, doc, "health", true);
  const platform = str(obj, doc, "platform", true);
  if (platform !== undefined && !PLATFORM_PATTERN.test(platform))
    invalid(doc, "platform", `"${platform}" must match ${PLATFORM_PATTERN}`);
  if (healthText !== undefined && !parseHealthPolicy(healthText)) {
    invalid(
      doc,
      "health",
      `"${healthText}" must be confirm, none or uptime:SECONDS (1 to ${MAX_HEALTH_UPTIME_SECONDS})`,
    );
  }
  const reportUrl = str(obj, doc, "reportUrl", true);
  if (reportUrl !== undefined && !isReportUrl(reportUrl)) {
    invalid(doc, "reportUrl", `must be an http or https URL of at most ${MAX_REPORT_URL_LENGTH} characters`);
  }
  return {
    schema: NATIVE_SCHEMA,
    app: nameField(obj, doc, "app", APP_NAME_PATTERN),
    version: versionField(obj, doc, "version")!,
    channel: nameField(obj, doc, "channel", CHANNEL_PATTERN),
    releasedAt: str(obj, doc, "releasedAt")!,
    ...(notes !== undefined ? { notes } : {}),
    ...(reportUrl !== undefined ? { reportUrl } : {}),
    ...(minimumVersion !== undefined ? { minimumVersion } : {}),
    ...(critical !== undefined ? { critical } : {}),
    ...(healthText !== undefined ? { health: healthText } : {}),
    ...(platform !== undefined ? { platform } : {}),
    files: parsedFiles,
    symlinks,
    artifacts,
  };
}

/** Longest report URL a manifest may name. */
export const MAX_REPORT_URL_LENGTH = 2048;

/** True for an absolute http or https URL short enough to be a report URL. */
export function isReportUrl(text: string): boolean {
  if (text.length > MAX_REPORT_URL_LENGTH) return false;
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.username === "" && url.password === "";
  } catch {
    return false;
  }
}

/** Parses and validates a channel pointer; `source` (a file or URL) is named in errors. */
export function parseChannelPointer(input: string | unknown, source?: string): ChannelPointer {
  const doc = documentName("channel pointer", source);
  const obj = nativeDocument(input, doc);
  const rollout = obj.rolloutPercentage;
  if (rollout !== undefined && (typeof rollout !== "number" || !(rollout >= 0 && rollout <= 100))) {
    invalid(doc, "rolloutPercentage", "must be a number from 0 to 100");
  }
  const minimumVersion = versionField(obj, doc, "minimumVersion", true);
  const critical = optionalBoolean(obj, doc, "critical");
  return {
    schema: NATIVE_SCHEMA,
    app: nameField(obj, doc, "app", APP_NAME_PATTERN),
    channel: nameField(obj, doc, "channel", CHANNEL_PATTERN),
    version: versionField(obj, doc, "version")!,
    manifest: safePath(str(obj, doc, "manifest")!, doc, "manifest"),
    releasedAt: str(obj, doc, "releasedAt")!,
    ...(rollout !== undefined ? { rolloutPercentage: rollout } : {}),
    ...(minimumVersion !== undefined ? { minimumVersion } : {}),
    ...(critical !== undefined ? { critical } : {}),
  };
}

/** Parses and validates `updraft.json`; `source` (the file it was read from) is named in errors. */
export function parseAppConfig(input: string | unknown, source?: string): AppConfig {
  const doc = documentName(EMBEDDED_CONFIG_FILE, source);
  const obj = nativeDocument(input, doc);
  const url = str(obj, doc, "url", true);
  if (url !== undefined && !/^(https?|file):\/\//.test(url)) invalid(doc, "url", `"${url}" must be an http(s) URL`);
  const mirrors = obj.mirrors;
  if (mirrors !== undefined) {
    const valid =
      Array.isArray(mirrors) &&
      mirrors.length <= MAX_MIRRORS &&
      mirrors.every((m) => typeof m === "string" && /^https?:\/\/[^\s]+$/.test(m));
    if (!valid) invalid(doc, "mirrors", `must be a list of at most ${MAX_MIRRORS} http(s) URLs`);
  }
  const platform = str(obj, doc, "platform", true);
  if (platform !== undefined && !PLATFORM_PATTERN.test(platform)) {
    invalid(doc, "platform", `"${platform}" must be Node's os-arch (linux-x64, win32-x64…) or any`);
  }
  return {
    schema: NATIVE_SCHEMA,
    app: nameField(obj, doc, "app", APP_NAME_PATTERN),
    ...(url !== undefined ? { url } : {}),
    channel: obj.channel === undefined ? "stable" : nameField(obj, doc, "channel", CHANNEL_PATTERN),
    ...(Array.isArray(mirrors) && mirrors.length > 0 ? { mirrors: mirrors as string[] } : {}),
    ...(platform !== undefined ? { platform } : {}),
  };
}

/** Serializes any native document the same way everywhere (sorted by construction, 2-space JSON). */
export function serializeDocument(doc: ReleaseManifest | ChannelPointer | AppConfig): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** True if a symlink at `linkPath` with target `target` resolves inside the tree root. */
export function symlinkStaysInside(linkPath: string, target: string): boolean {
  if (target.length === 0 || target.startsWith("/") || target.includes("\\") || /^[A-Za-z]:/.test(target)) return false;
  const stack = linkPath.split("/").slice(0, -1);
  for (const part of target.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (stack.length === 0) return false;
      stack.pop();
    } else stack.push(part);
  }
  return true;
}

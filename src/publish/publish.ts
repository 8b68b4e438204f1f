/**
 * The publisher's three operations on an app of a repository: `initApp` (first root and empty
 * roles), `publishRelease` (pack a build, store archive + manifest + channel pointer as targets,
 * sign new metadata) and `refreshTimestamp` (keep metadata from expiring). Each holds the app's
 * publish lock while it writes.
 */
import { lstat, mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import type { TargetFile } from "@tufjs/models";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { exists, removePath } from "../core/fs.js";
import { assertVersion, compareVersions } from "../core/version.js";
import {
  ANY_PLATFORM,
  APP_NAME_PATTERN,
  type AppConfig,
  CHANNEL_PATTERN,
  DEFAULT_HEALTH,
  EMBEDDED_CONFIG_FILE,
  EMBEDDED_ROOT_FILE,
  formatHealthPolicy,
  fullArchiveTarget,
  type HealthPolicy,
  manifestTarget,
  NATIVE_SCHEMA,
  PLATFORM_PATTERN,
  parseReleaseManifest,
  type ReleaseManifest,
  serializeDocument,
  unpublishableNameReason,
  unpublishableVersionReason,
} from "../formats/native.js";
import { type AppSettings, assertRepoUrl, readAppSettings, writeAppSettings } from "./app-settings.js";
import {
  emptyChannelDocument,
  placeInChannel,
  type RolloutRequest,
  readChannelDocument,
  rolloutOf,
  storeChannelDocument,
} from "./channels.js";
import { type BuildDeltasResult, buildReleaseDeltas, type DeltaProgress } from "./delta/build-deltas.js";
import {
  addRelease,
  commitHistory,
  findRelease,
  leanTargetFile,
  loadHistory,
  refreshHistory,
  releaseTargetMap,
} from "./history.js";
import { type KeySet, ONLINE_ROLES, ROLES, type RoleName } from "./keys.js";
import { deltaBases, writeManifestPatches } from "./manifest-patches.js";
import { type ExtraFile, type PackProgress, scanBuild, writeArchive } from "./pack.js";
import { buildsOfRelease, withoutBuild } from "./release-targets.js";
import {
  appPaths,
  assertKeysMatchRoot,
  type CommittedVersions,
  createRepository,
  DEFAULT_EXPIRY_DAYS,
  type ExpiryDays,
  hasRepository,
  isoSeconds,
  loadRepository,
  type RefreshedVersions,
  type RootKeyPlan,
  storeTargetBytes,
  storeTargetFile,
  tempTargetPath,
  withPublishLock,
} from "./tuf-repo.js";

/** The app name, or a `USAGE` error naming what is wrong with it. */
export function assertAppName(app: string): string {
  const reason = APP_NAME_PATTERN.test(app) ? unpublishableNameReason(app) : "is not a valid app name";
  if (reason !== undefined) {
    throw new UpdraftError(ErrorCodes.USAGE, `Invalid app name "${app}": it ${reason}`, {
      hint: "Use 1–64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit and ending with one (e.g. my-app).",
    });
  }
  return app;
}

function assertChannel(channel: string): string {
  const reason = CHANNEL_PATTERN.test(channel) ? unpublishableNameReason(channel) : "is not a valid channel name";
  if (reason !== undefined) {
    throw new UpdraftError(ErrorCodes.USAGE, `Invalid channel name "${channel}": it ${reason}`, {
      hint: "Use 1–32 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. stable, beta).",
    });
  }
  return channel;
}

function assertPublishableVersion(text: string): string {
  const version = assertVersion(text);
  const reason = unpublishableVersionReason(version);
  if (reason !== undefined) {
    throw new UpdraftError(ErrorCodes.VERSION_INVALID, `Version "${version}" cannot be published: it ${reason}`, {
      hint: "Use semver without build metadata (1.2.3, 1.2.3-beta.1) or dotted numbers (10.0.2.0).",
    });
  }
  return version;
}

/** Node's `process.platform` values a build may be published for. */
export const KNOWN_OSES = ["aix", "android", "darwin", "freebsd", "linux", "netbsd", "openbsd", "sunos", "win32"];
/** Node's `process.arch` values a build may be published for. */
export const KNOWN_ARCHES = ["arm", "arm64", "ia32", "loong64", "mips", "mipsel", "ppc64", "riscv64", "s390x", "x64"];

/** `platform` if it is `any` or Node's `os-arch` of a known system; else `USAGE` naming the known ones. */
export function assertPlatform(platform: string): string {
  const [os = "", arch = ""] = platform.split("-");
  if (
    platform === ANY_PLATFORM ||
    (PLATFORM_PATTERN.test(platform) && KNOWN_OSES.includes(os) && KNOWN_ARCHES.includes(arch))
  )
    return platform;
  throw new UpdraftError(ErrorCodes.USAGE, `Invalid platform "${platform}": give any, or Node's os-arch`, {
    hint: `os: ${KNOWN_OSES.join(", ")}; arch: ${KNOWN_ARCHES.join(", ")} (e.g. linux-x64, win32-x64, darwin-arm64).`,
  });
}

// ---------------------------------------------------------------------------------------------
// init

/** Options of {@link initApp}. */
export interface InitAppOptions {
  /** Repository folder (created if missing). */
  repoDir: string;
  app: string;
  /** All four role keys (see `loadKeys`). */
  keys: KeySet;
  /** Repository base URL to embed in releases' `updraft.json`. */
  url?: string;
  expiry?: Partial<ExpiryDays>;
  now?: Date;
  /** A root of several keys with a threshold (see `rootKeyPlan`); default: the root key of `keys`. */
  root?: RootKeyPlan;
}

/** What {@link initApp} created. */
export interface InitAppResult {
  app: string;
  /** Absolute path of the public root (`REPO/<app>/metadata/root.json`): ship it or pin its fingerprint. */
  rootPath: string;
  /** sha256 of the root file's bytes: the fingerprint clients can pin. */
  rootSha256: string;
  keyIds: Record<RoleName, string>;
  url?: string;
}

/**
 * Creates an app's TUF repository: root version 1 signed with the root key, empty targets,
 * snapshot and timestamp, and `updraft-app.json` with the URL. Refuses an app that already has
 * metadata (`REPO_EXISTS`).
 */
export async function initApp(options: InitAppOptions): Promise<InitAppResult> {
  const app = assertAppName(options.app);
  const url = options.url === undefined ? undefined : assertRepoUrl(options.url);
  const paths = appPaths(resolve(options.repoDir), app);
  await mkdir(paths.appDir, { recursive: true });
  return withPublishLock(paths, async () => {
    if (await hasRepository(paths)) {
      throw new UpdraftError(ErrorCodes.REPO_EXISTS, `App "${app}" already has a repository in ${paths.metadataDir}`, {
        hint: "Publish to it with `updraft publish`, or choose another --app or --repo.",
      });
    }
    const created = await createRepository(paths, {
      keys: options.keys,
      ...(options.expiry ? { expiry: options.expiry } : {}),
      ...(options.now ? { now: options.now } : {}),
      ...(options.root ? { root: options.root } : {}),
    });
    await writeAppSettings(paths.settingsFile, { schema: NATIVE_SCHEMA, app, ...(url ? { url } : {}) });
    return { app, ...created, ...(url ? { url } : {}) };
  });
}

// ---------------------------------------------------------------------------------------------
// publish

/** Progress of {@link publishRelease}. */
export interface PublishProgress {
  phase: "scan" | "pack" | "delta" | "sign" | "done";
  /** During `pack`: uncompressed bytes packed so far and in all. */
  pack?: PackProgress;
  /** During `delta`: bytes of changed files encoded so far and in all, over every delta of the current pass. */
  delta?: DeltaProgress;
}

/** Options of {@link publishRelease}. */
export interface PublishOptions {
  repoDir: string;
  app: string;
  version: string;
  /** Default `stable`. */
  channel?: string;
  /** Folder holding the build to release. */
  buildDir: string;
  /** Release notes (text). */
  notes?: string;
  /** How installs judge the new version after updating to it (default: still running after 10 s, or exited 0). */
  health?: HealthPolicy;
  /**
   * Where installs of this release send their anonymous health reports (`updraft serve --events`
   * accepts them at `POST /_events`). Default: none, installs send nothing.
   */
  reportUrl?: string;
  /** Replace an existing version, and move the channel pointer even to a lower version. */
  force?: boolean;
  /**
   * The platform the build is for: Node's `os-arch` (`linux-x64`, `win32-x64`, `darwin-arm64`…), or
   * `any` (the default). One version holds one build per platform, each published on its own.
   */
  platform?: string;
  /** Mark the release critical: clients report `critical: true` (for the app to urge the user). */
  critical?: boolean;
  /** Installs below this version must take this release: it ignores the rollout and clients report `required`. */
  minimumVersion?: string;
  /** Start a staged rollout instead of offering the release to every install at once (see `setRollout`). */
  rollout?: RolloutRequest;
  /**
   * How long to wait for another publish of the app to finish (ms; default 0: fail with `LOCKED`).
   * CI runners that publish builds of one version for several platforms at once take turns with it.
   */
  lockWaitMs?: number;
  /** Repository base URL; remembered for later publishes. Default: the one given to init or a previous publish. */
  url?: string;
  /** zstd level, default 19. */
  level?: number;
  /** Build deltas from this many previous releases of the channel (default 3; 0 for none). */
  deltas?: number;
  /** Files added to the release from memory (e.g. SAAU's `versao.txt`), beside the build's. */
  extraFiles?: readonly ExtraFile[];
  /** targets, snapshot and timestamp keys (the root key is not needed). */
  keys: KeySet;
  now?: Date;
  expiry?: Partial<ExpiryDays>;
  onProgress?: (progress: PublishProgress) => void;
}

/** What {@link publishRelease} did. */
export interface PublishResult {
  app: string;
  version: string;
  channel: string;
  releasedAt: string;
  /** The build's platform (`any` or `os-arch`). */
  platform: string;
  /** True if the channel now offers this version (as its newest release, or as a new build of it). */
  channelMoved: boolean;
  /** The channel's version before this publish, if it had one. */
  previousChannelVersion?: string;
  /** One sentence on what happened to the channel pointer. */
  channelNote: string;
  /** True if an existing release of this version was replaced (`force`). */
  replaced: boolean;
  archive: { target: string; size: number; sha256: string };
  manifest: { target: string; size: number; sha256: string };
  fileCount: number;
  symlinkCount: number;
  /** Deltas published with this release (and those skipped, with the reason). */
  deltas: BuildDeltasResult;
  /** Sum of the release's file sizes, uncompressed. */
  totalBytes: number;
  /** TUF target names written (or re-listed) by this publish. */
  targets: string[];
  /** New metadata versions. */
  metadata: CommittedVersions;
  /** Bytes of signed metadata this publish wrote (roles re-signed, snapshot, timestamp): constant, whatever the history. */
  metadataBytes: number;
  url?: string;
  timings: { scanMs: number; packMs: number; signMs: number; totalMs: number };
}

async function assertBuildDir(buildDir: string): Promise<void> {
  try {
    if (!(await lstat(buildDir)).isDirectory()) throw new Error("not a folder");
  } catch (err) {
    throw new UpdraftError(ErrorCodes.BUILD_INVALID, `Build folder ${buildDir} does not exist or is not a folder`, {
      cause: err,
      hint: "Give the folder holding the files to release.",
    });
  }
  for (const name of [EMBEDDED_CONFIG_FILE, EMBEDDED_ROOT_FILE]) {
    if (await exists(join(buildDir, name))) {
      throw new UpdraftError(ErrorCodes.BUILD_INVALID, `The build folder already contains ${name}`, {
        hint: `Remove it: the publisher adds ${EMBEDDED_CONFIG_FILE} and ${EMBEDDED_ROOT_FILE} to every release itself.`,
      });
    }
  }
}

/**
 * Publishes a build as `version` on `channel`: packs it (with the embedded `updraft.json` and
 * `updraft-root.json`), stores the archive, manifest and channel pointer as targets, then writes
 * new targets, snapshot and timestamp metadata in the documented order. The channel pointer moves
 * only if the version is higher than the channel's current one, or with `force`.
 */
export async function publishRelease(options: PublishOptions): Promise<PublishResult> {
  const t0 = performance.now();
  const app = assertAppName(options.app);
  const channel = assertChannel(options.channel ?? "stable");
  const version = assertPublishableVersion(options.version);
  const buildDir = resolve(options.buildDir);
  const urlOption = options.url === undefined ? undefined : assertRepoUrl(options.url);
  const now = options.now ?? new Date();
  const force = options.force ?? false;
  const platform = assertPlatform(options.platform ?? ANY_PLATFORM);
  const minimumVersion = options.minimumVersion === undefined ? undefined : assertVersion(options.minimumVersion);
  if (minimumVersion !== undefined && compareVersions(minimumVersion, version) > 0) {
    throw new UpdraftError(
      ErrorCodes.USAGE,
      `--minimum-version ${minimumVersion} is above the version published (${version})`,
      {
        hint: "The minimum version is the lowest version installs may keep running: at most the release's own version.",
      },
    );
  }
  const rollout = options.rollout === undefined ? undefined : rolloutOf(options.rollout, now);
  const progress = options.onProgress ?? (() => undefined);
  await assertBuildDir(buildDir);
  const paths = appPaths(resolve(options.repoDir), app);
  if (!(await exists(paths.appDir))) await loadRepository(paths); // throws REPO_NOT_FOUND before creating a lock there

  return withPublishLock(
    paths,
    async () => {
      const state = await loadRepository(paths);
      assertKeysMatchRoot(state.root, options.keys, ONLINE_ROLES);
      const history = await loadHistory(state);
      const current = history.topLevel;
      const release = findRelease(history, version);
      const existing =
        release !== undefined && buildsOfRelease(app, release).has(platform) ? release.version : undefined;
      if (existing !== undefined && !force) {
        throw new UpdraftError(
          ErrorCodes.VERSION_EXISTS,
          `Version ${existing} of "${app}" is already published${platform === ANY_PLATFORM ? "" : ` for ${platform}`}`,
          {
            hint: "Publish a higher version, or pass --force to replace it.",
            details: { version: existing, platform },
          },
        );
      }
      const settings: AppSettings = await readAppSettings(paths.settingsFile, app);
      const url = urlOption ?? settings.url;

      // 1. Pack the build with its embedded files.
      progress({ phase: "scan" });
      const config: AppConfig = { schema: NATIVE_SCHEMA, app, ...(url ? { url } : {}), channel };
      const contents = await scanBuild(buildDir, [
        { path: EMBEDDED_CONFIG_FILE, data: Buffer.from(serializeDocument(config)) },
        { path: EMBEDDED_ROOT_FILE, data: state.rootBytes },
        ...(options.extraFiles ?? []),
      ]);
      const tScan = performance.now();
      const archiveName = fullArchiveTarget(app, version, platform);
      const tmp = tempTargetPath(paths, archiveName);
      await mkdir(dirname(tmp), { recursive: true });
      // 1b. Deltas from the channel's previous releases, built in worker threads while the archive
      // is written (its single zstd stream keeps one core busy); their progress shows once it is done.
      let packing = true;
      const packed = writeArchive(contents, tmp, {
        ...(options.level !== undefined ? { level: options.level } : {}),
        onProgress: (pack) => progress({ phase: "pack", pack }),
      });
      packed.catch(() => undefined); // awaited below
      const deltasBuilt = buildReleaseDeltas({
        paths,
        targets: releaseTargetMap(history),
        version,
        channel,
        platform,
        files: contents.files,
        fullSize: packed.then((a) => a.size),
        ...(options.deltas !== undefined ? { previous: options.deltas } : {}),
        onProgress: (delta) => {
          if (!packing) progress({ phase: "delta", delta });
        },
      });
      deltasBuilt.catch(() => undefined); // awaited below
      let archive: { size: number; sha256: string };
      try {
        archive = await packed;
        await storeTargetFile(paths, archiveName, tmp, archive.sha256);
      } catch (err) {
        await deltasBuilt.catch(() => undefined);
        throw err;
      } finally {
        packing = false;
        await removePath(tmp);
      }
      const tPack = performance.now();
      const deltas = await deltasBuilt;

      // 2. Manifest and channel pointer as targets.
      progress({ phase: "sign" });
      const releasedAt = isoSeconds(now);
      const manifest: ReleaseManifest = parseReleaseManifest({
        schema: NATIVE_SCHEMA,
        app,
        version,
        channel,
        releasedAt,
        ...(options.notes !== undefined && options.notes !== "" ? { notes: options.notes } : {}),
        health: formatHealthPolicy(options.health ?? DEFAULT_HEALTH),
        ...(options.reportUrl !== undefined ? { reportUrl: options.reportUrl } : {}),
        ...(minimumVersion !== undefined ? { minimumVersion } : {}),
        ...(options.critical === true ? { critical: true } : {}),
        platform,
        files: contents.files.map(({ path, size, sha256, mode }) => ({ path, size, sha256, mode })),
        symlinks: contents.symlinks,
        artifacts: [
          { kind: "full", target: archiveName, size: archive.size, sha256: archive.sha256 },
          ...deltas.deltas.map(({ kind, target, size, sha256, from }) => ({ kind, target, size, sha256, from })),
        ],
      });
      const manifestName = manifestTarget(version, platform);
      const manifestBytes = Buffer.from(serializeDocument(manifest));
      const storedManifest = await storeTargetBytes(paths, manifestName, manifestBytes);

      // The build's own targets, without `custom`: kind, version, platform and base are in their names.
      const buildTargets: Record<string, TargetFile> = {
        [manifestName]: leanTargetFile(manifestName, storedManifest.length, storedManifest.sha256),
        [archiveName]: leanTargetFile(archiveName, archive.size, archive.sha256),
      };
      for (const d of deltas.deltas) buildTargets[d.target] = leanTargetFile(d.target, d.size, d.sha256);
      const bases = deltaBases(deltas);
      for (const patch of await writeManifestPatches(paths, history, manifest, manifestBytes, bases, platform)) {
        buildTargets[patch.target] = leanTargetFile(patch.target, patch.length, patch.sha256);
      }
      const written = Object.keys(buildTargets);
      if (release === undefined) addRelease(history, { version, targets: buildTargets });
      // Another platform's build of the version keeps its targets; a forced republish replaces this platform's.
      else release.targets = { ...withoutBuild(app, release.targets, platform), ...buildTargets };
      const next = history.topLevel;

      const doc = (await readChannelDocument(paths, current, channel)) ?? emptyChannelDocument(app, channel);
      const placed = placeInChannel(doc, {
        version,
        platform,
        publishedAt: releasedAt,
        force,
        rollout,
        minimumVersion,
        critical: options.critical,
      });
      const previousChannelVersion = doc.releases[0]?.version;
      const higher = placed.higher;
      const channelMoved = placed.document !== undefined;
      if (placed.document !== undefined) written.push(await storeChannelDocument(paths, next, placed.document, now));

      // 3. Metadata, in publish order; then remember the URL.
      const committed = await commitHistory(state, history, {
        keys: options.keys,
        now,
        resignTargets: true,
        ...(options.expiry ? { expiry: options.expiry } : {}),
      });
      const { targetsVersion, snapshotVersion, timestampVersion, metadataBytes } = committed;
      const metadata: CommittedVersions = { targetsVersion, snapshotVersion, timestampVersion };
      if (urlOption !== undefined && urlOption !== settings.url) {
        await writeAppSettings(paths.settingsFile, { ...settings, url: urlOption });
      }
      const tEnd = performance.now();
      progress({ phase: "done" });
      const channelNote = channelMoved
        ? placed.addedBuild
          ? `Channel "${channel}" offers ${version} for ${platform} too.`
          : previousChannelVersion === undefined
            ? `Channel "${channel}" now points to ${version} (it was empty).`
            : `Channel "${channel}" moved from ${previousChannelVersion} to ${version}${higher ? "" : " (forced)"}${rollout ? `, rolling out from ${rollout.steps[0]!.percent} %` : ""}.`
        : `Channel "${channel}" stays at ${previousChannelVersion}: ${version} is not higher (use --force to move it).`;
      return {
        app,
        version,
        channel,
        platform,
        releasedAt,
        channelMoved,
        ...(previousChannelVersion !== undefined ? { previousChannelVersion } : {}),
        channelNote,
        replaced: existing !== undefined,
        archive: { target: archiveName, ...archive },
        manifest: { target: manifestName, size: storedManifest.length, sha256: storedManifest.sha256 },
        fileCount: contents.files.length,
        symlinkCount: contents.symlinks.length,
        deltas,
        totalBytes: contents.totalBytes,
        targets: written,
        metadata,
        metadataBytes,
        ...(url ? { url } : {}),
        timings: {
          scanMs: Math.round(tScan - t0),
          packMs: Math.round(tPack - tScan),
          signMs: Math.round(tEnd - tPack),
          totalMs: Math.round(tEnd - t0),
        },
      };
    },
    options.lockWaitMs ?? 0,
  );
}

// ---------------------------------------------------------------------------------------------
// refresh-timestamp

/** Options of {@link refreshTimestamp}. */
export interface RefreshTimestampOptions {
  repoDir: string;
  app: string;
  /** The timestamp key; also snapshot/targets keys if those roles expire soon. */
  keys: KeySet;
  now?: Date;
  expiry?: Partial<ExpiryDays>;
  /** Re-sign snapshot and targets when they expire within this many days (default 60). */
  renewWithinDays?: number;
}

/** What {@link refreshTimestamp} did. */
export interface RefreshTimestampResult extends RefreshedVersions {
  app: string;
}

/**
 * Re-signs the timestamp with a new version and expiry (and snapshot/targets when they expire
 * within 60 days). Run it from a cron job if you publish less often than the timestamp lifetime.
 */
export async function refreshTimestamp(options: RefreshTimestampOptions): Promise<RefreshTimestampResult> {
  const app = assertAppName(options.app);
  const paths = appPaths(resolve(options.repoDir), app);
  if (!(await exists(paths.appDir))) await loadRepository(paths);
  return withPublishLock(paths, async () => {
    const state = await loadRepository(paths);
    assertKeysMatchRoot(state.root, options.keys, ONLINE_ROLES);
    const now = options.now ?? new Date();
    const expiry = { ...DEFAULT_EXPIRY_DAYS, ...options.expiry };
    const refreshed = await refreshHistory(state, {
      keys: options.keys,
      now,
      expiry,
      renewBefore: new Date(now.getTime() + (options.renewWithinDays ?? 60) * 86_400_000),
    });
    return { app, ...refreshed };
  });
}

/** Roles {@link initApp} needs. */
export const INIT_ROLES: readonly RoleName[] = ROLES;

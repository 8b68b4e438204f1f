/**
 * `Updater`: the client library's entry. Check a repository for a newer signed release, download
 * it with progress, verify it, install it into its own version folder, switch to it, and restart
 * the app through the detached helper.
 */
import { EventEmitter } from "node:events";
import { readFile, rm } from "node:fs/promises";
import { join, sep } from "node:path";
import { ErrorCodes, toUpdraftError, UpdraftError } from "../core/errors.js";
import { exists, readLocalJson } from "../core/fs.js";
import { hashFile } from "../core/hash.js";
import { type LockToken, withLock } from "../core/lock.js";
import { compareVersions } from "../core/version.js";
import {
  type AppConfig,
  type ArtifactRef,
  type ChannelPointer,
  channelTarget,
  EMBEDDED_ROOT_FILE,
  healthPolicyOf,
  NATIVE_SCHEMA,
  parseChannelPointer,
  parseReleaseManifest,
  type ReleaseManifest,
} from "../formats/native.js";
import { chooseUpdateArtifact, type DeltaFallback } from "./artifacts/choice.js";
import { deltaWithFallback, recordingTree } from "./artifacts/delta/producer.js";
import {
  backoffFor,
  DEFAULT_BACKOFF_MS,
  recordAttempt,
  recordIfReleaseFault,
  recordSuccess,
  type Skipped,
} from "./install/attempts.js";
import { assertFreeSpace } from "./install/disk.js";
import { assertInstallFolder, type InstallLayout, installLayout, VERSION_DIR_PREFIX } from "./install/layout.js";
import { readCurrentVersion } from "./install/pointer.js";
import {
  DEFAULT_HEALTH_TIMEOUT_MS,
  DEFAULT_MAX_LAUNCHES,
  HEALTH_TIMEOUT_RANGE_MS,
  healthOf,
  MAX_LAUNCHES_RANGE,
  type Probation,
  type ProbationPolicy,
} from "./install/probation.js";
import { CONFIRM_LOCK, confirm, type RecoveryReport, recover, rollbackToPrevious } from "./install/recover.js";
import { type InstallMode, readConfig, readState, writeConfig } from "./install/state.js";
import { unfinishedInstallError } from "./install/unfinished-install.js";
import { fromFullArchive, type InstallOutcome, installRelease, type StageProducer } from "./install/versioned.js";
import { type DownloadProgress, downloadArtifact } from "./net/download.js";
import { HttpClient, type NetworkOptions, networkOptionsOf, type TrafficStats } from "./net/http.js";
import { spawnRestartHelper } from "./runtime/restart-helper.js";
import { scheduleJittered } from "./runtime/schedule.js";
import { TrustSession } from "./trust/session.js";

export type { Skipped } from "./install/attempts.js";
export type { RecoveryReport } from "./install/recover.js";
export type { DownloadProgress } from "./net/download.js";
export type { FetchFunction, NetworkOptions, TrafficStats } from "./net/http.js";

/**
 * Options of {@link Updater}. Everything but `installDir` defaults from the install's configuration.
 * Network settings (proxy, CA, token, retries, deadlines, `allowInsecureHttp`): see {@link NetworkOptions}.
 */
export interface UpdaterOptions extends NetworkOptions {
  /** Offer and install a release lower than the installed one when the channel points to it (default false). */
  allowDowngrade?: boolean;
  /** The install folder (holds `current`, the version folders and `.updraft/`). */
  installDir: string;
  /** Repository base URL; defaults to the install's `updraft.json`. */
  repoUrl?: string;
  /** App name in the repository; defaults to the install's `updraft.json`. */
  app?: string;
  /** Channel to follow; defaults to the install's `updraft.json`, else `stable`. */
  channel?: string;
  /**
   * Releases whose health policy is `confirm`: time from the new version's launch to its `confirm()`
   * before it is rolled back (ms, 1 s to 24 h). Default 60 s. (The clock starts at the launch, not at install.)
   */
  healthTimeoutMs?: number;
  /** Launches a new version may make without proving it works before it is rolled back (1–100). Default 3. */
  maxLaunches?: number;
  /** How long a failed version is not retried (ms, 0 to 30 days). Default 2 hours. */
  backoffMs?: number;
  /** Check free disk space before downloading and staging (default true; turn off where free space is misreported). */
  checkDiskSpace?: boolean;
}

/** A release newer than the installed one. */
export interface UpdateInfo {
  version: string;
  currentVersion: string | undefined;
  channel: string;
  releasedAt: string;
  notes?: string;
  critical?: boolean;
  /** Bytes to download (the smallest artifact this install can apply). */
  downloadSize: number;
  /** Kind of that artifact: `full`, or a delta kind (`delta-files`, `delta-tree`). */
  artifactKind: string;
}

/** The answer of {@link Updater.check}. */
export interface CheckResult {
  updateAvailable: boolean;
  currentVersion: string | undefined;
  latestVersion: string;
  channel: string;
  update?: UpdateInfo;
  /** Set when the latest version failed recently and is not retried yet (back-off). */
  skipped?: Skipped;
}

/** The answer of {@link Updater.download}. */
export interface DownloadResult {
  version: string;
  path: string;
  size: number;
  /** Bytes fetched from the network by this call (0 when already downloaded). */
  fetched: number;
}

/** The answer of {@link Updater.install}. */
export interface InstallResult {
  version: string;
  previousVersion: string | undefined;
  folder: string;
  filesWritten: number;
  filesReused: number;
  /**
   * The new version's probation, when it has one: it starts at the version's next launch (by the
   * helper of `restart()`, or `recover({ launch: true })`), never at install time.
   */
  probation?: Probation;
}

/** The state of an install folder, for `updraft status`. */
export interface StatusResult {
  app: string;
  channel: string;
  repoUrl: string | undefined;
  mode: InstallMode;
  currentVersion: string | undefined;
  previousVersion: string | undefined;
  installedAt: string | undefined;
  knownGoodVersion: string | undefined;
  /**
   * The version on probation (installed, not yet proved to work): its health policy, and from its
   * first launch on, when it was launched and its deadline.
   */
  pending:
    | { version: string; health: string; launchedAt?: string; deadline?: string; launches: number; maxLaunches: number }
    | undefined;
  /** Versions that failed, why, and when they may be tried again. */
  failed: { version: string; reason: string; at: string; retryAfter: string }[];
}

/** Events an {@link Updater} emits. */
export interface UpdaterEvents {
  checking: [];
  "update-available": [UpdateInfo];
  "update-not-available": [CheckResult];
  "download-progress": [DownloadProgress];
  /** A delta was passed over or abandoned; the full archive is used instead. */
  "delta-fallback": [DeltaFallback];
  downloaded: [DownloadResult];
  installed: [InstallResult];
  error: [UpdraftError];
}

/** How to restart the app once it has exited. */
export interface RestartOptions {
  /** Program and arguments; default: this process's own command line, run from `current`. */
  command?: string[];
  cwd?: string;
  /** Exit this process right after starting the helper (default true). */
  exit?: boolean;
  /** File the helper and the restarted app append their output to. */
  logFile?: string;
  env?: Record<string, string>;
}

/** Options of {@link Updater.startAutoCheck}. */
export interface AutoCheckOptions {
  /** Wanted interval between checks (ms); default 6 hours, never below `minimumInterval`. */
  interval?: number;
  /** Floor of the interval (ms); default 1 hour. Lower it only on purpose (tests, private repositories). */
  minimumInterval?: number;
  /** Fraction each delay varies by, 0–0.5 (default 0.2). */
  jitter?: number;
  /** Delay before the first check (ms); default a random point within the first jitter window. */
  firstDelay?: number;
  /** Also download an available update (default false). */
  download?: boolean;
}

function assertIntegerOption(name: string, value: unknown, min: number, max: number, unit: string): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UpdraftError(
      ErrorCodes.USAGE,
      `Invalid ${name} ${String(value)}: give an integer from ${min} to ${max} ${unit}`,
      {
        details: { option: name },
      },
    );
  }
}

/** Refuses bad options before anything is read or written (a bad value must never surface mid-install). */
function validateUpdaterOptions(options: UpdaterOptions): void {
  if (typeof options.installDir !== "string" || options.installDir.trim() === "" || options.installDir.includes("\0")) {
    throw new UpdraftError(ErrorCodes.USAGE, "installDir must be the path of the install folder");
  }
  const { min, max } = HEALTH_TIMEOUT_RANGE_MS;
  assertIntegerOption("healthTimeoutMs", options.healthTimeoutMs, min, max, "ms");
  assertIntegerOption("maxLaunches", options.maxLaunches, MAX_LAUNCHES_RANGE.min, MAX_LAUNCHES_RANGE.max, "launches");
  assertIntegerOption("backoffMs", options.backoffMs, 0, 30 * 24 * 60 * 60 * 1000, "ms");
}

/** Errors already emitted, so nested operations (install → download → check) emit each once. */
const reported = new WeakSet<UpdraftError>();

interface PendingUpdate {
  manifest: ReleaseManifest;
  artifact: ArtifactRef;
  artifactUrl: string;
  /** When `artifact` is a delta: the full archive to fall back to. */
  fallback?: { artifact: ArtifactRef; artifactUrl: string };
  pointer: ChannelPointer;
  downloadedPath?: string;
}

/**
 * Updates one installed app.
 *
 * @example
 * ```ts
 * const updater = new Updater({ installDir: "/opt/myapp" });
 * const result = await updater.check();
 * if (result.updateAvailable) {
 *   await updater.download({ onProgress: (p) => console.log(p.percent.toFixed(0) + "%") });
 *   await updater.install();
 *   await updater.restart();
 * }
 * ```
 */
export class Updater extends EventEmitter<UpdaterEvents> {
  /** Paths of the install folder. */
  readonly layout: InstallLayout;
  private readonly http: HttpClient;
  private pending: PendingUpdate | undefined;
  /** The version the channel offered at the last check when it was lower than the installed one. */
  private lowerOffered: string | undefined;

  constructor(private readonly options: UpdaterOptions) {
    super();
    validateUpdaterOptions(options);
    this.layout = installLayout(options.installDir);
    this.http = new HttpClient({ ...networkOptionsOf(options), userAgent: "updraft-client" });
  }

  /** Requests and bytes this updater has fetched so far. */
  get traffic(): TrafficStats {
    return { ...this.http.stats };
  }

  /** The app's configuration, with options taking precedence. */
  async config(): Promise<AppConfig> {
    const { repoUrl, app, channel } = this.options;
    let base: AppConfig | undefined;
    if (!repoUrl || !app) base = await this.installedConfig();
    const url = repoUrl ?? base?.url;
    if (!url) {
      throw new UpdraftError(ErrorCodes.NOT_INSTALLED, "No repository URL is configured for this install", {
        hint: "Pass repoUrl, or publish with --url so releases carry it.",
      });
    }
    return { schema: NATIVE_SCHEMA, app: app ?? base!.app, url, channel: channel ?? base?.channel ?? "stable" };
  }

  /** The version `current` points at. */
  currentVersion(): Promise<string | undefined> {
    return readCurrentVersion(this.layout);
  }

  /**
   * Checks the repository for a newer release on the channel. `lock`: the install lock when the
   * caller holds it (recovery then runs under it).
   */
  async check(options: { lock?: LockToken } = {}): Promise<CheckResult> {
    return this.report(async () => {
      this.emit("checking");
      await assertInstallFolder(this.layout);
      await recover(this.layout, { lock: options.lock });
      const config = await this.config();
      const trust = await this.openTrust(config);
      const pointerInfo = await trust.requireTarget(channelTarget(config.channel), `channel "${config.channel}"`);
      const pointer = parseChannelPointer((await trust.fetchSmallTarget(pointerInfo)).toString("utf8"));
      if (pointer.app !== config.app || pointer.channel !== config.channel) {
        throw new UpdraftError(ErrorCodes.METADATA_INVALID, `Channel pointer names ${pointer.app}/${pointer.channel}`);
      }
      const currentVersion = await this.currentVersion();
      const order = currentVersion === undefined ? 1 : compareVersions(pointer.version, currentVersion);
      this.lowerOffered = order < 0 ? pointer.version : undefined;
      if (order === 0 || (order < 0 && !this.options.allowDowngrade)) {
        this.pending = undefined;
        const result: CheckResult = {
          updateAvailable: false,
          currentVersion,
          latestVersion: pointer.version,
          channel: config.channel,
        };
        this.emit("update-not-available", result);
        return result;
      }
      const skipped = await backoffFor(this.layout, pointer.version, { windowMs: this.backoffMs });
      if (skipped) {
        this.pending = undefined;
        const result: CheckResult = {
          updateAvailable: false,
          currentVersion,
          latestVersion: pointer.version,
          channel: config.channel,
          skipped,
        };
        this.emit("update-not-available", result);
        return result;
      }
      const manifestInfo = await trust.requireTarget(pointer.manifest, `the manifest of ${pointer.version}`);
      const manifest = parseReleaseManifest((await trust.fetchSmallTarget(manifestInfo)).toString("utf8"));
      if (manifest.app !== config.app || manifest.version !== pointer.version) {
        throw new UpdraftError(
          ErrorCodes.METADATA_INVALID,
          `The manifest at ${pointer.manifest} describes ${manifest.app} ${manifest.version}, not ${config.app} ${pointer.version}`,
        );
      }
      const artifact = manifest.artifacts.find((a) => a.kind === "full");
      if (!artifact)
        throw new UpdraftError(ErrorCodes.TARGET_NOT_FOUND, `Release ${manifest.version} has no full archive`);
      const artifactInfo = await trust.requireTarget(artifact.target, `the archive of ${manifest.version}`);
      if (artifactInfo.length !== artifact.size || artifactInfo.hashes.sha256 !== artifact.sha256) {
        throw new UpdraftError(
          ErrorCodes.METADATA_INVALID,
          `The manifest and the targets metadata disagree on ${artifact.target}`,
        );
      }
      this.pending = {
        manifest,
        pointer,
        ...(await chooseUpdateArtifact(
          { layout: this.layout, trust, currentVersion, onFallback: (f) => this.emit("delta-fallback", f) },
          manifest,
          artifact,
          trust.targetUrl(artifactInfo),
        )),
      };
      const update: UpdateInfo = {
        version: manifest.version,
        currentVersion,
        channel: config.channel,
        releasedAt: manifest.releasedAt,
        ...(manifest.notes !== undefined ? { notes: manifest.notes } : {}),
        ...(manifest.critical !== undefined ? { critical: manifest.critical } : {}),
        downloadSize: this.pending.artifact.size,
        artifactKind: this.pending.artifact.kind,
      };
      this.emit("update-available", update);
      return {
        updateAvailable: true,
        currentVersion,
        latestVersion: manifest.version,
        channel: config.channel,
        update,
      };
    });
  }

  /** Downloads the update found by {@link Updater.check} (checking first if needed) and verifies it. */
  async download(
    options: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void; lock?: LockToken } = {},
  ): Promise<DownloadResult> {
    return this.report(async () => {
      if (!options.lock) await assertInstallFolder(this.layout);
      return withLock(this.layout.lockFile, options.lock, { purpose: "downloading" }, (lock) =>
        this.downloadLocked(options, lock),
      );
    });
  }

  private async downloadLocked(
    options: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void },
    lock: LockToken,
  ): Promise<DownloadResult> {
    return this.report(async () => {
      if (!this.pending) await this.check({ lock });
      const pending = this.pending;
      if (!pending && this.lowerOffered !== undefined) {
        throw new UpdraftError(
          ErrorCodes.DOWNGRADE_REFUSED,
          `The channel offers ${this.lowerOffered}, lower than the installed ${await this.currentVersion()}; not downgrading`,
          {
            hint: "If the publisher withdrew a release on purpose, pass allowDowngrade (--allow-downgrade) to install it.",
          },
        );
      }
      if (!pending)
        throw new UpdraftError(ErrorCodes.NO_UPDATE, "No update to download: the installed version is current");
      const deltaFetched = pending.fallback ? await this.downloadDeltaOrFallBack(pending, options) : 0;
      const dest = this.artifactPath(pending);
      // No failure here bans the version: the network, the mirror or the disk failed, not the release.
      const fetched = deltaFetched + (await this.fetchArtifact(pending, options));
      pending.downloadedPath = dest;
      const result: DownloadResult = {
        version: pending.manifest.version,
        path: dest,
        size: pending.artifact.size,
        fetched,
      };
      this.emit("downloaded", result);
      return result;
    });
  }

  /** Installs the downloaded update (downloading it first if needed) and makes it current. */
  async install(options: { lock?: LockToken } = {}): Promise<InstallResult> {
    return this.report(async () => {
      if (!options.lock) await assertInstallFolder(this.layout);
      return withLock(this.layout.lockFile, options.lock, { purpose: "installing" }, async (lock) => {
        await recover(this.layout, { lock });
        if (!this.pending?.downloadedPath) await this.download({ lock });
        const pending = this.pending!;
        await recordAttempt(this.layout, pending.manifest.version);
        const current = await this.currentVersion();
        if (
          current !== undefined &&
          !this.options.allowDowngrade &&
          compareVersions(pending.manifest.version, current) < 0
        ) {
          throw new UpdraftError(
            ErrorCodes.DOWNGRADE_REFUSED,
            `${current} was installed meanwhile; not replacing it with the older ${pending.manifest.version}`,
            { hint: "Run the update again; pass allowDowngrade (--allow-downgrade) to go back on purpose." },
          );
        }
        const installedManifest = current ? await this.installedManifest(current) : undefined;
        let outcome: InstallOutcome;
        try {
          outcome = await installRelease(
            this.layout,
            pending.manifest,
            this.stageProducer(pending, installedManifest, lock),
            {
              probation: this.probationPolicy(pending.manifest),
              ...(installedManifest ? { installed: installedManifest } : {}),
              checkSpace: this.options.checkDiskSpace !== false,
            },
          );
        } catch (err) {
          await recordIfReleaseFault(this.layout, pending.manifest.version, err, "install failed");
          throw err;
        }
        if (!outcome.previous) await recordSuccess(this.layout, outcome.version);
        await this.ensureConfig();
        await rm(pending.downloadedPath!, { force: true });
        this.pending = undefined;
        const { probation } = await readState(this.layout);
        const result: InstallResult = {
          version: outcome.version,
          previousVersion: outcome.previous,
          folder: outcome.folder,
          filesWritten: outcome.stats.written,
          filesReused: outcome.stats.linked,
          ...(probation?.version === outcome.version ? { probation } : {}),
        };
        this.emit("installed", result);
        return result;
      });
    });
  }

  /**
   * Checks in the background every `interval` (ms; raised to a 1 hour floor unless
   * `minimumInterval` lowers it), with random jitter and never aligned to the clock. Results go to
   * the usual events (`update-available`, `error`…); with `download: true` an available update is
   * also downloaded (not installed). Returns the function that stops the checks.
   */
  startAutoCheck(options: AutoCheckOptions = {}): () => void {
    return scheduleJittered(
      {
        intervalMs: options.interval ?? 6 * 60 * 60 * 1000,
        ...(options.minimumInterval !== undefined ? { minimumIntervalMs: options.minimumInterval } : {}),
        ...(options.jitter !== undefined ? { jitter: options.jitter } : {}),
        ...(options.firstDelay !== undefined ? { firstDelayMs: options.firstDelay } : {}),
      },
      async () => {
        try {
          const result = await this.check();
          if (result.updateAvailable && options.download) await this.download();
        } catch {
          // Already reported through the `error` event; the next check tries again.
        }
      },
    );
  }

  /**
   * Starts the detached helper, which waits for this process to exit and starts the app again,
   * then (by default) exits this process.
   */
  async restart(options: RestartOptions = {}): Promise<void> {
    const command = options.command ?? this.defaultRestartCommand();
    await spawnRestartHelper({
      waitPid: process.pid,
      command,
      cwd: options.cwd ?? process.cwd(),
      watchDir: this.layout.dir,
      ...(options.env ? { env: options.env } : {}),
      ...(options.logFile ? { logFile: options.logFile } : {}),
    });
    if (options.exit !== false) process.exit(0);
  }

  /** What the install folder holds. */
  async status(): Promise<StatusResult> {
    await assertInstallFolder(this.layout);
    await recover(this.layout);
    const config = await this.installedConfig();
    const state = await readState(this.layout);
    const failed: StatusResult["failed"] = [];
    for (const [version, a] of Object.entries(state.attempts ?? {})) {
      if (a.outcome !== "failed") continue;
      const retryAfter = new Date(Date.parse(a.at) + this.backoffMs).toISOString();
      failed.push({ version, reason: a.reason ?? "failed", at: a.at, retryAfter });
    }
    const p = state.probation;
    return {
      app: config.app,
      channel: config.channel,
      repoUrl: config.url,
      mode: state.mode ?? "versioned",
      currentVersion: state.mode === "in-place" ? state.current : await this.currentVersion(),
      previousVersion: state.previous,
      installedAt: state.installedAt,
      knownGoodVersion: state.knownGood,
      pending: p
        ? {
            version: p.version,
            health: p.health,
            ...(p.launchedAt !== undefined ? { launchedAt: p.launchedAt } : {}),
            ...(p.deadline !== undefined ? { deadline: p.deadline } : {}),
            launches: p.launches,
            maxLaunches: p.maxLaunches,
          }
        : undefined,
      failed,
    };
  }

  /**
   * Finishes or undoes an interrupted install and enforces probation. Call it once when the app
   * starts with `{ launch: true }`: a new version that keeps starting without confirming is rolled back.
   */
  recover(options: { launch?: boolean } = {}): Promise<RecoveryReport> {
    return this.report(async () => {
      await assertInstallFolder(this.layout);
      const report = await recover(this.layout, options);
      if (options.launch && report.probation) this.confirmAfterUptime(report.probation);
      return report;
    });
  }

  /**
   * Under an `uptime:N` policy, the process that counted a launch is the app itself: if it is still
   * running N seconds later, that proves the version works. The timer never keeps the app alive.
   */
  private confirmAfterUptime(probation: Probation): void {
    const health = healthOf(probation);
    if (health.kind !== "uptime") return;
    const timer = setTimeout(() => {
      void (async () => {
        const state = await readState(this.layout);
        if (state.probation?.version === probation.version) await this.confirm();
      })().catch(() => {
        // Reported through the `error` event; the next launch proves it again.
      });
    }, health.seconds * 1000);
    timer.unref();
  }

  /** How the new version of this install is judged: the release's policy with this updater's limits. */
  private probationPolicy(manifest: ReleaseManifest): ProbationPolicy {
    return {
      health: healthPolicyOf(manifest),
      timeoutMs: this.options.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS,
      maxLaunches: this.options.maxLaunches ?? DEFAULT_MAX_LAUNCHES,
    };
  }

  /** Tells Updraft the running version works: ends its probation and makes it known-good. */
  confirm(): Promise<{ version: string | undefined; wasOnProbation: boolean }> {
    return this.report(async () => {
      await assertInstallFolder(this.layout);
      return withLock(this.layout.lockFile, undefined, CONFIRM_LOCK, async (lock) => {
        await recover(this.layout, { lock });
        return confirm(this.layout, lock);
      });
    });
  }

  /** Goes back to the previous version (kept on disk) and marks the current one failed. */
  rollback(reason = "rolled back by the user"): Promise<{ from: string; to: string; reason: string }> {
    return this.report(async () => {
      await assertInstallFolder(this.layout);
      return withLock(this.layout.lockFile, undefined, { purpose: "rolling back" }, async (lock) => {
        await recover(this.layout, { lock });
        return rollbackToPrevious(this.layout, reason, lock);
      });
    });
  }

  private get backoffMs(): number {
    return this.options.backoffMs ?? DEFAULT_BACKOFF_MS;
  }

  /** Where the pending artifact is downloaded to (named by its signed sha256). */
  private artifactPath(pending: PendingUpdate): string {
    return join(this.layout.downloadsDir, `${pending.artifact.sha256}.tar.zst`);
  }

  /**
   * Downloads and verifies the pending artifact unless it is already on disk; checks free space
   * first. Returns the bytes fetched from the network.
   */
  private async fetchArtifact(
    pending: PendingUpdate,
    options: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void },
  ): Promise<number> {
    const dest = this.artifactPath(pending);
    const have = await hashFile(dest).catch(() => undefined);
    if (have?.sha256 === pending.artifact.sha256) return 0;
    if (this.options.checkDiskSpace !== false) {
      await assertFreeSpace(this.layout.downloadsDir, pending.artifact.size, `downloading ${pending.manifest.version}`);
    }
    const { fetched } = await downloadArtifact(this.http, {
      url: pending.artifactUrl,
      dest,
      length: pending.artifact.size,
      sha256: pending.artifact.sha256,
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (p) => {
        options.onProgress?.(p);
        this.emit("download-progress", p);
      },
    });
    return fetched;
  }

  /**
   * Downloads the chosen delta; on any failure but a cancellation, reports it and switches the
   * pending update to the full archive (which the caller then downloads).
   */
  private async downloadDeltaOrFallBack(
    pending: PendingUpdate,
    options: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void },
  ): Promise<number> {
    try {
      return await this.fetchArtifact(pending, options);
    } catch (err) {
      const e = toUpdraftError(err);
      if (e.code === ErrorCodes.ABORTED) throw e;
      this.emit("delta-fallback", { from: pending.artifact.from ?? "", reason: `download failed: ${e.message}` });
      pending.artifact = pending.fallback!.artifact;
      pending.artifactUrl = pending.fallback!.artifactUrl;
      delete pending.fallback;
      return 0;
    }
  }

  /** The producer for the pending artifact: a delta that falls back to the full archive, or the full archive. */
  private stageProducer(
    pending: PendingUpdate,
    installed: ReleaseManifest | undefined,
    lock: LockToken,
  ): StageProducer {
    const fromFull = (path: string) =>
      recordingTree(this.layout, pending.manifest, fromFullArchive(this.layout, pending.manifest, path, installed));
    const fallback = pending.fallback;
    if (!fallback) return fromFull(pending.downloadedPath!);
    return deltaWithFallback({
      layout: this.layout,
      installed: installed?.version === pending.artifact.from ? installed : undefined,
      manifest: pending.manifest,
      deltaPath: pending.downloadedPath!,
      kind: pending.artifact.kind,
      onFallback: (reason) => this.emit("delta-fallback", { from: pending.artifact.from ?? "", reason }),
      full: async () => {
        const deltaPath = pending.downloadedPath!;
        pending.artifact = fallback.artifact;
        pending.artifactUrl = fallback.artifactUrl;
        delete pending.fallback;
        delete pending.downloadedPath;
        await this.downloadLocked({}, lock);
        await rm(deltaPath, { force: true });
        return fromFull(pending.downloadedPath!);
      },
    });
  }

  /** This process's command line, with paths inside a version folder rewritten to `current`. */
  private defaultRestartCommand(): string[] {
    const prefix = `${this.layout.dir}${sep}${VERSION_DIR_PREFIX}`;
    const rewrite = (arg: string) => {
      if (!arg.startsWith(prefix)) return arg;
      const rest = arg.slice(prefix.length);
      const slash = rest.indexOf(sep);
      return slash < 0 ? this.layout.currentLink : join(this.layout.currentLink, rest.slice(slash + 1));
    };
    return [process.execPath, ...process.execArgv, ...process.argv.slice(1).map(rewrite)];
  }

  private async installedManifest(version: string): Promise<ReleaseManifest | undefined> {
    try {
      return parseReleaseManifest(await readLocalJson(this.layout.manifestFile(version)));
    } catch {
      return undefined;
    }
  }

  /** The install folder's configuration; `NOT_INSTALLED` saying so when its first install did not finish. */
  private async installedConfig(): Promise<AppConfig> {
    // The first install writes the configuration last: until then, even a release already in place is not installed.
    if (!(await exists(this.layout.configFile))) {
      const unfinished = await unfinishedInstallError(this.layout);
      if (unfinished) throw unfinished;
    }
    return readConfig(this.layout);
  }

  private async ensureConfig(): Promise<void> {
    try {
      await readFile(this.layout.configFile);
    } catch {
      await writeConfig(this.layout, await this.config());
    }
  }

  private async openTrust(config: AppConfig): Promise<TrustSession> {
    if (!(await TrustSession.hasRoot(this.layout.tufDir))) {
      const embedded = await readFile(join(this.layout.currentLink, EMBEDDED_ROOT_FILE)).catch(() => undefined);
      if (!embedded) {
        throw new UpdraftError(ErrorCodes.NOT_INSTALLED, `No trusted root for ${this.layout.dir}`, {
          hint: "Install with `updraft install`, or ship updraft-root.json in the release.",
        });
      }
      await TrustSession.seedRoot(this.layout.tufDir, embedded);
    }
    const trust = new TrustSession(
      { repoUrl: config.url!, app: config.app },
      this.layout.tufDir,
      this.layout.cacheDir,
      this.http,
    );
    await trust.refresh();
    return trust;
  }

  /** Runs an operation, turning failures into UpdraftErrors and emitting `error` when someone listens. */
  private async report<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      const e = toUpdraftError(err);
      if (!reported.has(e) && this.listenerCount("error") > 0) this.emit("error", e);
      reported.add(e);
      throw e;
    }
  }
}

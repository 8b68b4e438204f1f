/**
 * `Updater`: the client library's entry. Check a repository for a newer signed release, download
 * it with progress, verify it, install it into its own version folder, switch to it, and restart
 * the app through the detached helper.
 */
import { EventEmitter } from "node:events";
import { readFile, rm } from "node:fs/promises";
import { join, sep } from "node:path";
import { ErrorCodes, toUpdraftError, UpdraftError } from "../core/errors.js";
import { hashFile } from "../core/hash.js";
import { compareVersions } from "../core/version.js";
import {
  type AppConfig,
  type ArtifactRef,
  type ChannelPointer,
  channelTarget,
  EMBEDDED_ROOT_FILE,
  NATIVE_SCHEMA,
  parseChannelPointer,
  parseReleaseManifest,
  type ReleaseManifest,
} from "../formats/native.js";
import {
  backoffFor,
  DEFAULT_BACKOFF_MS,
  recordAttempt,
  recordFailure,
  recordSuccess,
  type Skipped,
} from "./backoff.js";
import { assertFreeSpace } from "./disk.js";
import { type DownloadProgress, downloadArtifact } from "./download.js";
import { spawnRestartHelper } from "./helper.js";
import { type FetchFunction, HttpClient, type TrafficStats } from "./http.js";
import { fromFullArchive, type InstallOutcome, installRelease } from "./installer.js";
import { type InstallLayout, installLayout, VERSION_DIR_PREFIX } from "./layout.js";
import { acquireLock, type HeldLock } from "./lock.js";
import { readCurrentVersion } from "./pointer.js";
import { confirm, type RecoveryReport, recover, rollbackToPrevious } from "./recover.js";
import { type InstallMode, readConfig, readState, writeConfig } from "./state.js";
import { TrustSession } from "./trust.js";

export type { Skipped } from "./backoff.js";
export type { DownloadProgress } from "./download.js";
export type { FetchFunction, TrafficStats } from "./http.js";
export type { RecoveryReport } from "./recover.js";

/** Options of {@link Updater}. Everything but `installDir` defaults from the install's configuration. */
export interface UpdaterOptions {
  /** The install folder (holds `current`, the version folders and `.updraft/`). */
  installDir: string;
  /** Repository base URL; defaults to the install's `updraft.json`. */
  repoUrl?: string;
  /** App name in the repository; defaults to the install's `updraft.json`. */
  app?: string;
  /** Channel to follow; defaults to the install's `updraft.json`, else `stable`. */
  channel?: string;
  /** Inject a fetch (proxies, custom TLS, tests). Defaults to the global `fetch`. */
  fetch?: FetchFunction;
  /** Extra request headers, e.g. `{ authorization: "Bearer …" }`. Never logged. */
  headers?: Record<string, string>;
  /** Abort when no byte arrives for this long (ms). Default 30 s. */
  stallTimeoutMs?: number;
  /** Time a new version has to call `confirm()` before it is rolled back (ms). Default 60 s. */
  healthTimeoutMs?: number;
  /** Launches a new version may make without confirming before it is rolled back. Default 3. */
  maxLaunches?: number;
  /** How long a failed version is not retried (ms). Default 2 hours. */
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
  /** Kind of that artifact (`full` for now). */
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
  /** The version on probation (installed, not yet confirmed), with its deadline. */
  pending: { version: string; deadline: string; launches: number; maxLaunches: number } | undefined;
  /** Versions that failed, why, and when they may be tried again. */
  failed: { version: string; reason: string; at: string; retryAfter: string }[];
}

/** Events an {@link Updater} emits. */
export interface UpdaterEvents {
  checking: [];
  "update-available": [UpdateInfo];
  "update-not-available": [CheckResult];
  "download-progress": [DownloadProgress];
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

/** Errors already emitted, so nested operations (install → download → check) emit each once. */
const reported = new WeakSet<UpdraftError>();

interface PendingUpdate {
  manifest: ReleaseManifest;
  artifact: ArtifactRef;
  artifactUrl: string;
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

  constructor(private readonly options: UpdaterOptions) {
    super();
    this.layout = installLayout(options.installDir);
    this.http = new HttpClient({
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.stallTimeoutMs ? { stallTimeoutMs: options.stallTimeoutMs } : {}),
      userAgent: "updraft-client",
    });
  }

  /** Requests and bytes this updater has fetched so far. */
  get traffic(): TrafficStats {
    return { ...this.http.stats };
  }

  /** The app's configuration, with options taking precedence. */
  async config(): Promise<AppConfig> {
    const { repoUrl, app, channel } = this.options;
    let base: AppConfig | undefined;
    if (!repoUrl || !app) base = await readConfig(this.layout);
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

  /** Checks the repository for a newer release on the channel. */
  async check(): Promise<CheckResult> {
    return this.report(async () => {
      this.emit("checking");
      await recover(this.layout);
      const config = await this.config();
      const trust = await this.openTrust(config);
      const pointerInfo = await trust.requireTarget(channelTarget(config.channel), `channel "${config.channel}"`);
      const pointer = parseChannelPointer((await trust.fetchSmallTarget(pointerInfo)).toString("utf8"));
      if (pointer.app !== config.app || pointer.channel !== config.channel) {
        throw new UpdraftError(ErrorCodes.METADATA_INVALID, `Channel pointer names ${pointer.app}/${pointer.channel}`);
      }
      const currentVersion = await this.currentVersion();
      if (currentVersion !== undefined && compareVersions(pointer.version, currentVersion) <= 0) {
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
      this.pending = { manifest, artifact, artifactUrl: trust.targetUrl(artifactInfo), pointer };
      const update: UpdateInfo = {
        version: manifest.version,
        currentVersion,
        channel: config.channel,
        releasedAt: manifest.releasedAt,
        ...(manifest.notes !== undefined ? { notes: manifest.notes } : {}),
        ...(manifest.critical !== undefined ? { critical: manifest.critical } : {}),
        downloadSize: artifact.size,
        artifactKind: artifact.kind,
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

  /** Downloads the update found by {@link check} (checking first if needed) and verifies it. */
  async download(
    options: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void; lock?: HeldLock } = {},
  ): Promise<DownloadResult> {
    const lock = options.lock ?? (await this.report(() => acquireLock(this.layout.lockFile, "downloading")));
    try {
      return await this.downloadUnlocked(options);
    } finally {
      if (!options.lock) await lock.release();
    }
  }

  private async downloadUnlocked(
    options: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void } = {},
  ): Promise<DownloadResult> {
    return this.report(async () => {
      if (!this.pending) await this.check();
      const pending = this.pending;
      if (!pending)
        throw new UpdraftError(ErrorCodes.NO_UPDATE, "No update to download: the installed version is current");
      const dest = join(this.layout.downloadsDir, `${pending.artifact.sha256}.tar.zst`);
      let fetched = 0;
      const have = await hashFile(dest).catch(() => undefined);
      if (have?.sha256 !== pending.artifact.sha256) {
        if (this.options.checkDiskSpace !== false) {
          await assertFreeSpace(
            this.layout.downloadsDir,
            pending.artifact.size,
            `downloading ${pending.manifest.version}`,
          );
        }
        ({ fetched } = await downloadArtifact(this.http, {
          url: pending.artifactUrl,
          dest,
          length: pending.artifact.size,
          sha256: pending.artifact.sha256,
          ...(options.signal ? { signal: options.signal } : {}),
          onProgress: (p) => {
            options.onProgress?.(p);
            this.emit("download-progress", p);
          },
        }).catch(async (err: unknown) => {
          await recordFailure(this.layout, pending.manifest.version, `download failed: ${(err as Error).message}`);
          throw err;
        }));
      }
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
  async install(options: { lock?: HeldLock } = {}): Promise<InstallResult> {
    return this.report(async () => {
      const lock = options.lock ?? (await acquireLock(this.layout.lockFile, "installing"));
      try {
        await recover(this.layout, { lock });
        if (!this.pending?.downloadedPath) await this.download({ lock });
        const pending = this.pending!;
        await recordAttempt(this.layout, pending.manifest.version);
        const current = await this.currentVersion();
        const installedManifest = current ? await this.installedManifest(current) : undefined;
        let outcome: InstallOutcome;
        try {
          outcome = await installRelease(
            this.layout,
            pending.manifest,
            fromFullArchive(this.layout, pending.manifest, pending.downloadedPath!, installedManifest),
            {
              probation: {
                timeoutMs: this.options.healthTimeoutMs ?? 60_000,
                maxLaunches: this.options.maxLaunches ?? 3,
              },
              ...(installedManifest ? { installed: installedManifest } : {}),
              checkSpace: this.options.checkDiskSpace !== false,
            },
          );
        } catch (err) {
          await recordFailure(this.layout, pending.manifest.version, `install failed: ${(err as Error).message}`);
          throw err;
        }
        if (!outcome.previous) await recordSuccess(this.layout, outcome.version);
        await this.ensureConfig();
        await rm(pending.downloadedPath!, { force: true });
        this.pending = undefined;
        const result: InstallResult = {
          version: outcome.version,
          previousVersion: outcome.previous,
          folder: outcome.folder,
          filesWritten: outcome.stats.written,
          filesReused: outcome.stats.linked,
        };
        this.emit("installed", result);
        return result;
      } finally {
        if (!options.lock) await lock.release();
      }
    });
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
    await recover(this.layout);
    const config = await readConfig(this.layout);
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
        ? { version: p.version, deadline: p.deadline, launches: p.launches, maxLaunches: p.maxLaunches }
        : undefined,
      failed,
    };
  }

  /**
   * Finishes or undoes an interrupted install and enforces probation. Call it once when the app
   * starts with `{ launch: true }`: a new version that keeps starting without confirming is rolled back.
   */
  recover(options: { launch?: boolean } = {}): Promise<RecoveryReport> {
    return this.report(() => recover(this.layout, options));
  }

  /** Tells Updraft the running version works: ends its probation and makes it known-good. */
  confirm(): Promise<{ version: string | undefined; wasOnProbation: boolean }> {
    return this.report(async () => {
      await recover(this.layout);
      return confirm(this.layout);
    });
  }

  /** Goes back to the previous version (kept on disk) and marks the current one failed. */
  rollback(reason = "rolled back by the user"): Promise<{ from: string; to: string; reason: string }> {
    return this.report(async () => {
      await recover(this.layout);
      return rollbackToPrevious(this.layout, reason);
    });
  }

  private get backoffMs(): number {
    return this.options.backoffMs ?? DEFAULT_BACKOFF_MS;
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
      return parseReleaseManifest(await readFile(this.layout.manifestFile(version), "utf8"));
    } catch {
      return undefined;
    }
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

/**
 * `Updater`: the client library's entry, and the orchestration of an update: the install lock,
 * recovery of an interrupted install, the failed-version hold, and the events. What the
 * repository offers comes from the native source (sources/native.ts); the files are put in place
 * by the versioned engine (install/versioned.ts).
 *
 * The updater keeps no state between calls: {@link Updater.check} returns an {@link Update}, a value
 * that {@link Updater.download} and {@link Updater.install} take, so each call says what it acts on.
 */
import { EventEmitter } from "node:events";
import { readFile, rm } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { ErrorCodes, toUpdraftError, UpdraftError } from "../core/errors.js";
import { exists } from "../core/fs.js";
import { type LockToken, withLock } from "../core/lock.js";
import { compareVersions } from "../core/version.js";
import {
  type AppConfig,
  healthPolicyOf,
  NATIVE_SCHEMA,
  PLATFORM_PATTERN,
  parseAppConfig,
  type ReleaseManifest,
} from "../formats/native.js";
import { type DeltaFallback, installedManifest } from "./artifacts/choice.js";
import { deltaWithFallback, recordingTree } from "./artifacts/delta/producer.js";
import {
  backoffFor,
  DEFAULT_BACKOFF_MS,
  recordAttempt,
  recordIfReleaseFault,
  recordSuccess,
  type Skipped,
} from "./install/attempts.js";
import { type FileBusy, fileOps, MAX_FILE_LOCK_BUDGET_MS } from "./install/fs-ops.js";
import { installId } from "./install/install-id.js";
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
import type { DownloadProgress } from "./net/download.js";
import { HttpClient, type NetworkOptions, networkOptionsOf, type TrafficStats } from "./net/http.js";
import {
  healthReportOf,
  type OutcomeFacts,
  type ReportTarget,
  reportTargetOf,
  rollbackReasonOf,
} from "./runtime/health-report.js";
import { spawnHealthReporter, spawnRestartHelper } from "./runtime/restart-helper.js";
import { scheduleJittered } from "./runtime/schedule.js";
import {
  isDelta,
  type NativeRelease,
  NativeSource,
  type NativeStaged,
  releaseRefOf,
  withoutDelta,
} from "./sources/native.js";
import type { NotOfferedReason, ReleaseChoice } from "./trust/choose-release.js";

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
  /**
   * Other base URLs serving the same repository, tried in order before `repoUrl`; a mirror that is
   * down or serves stale or altered files is passed over. Defaults to the install's configuration.
   */
  mirrors?: string[];
  /**
   * Channel to follow; defaults to the install's `updraft.json`, else `stable`. An update installed
   * from another channel than the install's makes the install follow that channel from then on.
   */
  channel?: string;
  /**
   * The platform whose builds this install takes (Node's `os-arch`, e.g. `darwin-x64` under
   * Rosetta); builds for `any` fit every platform. Default `${process.platform}-${process.arch}`.
   */
  platform?: string;
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
  /**
   * How long one file operation of an install keeps trying a file another program holds (ms, 0 to
   * 10 minutes; each pause is a `file-busy` event). Default: `UPDRAFT_FILE_LOCK_BUDGET_MS`, else 10 s.
   */
  fileLockBudgetMs?: number;
}

/**
 * A release newer than the installed one, as {@link Updater.check} found it: pass it to
 * {@link Updater.download} and {@link Updater.install}. An immutable value: it holds the verified
 * release (its signed manifest, the artifact chosen and the full archive a delta falls back to)
 * out of sight, so only a value an `Updater` returned is accepted, by any `Updater` of the same
 * install folder.
 */
export interface Update {
  /** The version it installs. */
  readonly version: string;
  /** The version installed when it was found; installing fails once another one is installed. */
  readonly currentVersion: string | undefined;
  /** The channel that offers it (`stable`, `beta`…): the updater's channel at the time of the check. */
  readonly channel: string;
  /** When the publisher published it: an ISO 8601 date-time in UTC, to the second (`2025-03-01T12:00:00Z`). */
  readonly releasedAt: string;
  /** The release notes as the publisher wrote them (plain text or Markdown, shown as is); absent when none were given. */
  readonly notes?: string;
  /**
   * True when the publisher marked the release critical, for the app to urge the user to update.
   * Updraft only passes it on: a critical release is checked, downloaded and installed as any other. Absent when unmarked.
   */
  readonly critical?: boolean;
  /**
   * True when the installed version is below the minimum version the publisher set
   * (`publish --minimum-version`): the app should not keep running it. Absent otherwise.
   */
  readonly required?: boolean;
  /** Bytes to download (the smallest artifact this install can apply). */
  readonly downloadSize: number;
  /** Kind of that artifact: `full`, or a delta kind (`delta-files`, `delta-tree`). */
  readonly artifactKind: string;
}

/**
 * An {@link Update} whose artifact is on disk, verified: the answer of {@link Updater.download}.
 * `downloadSize` and `artifactKind` say what was downloaded (the full archive when a delta failed).
 */
export interface DownloadedUpdate extends Update {
  /** The verified artifact. */
  readonly path: string;
  /** Bytes fetched from the network by this download (0 when the artifact was already on disk). */
  readonly fetched: number;
}

/** What every answer of {@link Updater.check} says, whatever its `status`. */
export interface CheckedChannel {
  /** The version `current` points at (undefined before the first install). */
  currentVersion: string | undefined;
  /** The version the channel offers, whether or not it will be installed. */
  latestVersion: string;
  /** The channel that was checked: the updater's `channel` option, else the install's, else `stable`. */
  channel: string;
  /** The platform whose builds the install takes (`os-arch`; `any` builds fit too). */
  platform: string;
  /** True when the installed version is below the minimum version of the channel's newest release. */
  required?: boolean;
  /** True when the release offered is marked critical by the publisher. */
  critical?: boolean;
  /** The installed version was yanked by the publisher: why, and the way back is allowed without `allowDowngrade`. */
  yanked?: { version: string; reason?: string };
  /** The staged rollout of the channel's newest release, and whether this install is in it (absent when it has none). */
  rollout?: { version: string; percent: number; halted: boolean; included: boolean };
  /**
   * Why the channel's newest release is not offered to this install: no release fits it at all
   * (then `status` is `current`), or newer releases have no build for its platform.
   */
  notOffered?: { reason: NotOfferedReason; message: string };
}

/** Options of {@link Updater.check} (and of the check {@link Updater.update} makes). */
export interface CheckOptions {
  /**
   * A check a person asked for ("Check for updates…"): takes the channel's newest release even
   * outside its staged rollout, unless the rollout is halted or at 0 %.
   */
  manual?: boolean;
}

/**
 * The channel offers nothing to install: its version is the installed one, or a lower one while
 * `allowDowngrade` is off (then `latestVersion` is below `currentVersion`).
 */
export interface UpToDate extends CheckedChannel {
  /** Tells this case apart from the other answers of {@link Updater.check}. */
  status: "current";
}

/** The channel offers a release to install (`required` when the installed version is below the minimum). */
export interface UpdateAvailable extends CheckedChannel {
  /** Tells this case apart from the other answers of {@link Updater.check}. */
  status: "available";
  /** The release to pass to {@link Updater.download} or {@link Updater.install}. */
  update: Update;
}

/** The channel's release failed to install or to start recently, and is held back until `skipped.retryAfter`. */
export interface UpdateSkipped extends CheckedChannel {
  /** Tells this case apart from the other answers of {@link Updater.check}. */
  status: "skipped";
  /** The held-back version, why it failed, and from when it is offered again. */
  skipped: Skipped;
}

/** The answer of {@link Updater.check}: tell the cases apart by `status`. */
export type CheckResult = UpToDate | UpdateAvailable | UpdateSkipped;

/** Options of {@link Updater.download}, and of the download {@link Updater.install} does when it must. */
export interface DownloadOptions {
  /** Cancels the download (code `ABORTED`); the partial file is kept and the next download resumes it. */
  signal?: AbortSignal;
  /**
   * Called as the artifact's bytes arrive (as is the `download-progress` event); not called when the
   * artifact is already on disk. After a delta falls back, the progress restarts for the full archive.
   */
  onProgress?: (p: DownloadProgress) => void;
}

/** The answer of {@link Updater.install}. */
export interface InstallResult {
  /** The version now installed and current. */
  version: string;
  /** The version that was current before (kept on disk for {@link Updater.rollback}); undefined on a first install. */
  previousVersion: string | undefined;
  /** Absolute path of the new version's own folder inside the install folder (`current` points to it). */
  folder: string;
  /** Files unpacked and written to disk for the new version. */
  filesWritten: number;
  /** Files the new version shares unchanged with the previous one, hard-linked instead of written again. */
  filesReused: number;
  /**
   * The new version's probation, when it has one: it starts at the version's next launch (by the
   * helper of `restart()`, or `recover({ launch: true })`), never at install time.
   */
  probation?: Probation;
}

/** The state of an install folder, for `updraft status`. */
export interface StatusResult {
  /** The app's name in the repository, from the install's configuration. */
  app: string;
  /** The channel the install follows, from its configuration. */
  channel: string;
  /** The repository base URL from the install's configuration; undefined when the install has none recorded. */
  repoUrl: string | undefined;
  /** How the install folder is updated: `versioned` (a folder per version) or `in-place` (files replaced in the app folder). */
  mode: InstallMode;
  /** The version in use; undefined when nothing is installed yet. */
  currentVersion: string | undefined;
  /** The version before it, kept on disk for a rollback; undefined when there is none. */
  previousVersion: string | undefined;
  /** When the current version was installed: an ISO 8601 date-time in UTC; undefined before the first install. */
  installedAt: string | undefined;
  /**
   * The last version confirmed to work (by {@link Updater.confirm}, or by staying up as its `uptime`
   * health policy asks); undefined until a version has been confirmed.
   */
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
  /** A check starts (from {@link Updater.check}, {@link Updater.update} or the auto-check). */
  checking: [];
  /** A check found a release to install; the same value as the answer's `update`. */
  "update-available": [Update];
  /** A check found nothing to install: the channel's version is current (or lower), or held back after a failure. */
  "update-not-available": [UpToDate | UpdateSkipped];
  /** Bytes of an artifact arrived; emitted as often as the `onProgress` callback of {@link DownloadOptions}. */
  "download-progress": [DownloadProgress];
  /** A delta was passed over or abandoned; the full archive is used instead. */
  "delta-fallback": [DeltaFallback];
  /** An artifact is on disk and verified (also when it was there already). */
  downloaded: [DownloadedUpdate];
  /** A new version is installed and current; the same value {@link Updater.install} returns. */
  installed: [InstallResult];
  /**
   * A file of the install is held by another program (Windows: an antivirus scan, the app still
   * running) and the operation pauses before trying again; after `fileLockBudgetMs` it fails with `FILE_LOCKED`.
   */
  "file-busy": [FileBusy];
  /**
   * A public call failed; it also rejects with this error. Emitted only while a listener is attached
   * (so, unlike a plain EventEmitter, an unheard `error` never throws): the auto-check reports its failures here.
   */
  error: [UpdraftError];
}

/** How to restart the app once it has exited. */
export interface RestartOptions {
  /** Program and arguments; default: this process's own command line, run from `current`. */
  command?: string[];
  /** Working directory of the restarted app; default: this process's working directory. */
  cwd?: string;
  /** Exit this process right after starting the helper (default true). */
  exit?: boolean;
  /** File the helper and the restarted app append their output to. */
  logFile?: string;
  /** Variables added to (or overriding) this process's environment for the restarted app. */
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
  assertIntegerOption("fileLockBudgetMs", options.fileLockBudgetMs, 0, MAX_FILE_LOCK_BUDGET_MS, "ms");
  if (
    options.platform !== undefined &&
    (typeof options.platform !== "string" || !PLATFORM_PATTERN.test(options.platform))
  ) {
    throw new UpdraftError(
      ErrorCodes.USAGE,
      `Invalid platform ${String(options.platform)}: give Node's os-arch (linux-x64, win32-x64…) or any`,
      {
        details: { option: "platform" },
      },
    );
  }
  const { mirrors } = options;
  if (mirrors !== undefined) {
    // The install configuration's own rule, so a library option and a stored list are judged alike.
    try {
      parseAppConfig({ schema: NATIVE_SCHEMA, app: "x", mirrors });
    } catch (err) {
      throw new UpdraftError(ErrorCodes.USAGE, `mirrors: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** This process's platform, as publishers name builds (`linux-x64`, `win32-x64`, `darwin-arm64`…). */
export function hostPlatform(): string {
  return `${process.platform}-${process.arch}`;
}

/** What an {@link Update} stands for, kept out of the public value. */
interface UpdatePlan {
  /** The install folder it was found for. */
  readonly dir: string;
  readonly release: NativeRelease;
  /** True when installing it is allowed even below the installed version (the installed one was yanked). */
  readonly downgradeAllowed?: boolean;
  /** True when the update comes from another channel than the install's: the install follows it once installed. */
  readonly switchesChannel?: boolean;
  /** On a {@link DownloadedUpdate}: where `release.artifact` was verified on disk. */
  readonly path?: string;
}

/** The plan of every {@link Update} an Updater returned: the only values `download()` and `install()` accept. */
const plans = new WeakMap<Update, UpdatePlan>();

/** Freezes `value` and records its plan. */
function issue<T extends Update>(value: T, plan: UpdatePlan): T {
  Object.freeze(value);
  plans.set(value, plan);
  return value;
}

/** The public face of `release` found while `currentVersion` was installed. */
function updateOf(
  release: NativeRelease,
  currentVersion: string | undefined,
  channel: string,
  flags: { critical?: boolean; required?: boolean },
): Update {
  const { manifest, artifact } = release;
  const critical = flags.critical === true || manifest.critical === true;
  return {
    version: manifest.version,
    currentVersion,
    channel,
    releasedAt: manifest.releasedAt,
    ...(manifest.notes !== undefined ? { notes: manifest.notes } : {}),
    ...(critical ? { critical: true } : {}),
    ...(flags.required === true ? { required: true } : {}),
    downloadSize: artifact.ref.size,
    artifactKind: artifact.ref.kind,
  };
}

/** What every check answer says, from the release choice. */
function checkedChannel(
  choice: ReleaseChoice,
  base: { currentVersion: string | undefined; channel: string; platform: string; latestVersion: string },
): CheckedChannel {
  // Reported only for a release that has a staged rollout.
  const rollout = choice.newest?.rollout === undefined ? undefined : choice.rollout;
  const yank = choice.installedYank;
  const offered = choice.kind === "release" ? choice.release : undefined;
  return {
    currentVersion: base.currentVersion,
    latestVersion: offered?.version ?? choice.newest?.version ?? base.latestVersion,
    channel: base.channel,
    platform: base.platform,
    ...(choice.required ? { required: true } : {}),
    ...(offered?.critical === true ? { critical: true } : {}),
    ...(yank
      ? { yanked: { version: yank.version, ...(yank.reason !== undefined ? { reason: yank.reason } : {}) } }
      : {}),
    ...(rollout
      ? {
          rollout: {
            version: rollout.version,
            percent: rollout.percent,
            halted: rollout.halted,
            included: rollout.included,
          },
        }
      : {}),
    ...(choice.kind === "none" ? { notOffered: { reason: choice.reason, message: choice.message } } : {}),
    ...(choice.kind === "release" && choice.unbuilt.length > 0
      ? {
          notOffered: {
            reason: "no-build-for-platform" as const,
            message: `${choice.unbuilt.join(", ")} ${choice.unbuilt.length === 1 ? "has" : "have"} no build for ${base.platform}`,
          },
        }
      : {}),
  };
}

/** The steps a caller that already holds the install lock runs (the first install); see {@link checkHoldingLock}. */
let holdingLock: {
  check(updater: Updater, lock: LockToken): Promise<CheckResult>;
  install(updater: Updater, update: Update, options: DownloadOptions, lock: LockToken): Promise<InstallResult>;
};

/**
 * Updates one installed app.
 *
 * @example
 * ```ts
 * const updater = new Updater({ installDir: "/opt/myapp" });
 * const result = await updater.check();
 * if (result.status === "available") {
 *   const downloaded = await updater.download(result.update, { onProgress: (p) => console.log(p.percent.toFixed(0) + "%") });
 *   await updater.install(downloaded);
 *   await updater.restart();
 * }
 * ```
 */
export class Updater extends EventEmitter<UpdaterEvents> {
  static {
    holdingLock = {
      check: (updater, lock) => updater.checkUnder(lock, { manual: true }),
      install: (updater, update, options, lock) => updater.installUnder(update, updater.planOf(update), options, lock),
    };
  }

  private readonly layout: InstallLayout;
  private readonly http: HttpClient;

  constructor(private readonly options: UpdaterOptions) {
    super();
    validateUpdaterOptions(options);
    const budgetMs = options.fileLockBudgetMs;
    this.layout = installLayout(
      options.installDir,
      fileOps({ ...(budgetMs !== undefined ? { budgetMs } : {}), onBusy: (busy) => this.emit("file-busy", busy) }),
    );
    this.http = new HttpClient({ ...networkOptionsOf(options), userAgent: "updraft-client" });
  }

  /** Requests and bytes this updater has fetched so far. */
  get traffic(): TrafficStats {
    return { ...this.http.stats };
  }

  /** The app's configuration, with options taking precedence. */
  async config(): Promise<AppConfig> {
    const { repoUrl, app, channel, mirrors } = this.options;
    let base: AppConfig | undefined;
    if (!repoUrl || !app || !mirrors)
      base = await this.installedConfig().catch((err) => (repoUrl && app ? undefined : Promise.reject(err)));
    const url = repoUrl ?? base?.url;
    if (!url) {
      throw new UpdraftError(ErrorCodes.NOT_INSTALLED, "No repository URL is configured for this install", {
        hint: "Pass repoUrl, or publish with --url so releases carry it.",
      });
    }
    const bases = mirrors ?? base?.mirrors;
    const platform = this.options.platform ?? base?.platform;
    return {
      schema: NATIVE_SCHEMA,
      app: app ?? base!.app,
      url,
      channel: channel ?? base?.channel ?? "stable",
      ...(bases !== undefined && bases.length > 0 ? { mirrors: bases } : {}),
      ...(platform !== undefined ? { platform } : {}),
    };
  }

  /** The version `current` points at. */
  currentVersion(): Promise<string | undefined> {
    return readCurrentVersion(this.layout);
  }

  /**
   * Checks the repository for the release this install should run (finishing an interrupted
   * install first): the channel's newest release for this platform when the install is in its
   * staged rollout (or `manual` is set), else the release before it; a yanked installed version is
   * offered the way back.
   */
  check(options: CheckOptions = {}): Promise<CheckResult> {
    return this.report(() => this.checkUnder(undefined, options));
  }

  /**
   * Downloads the artifact of `update` (a value {@link Updater.check} returned) and verifies it against the
   * signed metadata; a delta that fails falls back to the full archive (`delta-fallback` event).
   * An interrupted download resumes; an artifact already on disk is not fetched again.
   */
  download(update: Update, options: DownloadOptions = {}): Promise<DownloadedUpdate> {
    return this.report(async () => {
      const plan = this.planOf(update);
      await assertInstallFolder(this.layout);
      return withLock(this.layout.lockFile, undefined, { purpose: "downloading" }, async () => {
        await this.assertStillApplies(update, plan);
        return (await this.downloadUnder(update, plan, options)).downloaded;
      });
    });
  }

  /**
   * Installs `update` (from {@link Updater.check}, or from {@link Updater.download}; one not downloaded yet is
   * downloaded first) and makes it current. Fails with `NO_UPDATE` when another version was
   * installed since the check: check again.
   */
  install(update: Update, options: DownloadOptions = {}): Promise<InstallResult> {
    return this.report(async () => {
      const plan = this.planOf(update);
      await assertInstallFolder(this.layout);
      return withLock(this.layout.lockFile, undefined, { purpose: "installing" }, (lock) =>
        this.installUnder(update, plan, options, lock),
      );
    });
  }

  /**
   * Checks, downloads and installs under one lock: {@link Updater.check}, then {@link Updater.install} of what it
   * found. Fails with `NO_UPDATE` when there is nothing to install (or the release is held back
   * after a failure), and `DOWNGRADE_REFUSED` when the channel went back to a lower version.
   */
  update(options: DownloadOptions & CheckOptions = {}): Promise<InstallResult> {
    return this.report(async () => {
      await assertInstallFolder(this.layout);
      return withLock(this.layout.lockFile, undefined, { purpose: "installing" }, async (lock) => {
        const check = await this.checkUnder(lock, options);
        if (check.status !== "available") throw this.nothingToInstall(check);
        return this.installUnder(check.update, this.planOf(check.update), options, lock);
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
          if (result.status === "available" && options.download) await this.download(result.update);
        } catch {
          // Already reported through the `error` event; the next check tries again.
        }
      },
    );
  }

  /** {@link Updater.check}, under `lock` when the caller holds it (recovery then runs under it). */
  private async checkUnder(lock: LockToken | undefined, options: CheckOptions = {}): Promise<CheckResult> {
    this.emit("checking");
    await assertInstallFolder(this.layout);
    await recover(this.layout, { lock });
    const config = await this.config();
    const source = this.nativeSource(config);
    const currentVersion = await this.currentVersion();
    const choice = await source.choose(currentVersion, { manual: options.manual === true });
    const document = await source.offered();
    const checked = checkedChannel(choice, {
      currentVersion,
      channel: config.channel,
      platform: config.platform ?? hostPlatform(),
      latestVersion: document.releases[0]?.version ?? document.version,
    });
    const notAvailable = (result: UpToDate | UpdateSkipped) => {
      this.emit("update-not-available", result);
      return result;
    };
    if (choice.kind === "none") return notAvailable({ status: "current", ...checked });
    const version = choice.release.version;
    const order = currentVersion === undefined ? 1 : compareVersions(version, currentVersion);
    const downgradeAllowed = order < 0 && (this.options.allowDowngrade === true || choice.installedYank !== undefined);
    if (order === 0 || (order < 0 && !downgradeAllowed)) return notAvailable({ status: "current", ...checked });
    // Back-off: only the chosen release's own failures hold it back (a required update is never held back by another's).
    const skipped = await backoffFor(this.layout, version, { windowMs: this.backoffMs });
    if (skipped) return notAvailable({ status: "skipped", ...checked, skipped });
    const release = await source.release(releaseRefOf(choice), currentVersion);
    const installedChannel = await this.installedConfig().then(
      (c) => c.channel,
      () => config.channel,
    );
    const update = issue(
      updateOf(release, currentVersion, config.channel, {
        ...(choice.release.critical === true ? { critical: true } : {}),
        ...(choice.required ? { required: true } : {}),
      }),
      {
        dir: this.layout.dir,
        release,
        ...(downgradeAllowed ? { downgradeAllowed } : {}),
        ...(installedChannel !== config.channel ? { switchesChannel: true } : {}),
      },
    );
    this.emit("update-available", update);
    return { status: "available", ...checked, update };
  }

  /**
   * Downloads `update`'s artifact (the full archive when its delta fails) and returns it as a
   * {@link DownloadedUpdate}, with what its plan then says.
   */
  private async downloadUnder(
    update: Update,
    plan: UpdatePlan,
    options: DownloadOptions,
  ): Promise<NativeStaged & { downloaded: DownloadedUpdate }> {
    // No failure here bans the version: the network, the mirror or the disk failed, not the release.
    const fetched = await this.fetchRelease(plan.release, options);
    return { ...fetched, downloaded: this.announceDownloaded(update, plan, fetched) };
  }

  /** `update` as downloaded into `staged` (the full archive's, after a fall-back), announced by `downloaded`. */
  private announceDownloaded(update: Update, plan: UpdatePlan, staged: NativeStaged): DownloadedUpdate {
    const { release, path } = staged;
    const downloaded = issue<DownloadedUpdate>(
      {
        ...update,
        downloadSize: release.artifact.ref.size,
        artifactKind: release.artifact.ref.kind,
        path,
        fetched: staged.fetched,
      },
      { ...plan, release, path },
    );
    this.emit("downloaded", downloaded);
    return downloaded;
  }

  /** Installs `update` under `lock`: the body of {@link Updater.install} and {@link Updater.update}. */
  private async installUnder(
    update: Update,
    plan: UpdatePlan,
    options: DownloadOptions,
    lock: LockToken,
  ): Promise<InstallResult> {
    const started = performance.now();
    await recover(this.layout, { lock });
    await this.assertStillApplies(update, plan);
    const source = this.nativeSource(await this.config());
    const ready =
      plan.path !== undefined && (await source.holds(plan.path, plan.release))
        ? { release: plan.release, path: plan.path }
        : await this.downloadUnder(update, plan, options);
    let { release, path } = ready;
    const { manifest } = release;
    await recordAttempt(this.layout, manifest.version);
    const current = await this.currentVersion();
    const installed = current ? await installedManifest(this.layout, current) : undefined;
    let outcome: InstallOutcome;
    try {
      outcome = await installRelease(
        this.layout,
        manifest,
        this.stageProducer(source, release, path, installed, options, (full) => {
          ({ release, path } = full);
          this.announceDownloaded(update, plan, full);
        }),
        {
          probation: this.probationPolicy(manifest),
          ...(installed ? { installed } : {}),
          checkSpace: this.options.checkDiskSpace !== false,
          manifestBytes: release.manifestBytes,
        },
      );
    } catch (err) {
      await recordIfReleaseFault(this.layout, manifest.version, err, "install failed");
      const target = manifest.reportUrl === undefined ? undefined : { url: manifest.reportUrl, app: manifest.app };
      const reason = toUpdraftError(err).code;
      // A cancelled install says nothing about the release.
      if (reason !== ErrorCodes.ABORTED) {
        await this.reportOutcome({ event: "failed", from: current, to: manifest.version, reason }, target);
      }
      throw err;
    }
    if (!outcome.previous) await recordSuccess(this.layout, outcome.version);
    await this.ensureConfig();
    if (plan.switchesChannel)
      await writeConfig(this.layout, { ...(await readConfig(this.layout)), channel: update.channel });
    await rm(path, { force: true });
    const { probation } = await readState(this.layout);
    const result: InstallResult = {
      version: outcome.version,
      previousVersion: outcome.previous,
      folder: outcome.folder,
      filesWritten: outcome.stats.written,
      filesReused: outcome.stats.linked,
      ...(probation?.version === outcome.version ? { probation } : {}),
    };
    await this.reportOutcome({
      event: "installed",
      from: outcome.previous,
      to: outcome.version,
      artifact: release.artifact.ref.kind,
      bytes: release.artifact.ref.size,
      seconds: (performance.now() - started) / 1000,
    });
    this.emit("installed", result);
    return result;
  }

  /** The plan of `update`; `USAGE` when it is not a value an Updater returned for this install folder. */
  private planOf(update: Update): UpdatePlan {
    const plan = typeof update === "object" && update !== null ? plans.get(update) : undefined;
    if (!plan) {
      throw new UpdraftError(ErrorCodes.USAGE, "Not an update found by Updater.check()", {
        hint: "Pass the `update` of a check() result whose status is available, or what download() returned.",
      });
    }
    if (resolve(plan.dir) !== resolve(this.layout.dir)) {
      throw new UpdraftError(ErrorCodes.USAGE, `This update was found for ${plan.dir}, not ${this.layout.dir}`, {
        hint: "Pass an update found by an Updater of the same install folder.",
      });
    }
    return plan;
  }

  /**
   * Refuses an update found while another version was installed (installed since, by another
   * updater or a recovery): its choice of artifact and its order against the installed version
   * may no longer hold. Also refuses a downgrade this updater does not allow.
   */
  private async assertStillApplies(update: Update, plan: UpdatePlan): Promise<void> {
    const current = await this.currentVersion();
    if (current !== update.currentVersion) {
      throw new UpdraftError(
        ErrorCodes.NO_UPDATE,
        current === update.version
          ? `${update.version} is installed already`
          : `This update to ${update.version} was found when ${update.currentVersion ?? "nothing"} was installed; ${current ?? "nothing"} is installed now`,
        {
          hint: "Check again, and install what that check finds.",
          details: { version: update.version, foundWith: update.currentVersion ?? null, installed: current ?? null },
        },
      );
    }
    const downgradeAllowed = this.options.allowDowngrade === true || plan.downgradeAllowed === true;
    if (current !== undefined && !downgradeAllowed && compareVersions(update.version, current) < 0) {
      throw this.downgradeRefused(update.version, current);
    }
  }

  /** Why {@link Updater.update} has nothing to install after `check`. */
  private nothingToInstall(check: UpToDate | UpdateSkipped): UpdraftError {
    if (check.notOffered) return new UpdraftError(ErrorCodes.NO_UPDATE, check.notOffered.message);
    if (check.status === "skipped") {
      return new UpdraftError(
        ErrorCodes.NO_UPDATE,
        `${check.latestVersion} is held back after it failed: ${check.skipped.reason}`,
        { hint: `It may be tried again after ${check.skipped.retryAfter}.` },
      );
    }
    const { currentVersion, latestVersion } = check;
    if (currentVersion !== undefined && compareVersions(latestVersion, currentVersion) < 0) {
      return this.downgradeRefused(latestVersion, currentVersion);
    }
    return new UpdraftError(ErrorCodes.NO_UPDATE, "No update to install: the installed version is current");
  }

  private downgradeRefused(offered: string, installed: string): UpdraftError {
    return new UpdraftError(
      ErrorCodes.DOWNGRADE_REFUSED,
      `The channel offers ${offered}, lower than the installed ${installed}; not downgrading`,
      {
        hint: "If the publisher withdrew a release on purpose, pass allowDowngrade (--allow-downgrade) to install it.",
      },
    );
  }

  /** The native source of this install's repository; `config` as read by {@link Updater.config}. */
  private nativeSource(config: AppConfig): NativeSource {
    return new NativeSource({
      layout: this.layout,
      config,
      http: this.http,
      onFallback: (fallback) => this.emit("delta-fallback", fallback),
      checkDiskSpace: this.options.checkDiskSpace !== false,
      platform: config.platform ?? hostPlatform(),
      installId: () => installId(this.layout),
    });
  }

  /** Downloads `release`'s artifact through the native source (a delta that fails gives way to the full archive). */
  private async fetchRelease(release: NativeRelease, options: DownloadOptions): Promise<NativeStaged> {
    const source = this.nativeSource(await this.config());
    return source.stage(release, this.layout.downloadsDir, {
      signal: options.signal,
      onProgress: (p) => {
        options.onProgress?.(p);
        this.emit("download-progress", p);
      },
    });
  }

  /**
   * The producer of `release`'s tree from the artifact at `path`: the full archive, or a delta that
   * falls back to the full archive (downloaded then, and reported through `onFull`).
   */
  private stageProducer(
    source: NativeSource,
    release: NativeRelease,
    path: string,
    installed: ReleaseManifest | undefined,
    options: DownloadOptions,
    onFull: (full: NativeStaged) => void,
  ): StageProducer {
    const { manifest } = release;
    const fromFull = (archive: string) =>
      recordingTree(this.layout, manifest, fromFullArchive(this.layout, manifest, archive, installed));
    if (!isDelta(release)) return fromFull(path);
    let fullRelease = withoutDelta(release);
    return deltaWithFallback({
      layout: this.layout,
      installed: installed?.version === release.artifact.ref.from ? installed : undefined,
      manifest,
      deltaPath: path,
      kind: release.artifact.ref.kind,
      onFallback: (reason) => {
        fullRelease = source.withoutDelta(release, reason);
      },
      full: async () => {
        const full = await this.fetchRelease(fullRelease, options);
        await rm(path, { force: true });
        onFull(full);
        return fromFull(full.path);
      },
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
      const back = report.rolledBack;
      if (back) {
        await this.reportOutcome({
          event: "rolled-back",
          from: back.to,
          to: back.from,
          reason: rollbackReasonOf(back.reason),
        });
      }
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
        const confirmed = await confirm(this.layout, lock);
        if (confirmed.wasOnProbation && confirmed.version !== undefined) {
          await this.reportOutcome({ event: "confirmed", to: confirmed.version });
        }
        return confirmed;
      });
    });
  }

  /** Goes back to the previous version (kept on disk) and marks the current one failed. */
  rollback(reason = "rolled back by the user"): Promise<{ from: string; to: string; reason: string }> {
    return this.report(async () => {
      await assertInstallFolder(this.layout);
      return withLock(this.layout.lockFile, undefined, { purpose: "rolling back" }, async (lock) => {
        await recover(this.layout, { lock });
        const back = await rollbackToPrevious(this.layout, reason, lock);
        await this.reportOutcome({ event: "rolled-back", from: back.to, to: back.from, reason: "by-user" });
        return back;
      });
    });
  }

  /**
   * Hands the report of `facts` to a detached helper when the release (`target`, else the kept
   * manifest of `facts.to`) names a report URL. Reads two small local files and starts a process:
   * the update never waits for the network, and a report never fails anything.
   */
  private async reportOutcome(facts: OutcomeFacts, target?: ReportTarget): Promise<void> {
    const to = target ?? (await reportTargetOf(this.layout, facts.to));
    if (to === undefined) return;
    const report = await healthReportOf(this.layout, to.app, facts);
    if (report !== undefined) spawnHealthReporter(to.url, report);
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

  /** Runs an operation, turning failures into UpdraftErrors and emitting `error` when someone listens. */
  private async report<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      const e = toUpdraftError(err);
      if (this.listenerCount("error") > 0) this.emit("error", e);
      throw e;
    }
  }
}

/**
 * {@link Updater.check} for a caller that holds the install lock already (the first install).
 * Not part of the package's API: lock tokens stay inside it.
 */
export function checkHoldingLock(updater: Updater, lock: LockToken): Promise<CheckResult> {
  return holdingLock.check(updater, lock);
}

/** {@link Updater.install} for a caller that holds the install lock already; see {@link checkHoldingLock}. */
export function installHoldingLock(
  updater: Updater,
  update: Update,
  options: DownloadOptions,
  lock: LockToken,
): Promise<InstallResult> {
  return holdingLock.install(updater, update, options, lock);
}

/**
 * `Autoupdate`: python-autoupdate's API in TypeScript, for teams porting code — the same shape
 * (`new Autoupdate({ appName, currentVersion, updateUrl, appDir })`, `checkForUpdates()`,
 * `downloadUpdates()`, `applyUpdates()`), on Updraft's engine: downloads are checked against the
 * `hash` of `update.json` (or against signed metadata when the repository has it), archives are
 * unpacked by the hardened readers, and the files are replaced in the app folder all-or-nothing.
 *
 * @example
 * ```ts
 * const updater = new Autoupdate({ appName: "YourAppName", currentVersion: "1.0.0",
 *   updateUrl: "https://example.com/updates/" });
 * if (await updater.checkForUpdates()) {
 *   const updated = await updater.downloadUpdates();
 *   if (updated) await updater.applyUpdates(); // then restart the app
 * }
 * ```
 */
import { dirname, join, resolve } from "node:path";
import {
  applyPreparedInPlace,
  type InPlaceOutcome,
  type InstallLayout,
  installLayout,
  prepareInPlace,
  recordAttempt,
  recordIfReleaseFault,
  recordSuccess,
  type Skipped,
  updateState,
} from "../client/install/index.js";
import { HttpClient, type NetworkOptions } from "../client/net/http.js";
import { isLoopbackHost } from "../client/net/url-policy.js";
import { beginLegacySession, type Candidate, isNewer, skippedVersion } from "../client/sources/legacy/apply.js";
import { latestSignedRelease, openSignedRepository, stageSignedRelease } from "../client/sources/legacy/signed.js";
import { writeSourceRecord } from "../client/sources/legacy/source-record.js";
import { assertUnsignedTransport, parseLegacyUrl } from "../client/sources/legacy/transport.js";
import { fetchUpdateJson, stageUpdateJson, updateJsonUrl } from "../client/sources/update-json.js";
import { randomSuffix, removePath } from "../core/fs.js";
import { acquireLock } from "../core/lock.js";
import { assertVersion } from "../core/version.js";

/** Options of {@link Autoupdate}, named as python-autoupdate's. */
export interface AutoupdateOptions extends NetworkOptions {
  appName: string;
  currentVersion: string;
  /** The folder holding `update.json` (`https://example.com/updates/`) or the file itself. */
  updateUrl: string;
  /** The app's folder; default: the folder of the running program. */
  appDir?: string;
  /** Accept unsigned updates over plain http:// from a non-loopback host. */
  allowUnsignedHttp?: boolean;
  /** Back-off window after a failed attempt (default 2 hours). */
  backoffMs?: number;
  /** Most bytes a download may have and unpack to (default 2 GiB). */
  maxBytes?: number;
}

/** Checks, downloads and applies updates of one app folder. */
export class Autoupdate {
  readonly appDir: string;
  readonly layout: InstallLayout;
  /** The newest version found by {@link checkForUpdates}. */
  latestVersion: string | undefined;
  /** Set when the newest version failed recently and is not retried yet. */
  skipped: Skipped | undefined;
  /** True when the update found is verified by Updraft's signed metadata. */
  signed = false;
  private readonly http: HttpClient;
  private candidate: Candidate | undefined;
  private prepared: string | undefined;

  constructor(private readonly options: AutoupdateOptions) {
    assertVersion(options.currentVersion, "currentVersion");
    this.appDir = resolve(options.appDir ?? dirname(process.argv[1] ?? process.execPath));
    this.layout = installLayout(this.appDir);
    const insecureOk = options.allowInsecureHttp === true || options.allowUnsignedHttp === true;
    this.http = new HttpClient({ ...options, allowInsecureHttp: insecureOk, userAgent: "updraft-autoupdate" });
  }

  /** True when a newer version than `currentVersion` is published (and not backed off). */
  async checkForUpdates(): Promise<boolean> {
    const { currentVersion } = this.options;
    await beginLegacySession(this.layout, currentVersion);
    this.candidate = undefined;
    this.skipped = undefined;
    const found = (await this.signedCandidate()) ?? (await this.unsignedCandidate());
    this.latestVersion = found.version;
    this.signed = found.signed;
    if (!isNewer(found.version, currentVersion)) return false;
    this.skipped = await skippedVersion(this.layout, found.version, this.options.backoffMs);
    if (this.skipped) return false;
    this.candidate = found;
    return true;
  }

  /**
   * Downloads and verifies the update found by {@link checkForUpdates} and stages it durably.
   * Returns false when there is nothing to download; throws an `UpdraftError` when it fails
   * (when the release itself is broken, that version is not retried for the back-off window;
   * a network or mirror failure is retried at the next call).
   */
  async downloadUpdates(): Promise<boolean> {
    if (!this.candidate && !(await this.checkForUpdates())) return false;
    const candidate = this.candidate!;
    const lock = await acquireLock(this.layout.lockFile, { purpose: `downloading ${candidate.version}` });
    const workDir = join(this.layout.stateDir, "unpack", randomSuffix());
    try {
      const installed = this.options.currentVersion;
      await updateState(this.layout, (s) =>
        s.current === installed ? s : { ...s, mode: "in-place", current: installed },
      );
      await recordAttempt(this.layout, candidate.version);
      try {
        await prepareInPlace(this.layout, await candidate.stage(workDir), { lock });
      } catch (err) {
        await recordIfReleaseFault(this.layout, candidate.version, err).catch(() => {});
        throw err;
      }
      this.prepared = candidate.version;
      return true;
    } finally {
      await removePath(workDir).catch(() => {});
      await lock.release();
    }
  }

  /** Replaces the app's files with the downloaded update, all or nothing. Restart the app afterwards. */
  async applyUpdates(): Promise<InPlaceOutcome | undefined> {
    if (!this.prepared && !(await this.downloadUpdates())) return undefined;
    const version = this.prepared!;
    try {
      const outcome = await applyPreparedInPlace(this.layout);
      await recordSuccess(this.layout, version);
      this.prepared = undefined;
      return outcome;
    } catch (err) {
      await recordIfReleaseFault(this.layout, version, err).catch(() => {});
      throw err;
    }
  }

  /** The signed path: `updateUrl` is `<repo>/<app>/` of an Updraft repository with signed metadata. */
  private async signedCandidate(): Promise<Candidate | undefined> {
    const app = this.options.appName.toLowerCase();
    const folder = new URL(".", updateJsonUrl(this.options.updateUrl));
    const segments = folder.pathname.split("/").filter(Boolean);
    if (segments.at(-1)?.toLowerCase() !== app) return undefined;
    const repoUrl = new URL("..", folder).toString();
    const plainRemote = folder.protocol === "http:" && !isLoopbackHost(folder.hostname);
    const signed = await openSignedRepository({
      layout: this.layout,
      repoUrl,
      app,
      http: this.http,
      trustOnFirstUse: !plainRemote || this.options.allowUnsignedHttp === true,
    });
    if (!signed) return undefined;
    const release = await latestSignedRelease(signed.trust, app);
    await this.record(true);
    return {
      version: release.version,
      signed: true,
      stage: (workDir) => stageSignedRelease(this.http, this.layout, release, workDir),
    };
  }

  private async unsignedCandidate(): Promise<Candidate> {
    const url = updateJsonUrl(this.options.updateUrl);
    assertUnsignedTransport(parseLegacyUrl(url, "updateUrl"), this.options.allowUnsignedHttp === true);
    await this.record(false);
    const doc = await fetchUpdateJson(this.http, url);
    const allowUnsignedHttp = this.options.allowUnsignedHttp === true;
    return {
      version: doc.version,
      signed: false,
      stage: (workDir) =>
        stageUpdateJson(this.http, doc, workDir, {
          allowUnsignedHttp,
          ...(this.options.maxBytes ? { maxBytes: this.options.maxBytes } : {}),
        }),
    };
  }

  private record(signed: boolean): Promise<void> {
    return writeSourceRecord(this.layout, {
      format: "update-json",
      url: updateJsonUrl(this.options.updateUrl),
      app: this.options.appName,
      signed,
      checkedAt: new Date().toISOString(),
    });
  }
}

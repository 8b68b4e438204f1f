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
import { dirname, resolve } from "node:path";
import { type InPlaceOutcome, type InstallLayout, installLayout, type Skipped } from "../client/install/index.js";
import { HttpClient, type NetworkOptions } from "../client/net/http.js";
import {
  type AvailableUpdate,
  applyPreparedUpdate,
  checkSource,
  prepareUpdate,
} from "../client/sources/legacy/apply.js";
import { SignedSource, type SignedSourceRelease } from "../client/sources/legacy/signed.js";
import type { UpdateSource } from "../client/sources/source.js";
import { type UpdateJsonRelease, UpdateJsonSource, updateJsonUrl } from "../client/sources/update-json.js";
import { assertVersion } from "../core/version.js";

/** Options of {@link Autoupdate}, named as python-autoupdate's. */
export interface AutoupdateOptions extends NetworkOptions {
  /**
   * The app's name (python-autoupdate's `app_name`), as `updraft status` reports it. When `updateUrl` is
   * the folder `<repository>/<appName>/` of an Updraft repository (compared ignoring case), the
   * repository's signed metadata is used instead of `update.json`.
   */
  appName: string;
  /**
   * The version now running: semver (`1.0.0`, `1.2.3-beta.1`) or dotted numbers (`10.0.2.0`); only a
   * higher published version is an update. An invalid one throws `VERSION_INVALID` from the constructor.
   */
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
  /** Absolute path of the app folder whose files an update replaces: `appDir`, resolved, or its default. */
  readonly appDir: string;
  /** The newest version found by {@link Autoupdate.checkForUpdates}. */
  latestVersion: string | undefined;
  /** Set when the newest version failed recently and is not retried yet. */
  skipped: Skipped | undefined;
  /** True when the update found is verified by Updraft's signed metadata. */
  signed = false;
  private readonly layout: InstallLayout;
  private readonly http: HttpClient;
  private available: AvailableUpdate | undefined;
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
    this.available = undefined;
    this.skipped = undefined;
    const { backoffMs } = this.options;
    const checked = await checkSource(this.layout, this.options.currentVersion, () => this.open(), {
      ...(backoffMs !== undefined ? { backoffMs } : {}),
    });
    this.latestVersion = checked.found.version;
    this.signed = checked.signed;
    if (checked.status === "skipped") this.skipped = checked.skipped;
    if (checked.status !== "available") return false;
    this.available = checked;
    return true;
  }

  /**
   * Downloads and verifies the update found by {@link Autoupdate.checkForUpdates} and stages it durably.
   * Returns false when there is nothing to download; throws an `UpdraftError` when it fails
   * (when the release itself is broken, that version is not retried for the back-off window;
   * a network or mirror failure is retried at the next call).
   */
  async downloadUpdates(): Promise<boolean> {
    if (!this.available && !(await this.checkForUpdates())) return false;
    const update = this.available!;
    await prepareUpdate(this.layout, this.options.currentVersion, update);
    this.prepared = update.release.version;
    return true;
  }

  /** Replaces the app's files with the downloaded update, all or nothing. Restart the app afterwards. */
  async applyUpdates(): Promise<InPlaceOutcome | undefined> {
    if (!this.prepared && !(await this.downloadUpdates())) return undefined;
    const outcome = await applyPreparedUpdate(this.layout, this.prepared!);
    this.prepared = undefined;
    return outcome;
  }

  /** The signed metadata when `updateUrl` is `<repo>/<app>/` of an Updraft repository that has it, else update.json. */
  private async open(): Promise<UpdateSource<SignedSourceRelease | UpdateJsonRelease>> {
    const allowUnsignedHttp = this.options.allowUnsignedHttp === true;
    const signed = await this.openSigned(allowUnsignedHttp);
    return (
      signed ??
      new UpdateJsonSource({
        http: this.http,
        updateUrl: this.options.updateUrl,
        app: this.options.appName,
        allowUnsignedHttp,
        ...(this.options.maxBytes ? { maxBytes: this.options.maxBytes } : {}),
      })
    );
  }

  private async openSigned(allowUnsignedHttp: boolean): Promise<SignedSource | undefined> {
    const app = this.options.appName.toLowerCase();
    const url = updateJsonUrl(this.options.updateUrl);
    const folder = new URL(".", url);
    const segments = folder.pathname.split("/").filter(Boolean);
    if (segments.at(-1)?.toLowerCase() !== app) return undefined;
    return SignedSource.open({
      layout: this.layout,
      repoUrl: new URL("..", folder).toString(),
      app,
      http: this.http,
      allowUnsignedHttp,
      origin: { format: "update-json", url, app: this.options.appName },
    });
  }
}

/**
 * `SaauClient`: keeps an app installed from an unchanged SAAU repository up to date, in place.
 * When the repository also carries Updraft's signed metadata (or the app folder holds the
 * `updraft-root.json` of an Updraft-published release), the signed path is used and the label is
 * ignored; otherwise the label and zip are verified as far as the format allows, over https or
 * loopback only unless the user accepts the risk.
 */
import { ErrorCodes, UpdraftError } from "../../../core/errors.js";
import { APP_NAME_PATTERN } from "../../../formats/native.js";
import { type InstallLayout, installLayout, type Skipped } from "../../install/index.js";
import { HttpClient, type NetworkOptions } from "../../net/http.js";
import { parseHttpUrl } from "../../net/url-policy.js";
import type { RootSource } from "../../trust/root.js";
import { type ApplyOptions, type ApplyResult, applyUpdate, checkSource, type SourceCheck } from "../legacy/apply.js";
import { SignedSource, type SignedSourceRelease } from "../legacy/signed.js";
import { isUnusable, type UnusableRelease, type UpdateSource } from "../source.js";
import { type InstalledVersion, installedVersion } from "./installed.js";
import { type SaauLabelRelease, SaauLabelSource } from "./source.js";

/** Options of {@link SaauClient}. */
export interface SaauClientOptions extends NetworkOptions {
  /** The folder the app runs from (holds its executable and its copy of `versao.txt`). */
  appDir: string;
  /** SAAU repository base URL (the folder that holds `<app>/versao.txt`). */
  baseUrl: string;
  /** App name, as in the repository folder (any case; the folder is its lower case). */
  app: string;
  /** Installed version, when the app folder has no `versao.txt`. */
  currentVersion?: string;
  /** Accept unsigned updates over plain http:// from a non-loopback host. */
  allowUnsignedHttp?: boolean;
  /** Pin the signed metadata's root (sha256 of `1.root.json`). */
  rootSha256?: string;
  /** Channel of the signed metadata (default `stable`). */
  channel?: string;
  /** Back-off window after a failed attempt (default 2 hours). */
  backoffMs?: number;
  /** Most bytes a package may have and unpack to (default 2 GiB). */
  maxBytes?: number;
}

/** The answer of {@link SaauClient.check}. */
export interface SaauCheckResult {
  updateAvailable: boolean;
  currentVersion: string;
  /** Where the installed version was read. */
  currentVersionSource: string;
  latestVersion?: string;
  /** True when the answer comes from Updraft's signed metadata. */
  signed: boolean;
  /** Set when the latest version failed recently and is not retried yet. */
  skipped?: Skipped;
  rootSource?: RootSource;
  rootFingerprint?: string;
  /** The label's URL (unsigned path). */
  labelUrl?: string;
}

/** The answer of {@link SaauClient.update}. */
export interface SaauUpdateResult extends Partial<ApplyResult> {
  updated: boolean;
  currentVersion: string;
  latestVersion?: string;
  signed: boolean;
  skipped?: Skipped;
}

/** What a SAAU app updates from: the signed metadata when there is one, else the label. */
type SaauRelease = SignedSourceRelease | SaauLabelRelease;

/** What the answer says about where the release came from. */
function provenance(
  found: SaauRelease | UnusableRelease,
): Pick<SaauCheckResult, "rootSource" | "rootFingerprint" | "labelUrl"> {
  if (isUnusable(found)) return {};
  if (!found.signed) return { labelUrl: found.labelUrl };
  return { rootSource: found.rootSource, ...(found.rootFingerprint ? { rootFingerprint: found.rootFingerprint } : {}) };
}

/** Updates one SAAU app folder. */
export class SaauClient {
  readonly layout: InstallLayout;
  private readonly http: HttpClient;
  private readonly app: string;
  private readonly base: URL;

  constructor(private readonly options: SaauClientOptions) {
    this.layout = installLayout(options.appDir);
    this.app = options.app.toLowerCase();
    if (!APP_NAME_PATTERN.test(this.app)) {
      throw new UpdraftError(ErrorCodes.USAGE, `Invalid app name "${options.app}"`, {
        hint: "Give the app's folder name in the SAAU repository (letters, digits, '.', '_', '-').",
      });
    }
    this.base = parseHttpUrl(options.baseUrl, "--saau");
    const insecureOk = options.allowInsecureHttp === true || options.allowUnsignedHttp === true;
    this.http = new HttpClient({ ...options, allowInsecureHttp: insecureOk, userAgent: "updraft-saau" });
  }

  /** Is a newer version published? Never downloads the package. */
  async check(): Promise<SaauCheckResult> {
    const { installed, checked } = await this.find(false);
    return report(installed, checked);
  }

  /** Checks, then downloads, verifies and installs the newer version in place. */
  async update(apply: ApplyOptions = {}): Promise<SaauUpdateResult> {
    const { installed, checked } = await this.find(true);
    const summary = { currentVersion: installed.version, latestVersion: checked.found.version, signed: checked.signed };
    if (checked.status === "skipped") return { updated: false, ...summary, skipped: checked.skipped };
    if (checked.status === "current") return { updated: false, ...summary };
    const result = await applyUpdate(this.layout, installed.version, checked, apply);
    return { updated: true, ...summary, ...result };
  }

  private async find(forUpdate: boolean): Promise<{ installed: InstalledVersion; checked: SourceCheck<SaauRelease> }> {
    const installed = await installedVersion(this.layout, this.options.currentVersion);
    const checked = await checkSource(this.layout, installed.version, () => this.open(), {
      forUpdate,
      ...(this.options.backoffMs !== undefined ? { backoffMs: this.options.backoffMs } : {}),
    });
    return { installed, checked };
  }

  /** The signed metadata when the repository has it (or the app already trusts a root), else the label. */
  private async open(): Promise<UpdateSource<SaauRelease>> {
    const allowUnsignedHttp = this.options.allowUnsignedHttp === true;
    const signed = await SignedSource.open({
      layout: this.layout,
      repoUrl: this.base.toString(),
      app: this.app,
      http: this.http,
      allowUnsignedHttp,
      origin: { format: "saau", url: this.base.toString(), app: this.app },
      ...(this.options.rootSha256 ? { rootSha256: this.options.rootSha256 } : {}),
      ...(this.options.channel ? { channel: this.options.channel } : {}),
    });
    return (
      signed ??
      new SaauLabelSource({
        http: this.http,
        baseUrl: this.base,
        app: this.app,
        allowUnsignedHttp,
        ...(this.options.maxBytes ? { maxBytes: this.options.maxBytes } : {}),
      })
    );
  }
}

/** The answer of a check, as {@link SaauClient.check} reports it. */
function report(installed: InstalledVersion, checked: SourceCheck<SaauRelease>): SaauCheckResult {
  return {
    updateAvailable: checked.status === "available",
    currentVersion: installed.version,
    currentVersionSource: installed.source,
    latestVersion: checked.found.version,
    signed: checked.signed,
    ...provenance(checked.found),
    ...(checked.status === "skipped" ? { skipped: checked.skipped } : {}),
  };
}

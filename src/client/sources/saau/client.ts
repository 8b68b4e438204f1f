/**
 * `SaauClient`: keeps an app installed from an unchanged SAAU repository up to date, in place.
 * When the repository also carries Updraft's signed metadata (or the app folder holds the
 * `updraft-root.json` of an Updraft-published release), the signed path is used and the label is
 * ignored; otherwise the label and zip are verified as far as the format allows, over https or
 * loopback only unless the user accepts the risk.
 */
import { ErrorCodes, isUpdraftError, UpdraftError } from "../../../core/errors.js";
import { APP_NAME_PATTERN } from "../../../formats/native.js";
import { type InstallLayout, installLayout, type Skipped } from "../../install/index.js";
import { HttpClient, type NetworkOptions } from "../../net/http.js";
import { isLoopbackHost } from "../../net/url-policy.js";
import {
  type ApplyOptions,
  type ApplyResult,
  applyCandidate,
  beginLegacySession,
  type Candidate,
  isNewer,
  recordFailedAttempt,
  skippedVersion,
} from "../legacy/apply.js";
import { latestSignedRelease, openSignedRepository, type RootSource, stageSignedRelease } from "../legacy/signed.js";
import { writeSourceRecord } from "../legacy/source-record.js";
import { assertUnsignedTransport, parseLegacyUrl } from "../legacy/transport.js";
import { installedVersion } from "./installed.js";
import { fetchSaauLabel, saauLabelUrl } from "./label.js";
import { stageSaauPackage } from "./package.js";

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

interface Found {
  check: SaauCheckResult;
  candidate?: Candidate;
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
    this.base = parseLegacyUrl(options.baseUrl, "--saau");
    const insecureOk = options.allowInsecureHttp === true || options.allowUnsignedHttp === true;
    this.http = new HttpClient({ ...options, allowInsecureHttp: insecureOk, userAgent: "updraft-saau" });
  }

  /** Is a newer version published? Never downloads the package. */
  async check(): Promise<SaauCheckResult> {
    return (await this.find(false)).check;
  }

  /** Checks, then downloads, verifies and installs the newer version in place. */
  async update(apply: ApplyOptions = {}): Promise<SaauUpdateResult> {
    const { check, candidate } = await this.find(true);
    const summary = {
      currentVersion: check.currentVersion,
      ...(check.latestVersion ? { latestVersion: check.latestVersion } : {}),
      signed: check.signed,
    };
    if (!candidate) return { updated: false, ...summary, ...(check.skipped ? { skipped: check.skipped } : {}) };
    const result = await applyCandidate(this.layout, check.currentVersion, candidate, apply);
    return { updated: true, ...summary, ...result };
  }

  private async find(forUpdate: boolean): Promise<Found> {
    const installed = await installedVersion(this.layout, this.options.currentVersion);
    await beginLegacySession(this.layout, installed.version);
    const plainRemote = this.base.protocol === "http:" && !isLoopbackHost(this.base.hostname);
    const signed = await openSignedRepository({
      layout: this.layout,
      repoUrl: this.base.toString(),
      app: this.app,
      http: this.http,
      ...(this.options.rootSha256 ? { rootSha256: this.options.rootSha256 } : {}),
      trustOnFirstUse: !plainRemote || this.options.allowUnsignedHttp === true,
    });
    const common = { currentVersion: installed.version, currentVersionSource: installed.source };
    if (signed) {
      const release = await latestSignedRelease(signed.trust, this.app, this.options.channel ?? "stable");
      await writeSourceRecord(this.layout, {
        format: "saau",
        url: this.base.toString(),
        app: this.app,
        signed: true,
        checkedAt: new Date().toISOString(),
      });
      const check: SaauCheckResult = {
        updateAvailable: false,
        ...common,
        latestVersion: release.version,
        signed: true,
        rootSource: signed.rootSource,
        ...(signed.rootFingerprint ? { rootFingerprint: signed.rootFingerprint } : {}),
      };
      return this.decide(check, release.version, {
        version: release.version,
        signed: true,
        stage: (workDir) => stageSignedRelease(this.http, this.layout, release, workDir),
      });
    }
    assertUnsignedTransport(this.base, this.options.allowUnsignedHttp === true);
    await writeSourceRecord(this.layout, {
      format: "saau",
      url: saauLabelUrl(this.base.toString(), this.app),
      app: this.app,
      signed: false,
      checkedAt: new Date().toISOString(),
    });
    let fetched: Awaited<ReturnType<typeof fetchSaauLabel>>;
    try {
      fetched = await fetchSaauLabel(this.http, this.base.toString(), this.app);
    } catch (err) {
      const version = isUpdraftError(err, ErrorCodes.LABEL_INVALID) ? err.details?.version : undefined;
      if (typeof version === "string" && isNewer(version, installed.version)) {
        const skipped = await skippedVersion(this.layout, version, this.options.backoffMs);
        if (skipped) {
          return { check: { updateAvailable: false, ...common, latestVersion: version, signed: false, skipped } };
        }
        if (forUpdate) await recordFailedAttempt(this.layout, version, (err as Error).message);
      }
      throw err;
    }
    const { label } = fetched;
    const check: SaauCheckResult = {
      updateAvailable: false,
      ...common,
      latestVersion: label.version,
      signed: false,
      labelUrl: fetched.url,
    };
    return this.decide(check, label.version, {
      version: label.version,
      signed: false,
      stage: (workDir) =>
        stageSaauPackage(this.http, {
          baseUrl: this.base.toString(),
          app: this.app,
          label,
          workDir,
          ...(this.options.maxBytes ? { maxBytes: this.options.maxBytes } : {}),
        }),
    });
  }

  private async decide(check: SaauCheckResult, latest: string, candidate: Candidate): Promise<Found> {
    if (!isNewer(latest, check.currentVersion)) return { check };
    const skipped = await skippedVersion(this.layout, latest, this.options.backoffMs);
    if (skipped) return { check: { ...check, skipped } };
    return { check: { ...check, updateAvailable: true }, candidate };
  }
}

/**
 * The native source: what an Updraft repository (TUF-signed) offers an install. Opens the trust
 * session (seeding the root shipped inside the release when the install has none), follows the
 * channel's pointer to the release manifest, and picks the artifact to download, keeping the full
 * archive as the fall-back of a delta. Everything it returns was checked against the signed
 * targets metadata.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCodes, toUpdraftError, UpdraftError } from "../../core/errors.js";
import { LOCAL_FILE_MAX_BYTES } from "../../core/fs.js";
import { hashFile } from "../../core/hash.js";
import { readCapped } from "../../core/read-capped.js";
import { type ChannelDocument, manifestOfRelease } from "../../formats/channel.js";
import type { AppConfig, ReleaseManifest } from "../../formats/native.js";
import {
  type ChoiceContext,
  chooseUpdateArtifact,
  type DeltaFallback,
  type LocatedArtifact,
} from "../artifacts/choice.js";
import { assertFreeSpace, type InstallLayout } from "../install/index.js";
import { downloadArtifact } from "../net/download.js";
import type { HttpClient } from "../net/http.js";
import { chooseRelease, type ReleaseChoice } from "../trust/choose-release.js";
import { channelDocument, type InstalledManifest, type ReleaseRef, verifiedRelease } from "../trust/release.js";
import { establishRoot } from "../trust/root.js";
import { TrustSession } from "../trust/session.js";
import { onBase, repositoryBases, tryEachBase } from "./mirrors.js";
import type { SourceOrigin, SourceRelease, StageOptions, UnusableRelease, UpdateSource } from "./source.js";

/** A verified release of the channel, with the artifact chosen for this install. */
export interface NativeRelease extends SourceRelease {
  readonly manifest: ReleaseManifest;
  /** The manifest's exact signed bytes: kept as they are once installed, for the next update's manifest patch. */
  readonly manifestBytes: Buffer;
  /** What to download: a delta from the installed version, or the full archive. */
  readonly artifact: LocatedArtifact;
  /** The full archive: what a delta falls back to when it cannot be downloaded or applied. */
  readonly full: LocatedArtifact;
}

/** True when `release` would be installed from a delta (so it has a full archive to fall back to). */
export function isDelta(release: NativeRelease): boolean {
  return release.artifact !== release.full;
}

/** `release` installed from its full archive instead of the delta: the one place a delta is given up. */
export function withoutDelta(release: NativeRelease): NativeRelease {
  return { ...release, artifact: release.full };
}

/** What {@link NativeSource.stage} leaves on disk: the verified artifact of the release it downloaded. */
export interface NativeStaged {
  /** The release as downloaded: without its delta when the delta could not be downloaded. */
  release: NativeRelease;
  /** The artifact's file, named by its signed sha256. */
  path: string;
  /** Bytes fetched from the network for it (0 when it was on disk already). */
  fetched: number;
}

/** What a {@link NativeSource} works with. */
export interface NativeSourceOptions {
  layout: InstallLayout;
  config: AppConfig;
  http: HttpClient;
  /** Told each time a delta is given up for the full archive, and why. */
  onFallback: (fallback: DeltaFallback) => void;
  /** Check free space before a download (default true). */
  checkDiskSpace?: boolean;
  /** The install's platform (`os-arch`): only its builds, or `any` builds, are chosen. */
  platform: string;
  /** The install's random id, which places it in or out of staged rollouts. */
  installId: () => Promise<string>;
}

/** How {@link NativeSource.choose} decides besides the channel and the install. */
export interface ChoiceOptions {
  /** A check a person asked for: bypasses a running rollout (see choose-release.ts). */
  manual: boolean;
  now?: Date;
}

/** The signed reference of the release `choice` picked. */
export function releaseRefOf(choice: Extract<ReleaseChoice, { kind: "release" }>): ReleaseRef {
  return {
    version: choice.release.version,
    manifest: manifestOfRelease(choice.release, choice.platform),
    platform: choice.platform,
  };
}

/**
 * An Updraft repository as an {@link UpdateSource}: `latest` reads the channel's signed pointer and
 * the release it names, `stage` downloads and verifies the chosen artifact into the downloads
 * folder, giving up a delta for the full archive when the delta cannot be downloaded. The
 * versioned engine then builds the release's tree from what `stage` left (see updater.ts).
 */
export class NativeSource implements UpdateSource<NativeRelease, NativeStaged> {
  readonly origin: SourceOrigin;
  private trust: TrustSession | undefined;
  private document: ChannelDocument | undefined;
  /** The base URL (a mirror, or the repository URL) the trust session reads. */
  private base: string | undefined;

  constructor(private readonly options: NativeSourceOptions) {
    const { config } = options;
    this.origin = { format: "native", url: config.url ?? "", app: config.app, signed: true };
  }

  /**
   * What the channel offers now (its signed channel document), without reading any release: enough
   * to choose the release for this install, or to tell it that it is current.
   */
  async offered(): Promise<ChannelDocument> {
    if (this.document) return this.document;
    const { config } = this.options;
    const { value, base } = await tryEachBase(this.bases(), this.options.http, async (url, http) => {
      const trust = await this.trustAt(url, http);
      return { trust, document: await channelDocument(trust, config) };
    });
    this.base = base;
    this.trust = value.trust;
    this.document = value.document;
    return this.document;
  }

  /** Which release of the channel this install should run (see {@link chooseRelease}). */
  async choose(installed: string | undefined, options: ChoiceOptions): Promise<ReleaseChoice> {
    const document = await this.offered();
    return chooseRelease({
      document,
      installed,
      platform: this.options.platform,
      installId: await this.options.installId(),
      now: options.now ?? new Date(),
      manual: options.manual,
    });
  }

  async latest(installed: string | undefined): Promise<NativeRelease | UnusableRelease> {
    const choice = await this.choose(installed, { manual: false });
    if (choice.kind === "none") {
      const version = choice.newest?.version ?? (await this.offered()).version;
      return { version, unusable: new UpdraftError(ErrorCodes.NO_UPDATE, choice.message) };
    }
    return this.release(releaseRefOf(choice), installed);
  }

  /** The release `ref` names (one {@link offered} listed), verified, with the artifact chosen for `installed`. */
  async release(ref: ReleaseRef, installed: string | undefined): Promise<NativeRelease> {
    await this.offered();
    const { layout, config, onFallback } = this.options;
    // The release's files come from the base that answered the check, else from the ones after it.
    const { value, base } = await tryEachBase(this.bases(this.base), this.options.http, async (url, http) => {
      const trust = url === this.base ? this.trust! : await this.trustAt(url, http);
      return {
        trust,
        release: await resolveRelease({ layout, trust, currentVersion: installed, onFallback }, config.app, ref),
      };
    });
    this.base = base;
    this.trust = value.trust;
    return value.release;
  }

  /** The base URLs to try, mirrors first; from `from` on when given (the ones before it failed). */
  private bases(from?: string): string[] {
    const all = repositoryBases(this.options.config);
    const start = from === undefined ? 0 : Math.max(0, all.indexOf(from));
    return all.slice(start);
  }

  /** A refreshed trust session reading the repository at base `url` through `http`. */
  private trustAt(url: string, http: HttpClient): Promise<TrustSession> {
    const { layout, config } = this.options;
    return openTrust(layout, { ...config, url }, http);
  }

  async stage(release: NativeRelease, workDir: string, options: StageOptions = {}): Promise<NativeStaged> {
    try {
      return { release, ...(await this.fetchArtifact(release, workDir, options)) };
    } catch (err) {
      const e = toUpdraftError(err);
      if (!isDelta(release) || e.code === ErrorCodes.ABORTED) throw e;
      return this.stage(this.withoutDelta(release, `download failed: ${e.message}`), workDir, options);
    }
  }

  /** Gives up `release`'s delta for its full archive, saying why: the one place a delta is given up. */
  withoutDelta(release: NativeRelease, reason: string): NativeRelease {
    this.options.onFallback({ from: release.artifact.ref.from ?? "", reason });
    return withoutDelta(release);
  }

  /** True when `path` still holds an artifact of `release`'s size (another updater may have installed and removed it). */
  async holds(path: string, release: NativeRelease): Promise<boolean> {
    const size = await stat(path).then(
      (s) => s.size,
      () => undefined,
    );
    return size === release.artifact.ref.size;
  }

  /** Downloads and verifies `release`'s artifact into `dir` unless it is there already; checks free space first. */
  private async fetchArtifact(
    release: NativeRelease,
    dir: string,
    options: StageOptions,
  ): Promise<{ path: string; fetched: number }> {
    const { manifest, artifact } = release;
    const path = join(dir, `${artifact.ref.sha256}.tar.zst`);
    const have = await hashFile(path).catch(() => undefined);
    if (have?.sha256 === artifact.ref.sha256) return { path, fetched: 0 };
    if (this.options.checkDiskSpace !== false) {
      await assertFreeSpace(dir, artifact.ref.size, `downloading ${manifest.version}`);
    }
    // Found through one base, the artifact may be fetched from that base or any after it.
    const from = this.bases().find((b) => artifact.url.startsWith(b.replace(/\/+$/, ""))) ?? "";
    const bases = from === "" ? [""] : this.bases(from);
    const { value: fetched } = await tryEachBase(bases, this.options.http, async (base, http) => {
      const result = await downloadArtifact(http, {
        url: onBase(artifact.url, from, base),
        dest: path,
        length: artifact.ref.size,
        sha256: artifact.ref.sha256,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
      return result.fetched;
    });
    return { path, fetched };
  }
}

/**
 * A refreshed trust session for `config`'s repository. An install without trusted metadata yet
 * (its first update) starts from the root its release ships (`updraft-root.json`).
 */
export async function openTrust(layout: InstallLayout, config: AppConfig, http: HttpClient): Promise<TrustSession> {
  const root = await establishRoot({ metadataDir: layout.tufDir, appFolder: layout.currentLink });
  if (!root) {
    throw new UpdraftError(ErrorCodes.NOT_INSTALLED, `No trusted root for ${layout.dir}`, {
      hint: "Install with `updraft install`, or ship updraft-root.json in the release.",
    });
  }
  if (config.url === undefined) {
    throw new UpdraftError(ErrorCodes.NOT_INSTALLED, "No repository URL is configured for this install");
  }
  const trust = new TrustSession({ repoUrl: config.url, app: config.app }, layout.tufDir, layout.cacheDir, http);
  await trust.refresh();
  return trust;
}

/** The kept manifest of installed `version`, byte for byte, or undefined when none is kept. */
async function installedManifestBytes(layout: InstallLayout, version: string): Promise<InstalledManifest | undefined> {
  try {
    return { version, bytes: await readCapped(layout.manifestFile(version), LOCAL_FILE_MAX_BYTES) };
  } catch {
    return undefined;
  }
}

/**
 * The release `pointer` names, verified (see {@link verifiedRelease}), with the artifact this
 * install downloads (see {@link chooseUpdateArtifact}).
 */
export async function resolveRelease(ctx: ChoiceContext, app: string, pointer: ReleaseRef): Promise<NativeRelease> {
  const installed =
    ctx.currentVersion === undefined ? undefined : await installedManifestBytes(ctx.layout, ctx.currentVersion);
  const { manifest, manifestBytes, archive, archiveUrl } = await verifiedRelease(ctx.trust, app, pointer, installed);
  const full: LocatedArtifact = { ref: archive, url: archiveUrl };
  return {
    version: manifest.version,
    signed: true,
    manifest,
    manifestBytes,
    artifact: await chooseUpdateArtifact(ctx, manifest, full),
    full,
  };
}

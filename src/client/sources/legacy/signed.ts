/**
 * The signed source for in-place apps ({@link SignedSource}): when a legacy repository (SAAU,
 * update.json) also carries Updraft's TUF metadata, the release is found, downloaded and verified
 * through the same {@link TrustSession} as native installs, then unpacked for the in-place engine.
 * Once an app has a trusted root it never falls back to the unsigned label.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCodes, UpdraftError } from "../../../core/errors.js";
import { safeJoin } from "../../../core/fs.js";
import type { ArtifactRef, ReleaseManifest } from "../../../formats/native.js";
import { extractRelease } from "../../artifacts/tar-zst.js";
import type { InPlaceRelease, InstallLayout } from "../../install/index.js";
import { downloadArtifact } from "../../net/download.js";
import type { HttpClient } from "../../net/http.js";
import { isLoopbackHost } from "../../net/url-policy.js";
import { channelRelease } from "../../trust/release.js";
import { establishRoot, type RootSource } from "../../trust/root.js";
import { TrustSession } from "../../trust/session.js";
import type { SourceOrigin, UpdateSource } from "../source.js";

/** Options of {@link openSignedRepository}. */
export interface SignedRepositoryOptions {
  layout: InstallLayout;
  /** Repository base URL: the folder that holds `<app>/metadata`. */
  repoUrl: string;
  /** Updraft app name (lower case). */
  app: string;
  http: HttpClient;
  /** Expected sha256 of the repository's `1.root.json` (hex, with or without `sha256:`). */
  rootSha256?: string;
  /** Trust the repository's root on first use when nothing pins it. */
  trustOnFirstUse: boolean;
}

/** An opened signed repository. */
export interface SignedRepository {
  trust: TrustSession;
  rootSource: RootSource;
  /** sha256 of the root trusted now (set when it was fetched from the repository). */
  rootFingerprint?: string;
}

/** A signed release newer than the installed one. */
export interface SignedRelease {
  version: string;
  manifest: ReleaseManifest;
  artifact: ArtifactRef;
  artifactUrl: string;
}

/**
 * Opens the app's signed metadata, establishing trust (see {@link establishRoot}) from the local
 * cache, the `updraft-root.json` in the app folder, a pinned fingerprint, or first use. Returns
 * undefined when there is no trusted root and the repository has no signed metadata.
 */
export async function openSignedRepository(o: SignedRepositoryOptions): Promise<SignedRepository | undefined> {
  const { layout } = o;
  const root = await establishRoot({
    metadataDir: layout.tufDir,
    appFolder: layout.dir,
    ...(o.rootSha256 !== undefined ? { pin: o.rootSha256 } : {}),
    firstUse: o.trustOnFirstUse ? "if-signed" : "refuse",
    repository: { repoUrl: o.repoUrl, app: o.app, http: o.http },
  });
  if (!root) return undefined;
  const trust = new TrustSession({ repoUrl: o.repoUrl, app: o.app }, layout.tufDir, layout.cacheDir, o.http);
  await trust.refresh();
  const fetched = root.source === "pinned" || root.source === "first-use";
  return { trust, rootSource: root.source, ...(fetched ? { rootFingerprint: root.fingerprint } : {}) };
}

/**
 * Downloads the signed archive (length and sha256 from the signed metadata), unpacks it into
 * `workDir/signed` checking every entry against the signed manifest, and returns the files for
 * the in-place engine.
 */
export async function stageSignedRelease(
  http: HttpClient,
  layout: InstallLayout,
  release: SignedRelease,
  workDir: string,
): Promise<InPlaceRelease> {
  if (release.manifest.symlinks.length > 0) {
    throw new UpdraftError(
      ErrorCodes.ARCHIVE_INVALID,
      `Release ${release.version} holds symbolic links, which an in-place install cannot place`,
      { hint: "Publish in-place apps without symbolic links." },
    );
  }
  const archive = join(layout.downloadsDir, `${release.artifact.sha256}.tar.zst`);
  await downloadArtifact(http, {
    url: release.artifactUrl,
    dest: archive,
    length: release.artifact.size,
    sha256: release.artifact.sha256,
  });
  const dest = join(workDir, "signed");
  await mkdir(workDir, { recursive: true });
  try {
    await extractRelease(archive, release.manifest, dest);
  } finally {
    await rm(archive, { force: true });
  }
  return {
    version: release.version,
    files: release.manifest.files.map((f) => ({ path: f.path, source: safeJoin(dest, f.path) })),
  };
}

/** A release offered by a {@link SignedSource}, with how the root that verified it was trusted. */
export interface SignedSourceRelease extends SignedRelease {
  signed: true;
  rootSource: RootSource;
  /** sha256 of the root trusted at this check (set when it was fetched from the repository). */
  rootFingerprint?: string;
}

/** Options of {@link SignedSource.open}. */
export interface SignedSourceOptions extends Omit<SignedRepositoryOptions, "trustOnFirstUse"> {
  /**
   * The user accepts unsigned updates over plain http:// (`--allow-unsigned-http`): then the
   * repository's root may also be trusted on first use over plain http:// to another host, which
   * is no worse than the unsigned source the app would use instead.
   */
  allowUnsignedHttp: boolean;
  /** What `updraft status` reports as the source (the legacy format and URL the app was given). */
  origin: Omit<SourceOrigin, "signed">;
  /** Channel of the signed metadata (default `stable`). */
  channel?: string;
}

/** Updraft's signed metadata published beside a legacy repository, as an {@link UpdateSource}. */
export class SignedSource implements UpdateSource<SignedSourceRelease> {
  readonly origin: SourceOrigin;

  private constructor(
    private readonly options: SignedSourceOptions,
    private readonly repository: SignedRepository,
  ) {
    this.origin = { ...options.origin, signed: true };
  }

  /**
   * Opens the signed metadata (see {@link openSignedRepository}); undefined when there is no
   * trusted root and the repository has none, so the app's unsigned source applies.
   */
  static async open(options: SignedSourceOptions): Promise<SignedSource | undefined> {
    const repo = new URL(options.repoUrl);
    const plainRemote = repo.protocol === "http:" && !isLoopbackHost(repo.hostname);
    const repository = await openSignedRepository({
      ...options,
      trustOnFirstUse: !plainRemote || options.allowUnsignedHttp,
    });
    return repository ? new SignedSource(options, repository) : undefined;
  }

  async latest(): Promise<SignedSourceRelease> {
    const { trust, rootSource, rootFingerprint } = this.repository;
    const { manifest, archive, archiveUrl } = await channelRelease(trust, {
      app: this.options.app,
      channel: this.options.channel ?? "stable",
    });
    return {
      version: manifest.version,
      manifest,
      artifact: archive,
      artifactUrl: archiveUrl,
      signed: true,
      rootSource,
      ...(rootFingerprint ? { rootFingerprint } : {}),
    };
  }

  stage(release: SignedSourceRelease, workDir: string): Promise<InPlaceRelease> {
    return stageSignedRelease(this.options.http, this.options.layout, release, workDir);
  }
}

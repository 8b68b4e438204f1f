/**
 * The signed source for in-place apps ({@link SignedSource}): when a legacy repository (SAAU,
 * update.json) also carries Updraft's TUF metadata, the release is found, downloaded and verified
 * through the same {@link TrustSession} as native installs, then unpacked for the in-place engine.
 * Once an app has a trusted root it never falls back to the unsigned label.
 */
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCodes, isUpdraftError, UpdraftError } from "../../../core/errors.js";
import { safeJoin } from "../../../core/fs.js";
import { sha256Hex } from "../../../core/hash.js";
import {
  type ArtifactRef,
  channelTarget,
  EMBEDDED_ROOT_FILE,
  metadataPath,
  parseChannelPointer,
  parseReleaseManifest,
  type ReleaseManifest,
} from "../../../formats/native.js";
import { extractRelease } from "../../artifacts/tar-zst.js";
import type { InPlaceRelease, InstallLayout } from "../../install/index.js";
import { downloadArtifact } from "../../net/download.js";
import type { HttpClient } from "../../net/http.js";
import { isLoopbackHost } from "../../net/url-policy.js";
import { TrustSession } from "../../trust/session.js";
import type { SourceOrigin, UpdateSource } from "../source.js";

/** Where the trusted root came from. */
export type RootSource = "cache" | "app-folder" | "pinned" | "first-use";

/** Options of {@link openSignedRepository}. */
export interface SignedRepositoryOptions {
  layout: InstallLayout;
  /** Repository base URL: the folder that holds `<app>/metadata`. */
  repoUrl: string;
  /** Updraft app name (lower case). */
  app: string;
  http: HttpClient;
  /** Expected sha256 of the repository's `1.root.json`. */
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

async function fetchFirstRoot(o: SignedRepositoryOptions): Promise<Buffer | undefined> {
  const url = `${o.repoUrl.replace(/\/+$/, "")}/${metadataPath(o.app)}/1.root.json`;
  let bytes: Buffer;
  try {
    bytes = await o.http.getBytes(url, 512 * 1024);
  } catch (err) {
    // Probing (nothing pinned): any 4xx means "no signed metadata here" (servers answer 403 too).
    const status = isUpdraftError(err, ErrorCodes.HTTP_STATUS) ? Number(err.details?.status) : 0;
    if (o.rootSha256 === undefined && status >= 400 && status < 500) return undefined;
    throw err;
  }
  // A server answering 200 with an error page for a missing file has no signed metadata either.
  if (o.rootSha256 === undefined && !looksLikeRoot(bytes)) return undefined;
  return bytes;
}

function looksLikeRoot(bytes: Buffer): boolean {
  try {
    const doc = JSON.parse(bytes.toString("utf8")) as { signed?: { _type?: unknown } };
    return doc.signed?._type === "root";
  } catch {
    return false;
  }
}

/**
 * Opens the app's signed metadata, establishing trust from (in order) the local cache, the
 * `updraft-root.json` in the app folder, a pinned fingerprint, or first use. Returns undefined
 * when there is no trusted root and the repository has no signed metadata.
 */
export async function openSignedRepository(o: SignedRepositoryOptions): Promise<SignedRepository | undefined> {
  const { layout } = o;
  let rootSource: RootSource = "cache";
  let rootFingerprint: string | undefined;
  if (!(await TrustSession.hasRoot(layout.tufDir))) {
    const shipped = await readFile(join(layout.dir, EMBEDDED_ROOT_FILE)).catch(() => undefined);
    if (shipped && o.rootSha256 === undefined) {
      await TrustSession.seedRoot(layout.tufDir, shipped);
      rootSource = "app-folder";
    } else if (o.rootSha256 !== undefined || o.trustOnFirstUse) {
      const bytes = await fetchFirstRoot(o);
      if (!bytes) return undefined;
      rootFingerprint = sha256Hex(bytes);
      if (o.rootSha256 !== undefined && o.rootSha256.toLowerCase() !== rootFingerprint) {
        throw new UpdraftError(
          ErrorCodes.ROOT_MISMATCH,
          `The repository's root has fingerprint ${rootFingerprint}, not the pinned ${o.rootSha256}`,
          { hint: "Do not update from this repository until the publisher confirms its root fingerprint." },
        );
      }
      await TrustSession.seedRoot(layout.tufDir, bytes);
      rootSource = o.rootSha256 !== undefined ? "pinned" : "first-use";
    } else return undefined;
  }
  const trust = new TrustSession({ repoUrl: o.repoUrl, app: o.app }, layout.tufDir, layout.cacheDir, o.http);
  await trust.refresh();
  return { trust, rootSource, ...(rootFingerprint ? { rootFingerprint } : {}) };
}

/** The release the channel points to, with its signed manifest and full archive. */
export async function latestSignedRelease(
  trust: TrustSession,
  app: string,
  channel = "stable",
): Promise<SignedRelease> {
  const pointerInfo = await trust.requireTarget(channelTarget(channel), `channel "${channel}"`);
  const pointer = parseChannelPointer((await trust.fetchSmallTarget(pointerInfo)).toString("utf8"));
  if (pointer.app !== app || pointer.channel !== channel) {
    throw new UpdraftError(ErrorCodes.METADATA_INVALID, `The channel pointer names ${pointer.app}/${pointer.channel}`);
  }
  const manifestInfo = await trust.requireTarget(pointer.manifest, `the manifest of ${pointer.version}`);
  const manifest = parseReleaseManifest((await trust.fetchSmallTarget(manifestInfo)).toString("utf8"));
  if (manifest.app !== app || manifest.version !== pointer.version) {
    throw new UpdraftError(
      ErrorCodes.METADATA_INVALID,
      `The manifest of ${pointer.version} describes ${manifest.app} ${manifest.version}`,
    );
  }
  const artifact = manifest.artifacts.find((a) => a.kind === "full");
  if (!artifact) throw new UpdraftError(ErrorCodes.TARGET_NOT_FOUND, `Release ${manifest.version} has no full archive`);
  const info = await trust.requireTarget(artifact.target, `the archive of ${manifest.version}`);
  if (info.length !== artifact.size || info.hashes.sha256 !== artifact.sha256) {
    throw new UpdraftError(
      ErrorCodes.METADATA_INVALID,
      `The manifest and the targets metadata disagree on ${artifact.target}`,
    );
  }
  return { version: manifest.version, manifest, artifact, artifactUrl: trust.targetUrl(info) };
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
    const release = await latestSignedRelease(trust, this.options.app, this.options.channel ?? "stable");
    return { ...release, signed: true, rootSource, ...(rootFingerprint ? { rootFingerprint } : {}) };
  }

  stage(release: SignedSourceRelease, workDir: string): Promise<InPlaceRelease> {
    return stageSignedRelease(this.options.http, this.options.layout, release, workDir);
  }
}

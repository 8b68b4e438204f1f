/**
 * The native source: what an Updraft repository (TUF-signed) offers an install. Opens the trust
 * session (seeding the root shipped inside the release when the install has none), follows the
 * channel's pointer to the release manifest, and picks the artifact to download, keeping the full
 * archive as the fall-back of a delta. Everything it returns was checked against the signed
 * targets metadata.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import {
  type AppConfig,
  type ChannelPointer,
  channelTarget,
  EMBEDDED_ROOT_FILE,
  parseChannelPointer,
  parseReleaseManifest,
  type ReleaseManifest,
} from "../../formats/native.js";
import { type ChoiceContext, chooseUpdateArtifact, type LocatedArtifact } from "../artifacts/choice.js";
import type { InstallLayout } from "../install/index.js";
import type { HttpClient } from "../net/http.js";
import { TrustSession } from "../trust/session.js";

/** A verified release of the channel, with the artifact chosen for this install. */
export interface NativeRelease {
  readonly manifest: ReleaseManifest;
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

/**
 * A refreshed trust session for `config`'s repository. An install without trusted metadata yet
 * (its first update) starts from the root its release ships (`updraft-root.json`).
 */
export async function openTrust(layout: InstallLayout, config: AppConfig, http: HttpClient): Promise<TrustSession> {
  if (!(await TrustSession.hasRoot(layout.tufDir))) {
    const embedded = await readFile(join(layout.currentLink, EMBEDDED_ROOT_FILE)).catch(() => undefined);
    if (!embedded) {
      throw new UpdraftError(ErrorCodes.NOT_INSTALLED, `No trusted root for ${layout.dir}`, {
        hint: "Install with `updraft install`, or ship updraft-root.json in the release.",
      });
    }
    await TrustSession.seedRoot(layout.tufDir, embedded);
  }
  if (config.url === undefined) {
    throw new UpdraftError(ErrorCodes.NOT_INSTALLED, "No repository URL is configured for this install");
  }
  const trust = new TrustSession({ repoUrl: config.url, app: config.app }, layout.tufDir, layout.cacheDir, http);
  await trust.refresh();
  return trust;
}

/** The signed pointer of `config`'s channel: which version it offers, and where its manifest is. */
export async function channelPointer(trust: TrustSession, config: AppConfig): Promise<ChannelPointer> {
  const info = await trust.requireTarget(channelTarget(config.channel), `channel "${config.channel}"`);
  const pointer = parseChannelPointer((await trust.fetchSmallTarget(info)).toString("utf8"));
  if (pointer.app !== config.app || pointer.channel !== config.channel) {
    throw new UpdraftError(ErrorCodes.METADATA_INVALID, `Channel pointer names ${pointer.app}/${pointer.channel}`);
  }
  return pointer;
}

/**
 * The release `pointer` names, verified: its manifest, its full archive (which must agree with the
 * signed targets metadata), and the artifact this install downloads (see {@link chooseUpdateArtifact}).
 */
export async function resolveRelease(ctx: ChoiceContext, app: string, pointer: ChannelPointer): Promise<NativeRelease> {
  const { trust } = ctx;
  const manifestInfo = await trust.requireTarget(pointer.manifest, `the manifest of ${pointer.version}`);
  const manifest = parseReleaseManifest((await trust.fetchSmallTarget(manifestInfo)).toString("utf8"));
  if (manifest.app !== app || manifest.version !== pointer.version) {
    throw new UpdraftError(
      ErrorCodes.METADATA_INVALID,
      `The manifest at ${pointer.manifest} describes ${manifest.app} ${manifest.version}, not ${app} ${pointer.version}`,
    );
  }
  const archive = manifest.artifacts.find((a) => a.kind === "full");
  if (!archive) throw new UpdraftError(ErrorCodes.TARGET_NOT_FOUND, `Release ${manifest.version} has no full archive`);
  const archiveInfo = await trust.requireTarget(archive.target, `the archive of ${manifest.version}`);
  if (archiveInfo.length !== archive.size || archiveInfo.hashes.sha256 !== archive.sha256) {
    throw new UpdraftError(
      ErrorCodes.METADATA_INVALID,
      `The manifest and the targets metadata disagree on ${archive.target}`,
    );
  }
  const full: LocatedArtifact = { ref: archive, url: trust.targetUrl(archiveInfo) };
  return { manifest, artifact: await chooseUpdateArtifact(ctx, manifest, full), full };
}

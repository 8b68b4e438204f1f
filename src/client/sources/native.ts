/**
 * The native source: what an Updraft repository (TUF-signed) offers an install. Opens the trust
 * session (seeding the root shipped inside the release when the install has none), follows the
 * channel's pointer to the release manifest, and picks the artifact to download, keeping the full
 * archive as the fall-back of a delta. Everything it returns was checked against the signed
 * targets metadata.
 */
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import type { AppConfig, ChannelPointer, ReleaseManifest } from "../../formats/native.js";
import { type ChoiceContext, chooseUpdateArtifact, type LocatedArtifact } from "../artifacts/choice.js";
import type { InstallLayout } from "../install/index.js";
import type { HttpClient } from "../net/http.js";
import { verifiedRelease } from "../trust/release.js";
import { establishRoot } from "../trust/root.js";
import { TrustSession } from "../trust/session.js";

/** The channel's signed pointer (see {@link channelPointer}): the native source reads it first, to compare versions. */
export { channelPointer } from "../trust/release.js";

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

/**
 * The release `pointer` names, verified (see {@link verifiedRelease}), with the artifact this
 * install downloads (see {@link chooseUpdateArtifact}).
 */
export async function resolveRelease(ctx: ChoiceContext, app: string, pointer: ChannelPointer): Promise<NativeRelease> {
  const { manifest, archive, archiveUrl } = await verifiedRelease(ctx.trust, app, pointer);
  const full: LocatedArtifact = { ref: archive, url: archiveUrl };
  return { manifest, artifact: await chooseUpdateArtifact(ctx, manifest, full), full };
}

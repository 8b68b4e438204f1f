/**
 * Release resolution: the one place that answers "which release does this channel point to",
 * verified. The channel's signed pointer names a version and its manifest; the manifest must
 * describe that app and version, and its full archive must be the one the targets metadata signs.
 */
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { type ChannelDocument, parseChannelDocument } from "../../formats/channel.js";
import { applyManifestPatch } from "../../formats/manifest-patch.js";
import {
  ANY_PLATFORM,
  type ArtifactRef,
  type ChannelPointer,
  channelTarget,
  manifestPatchTarget,
  manifestTarget,
  parseChannelPointer,
  parseReleaseManifest,
  type ReleaseManifest,
} from "../../formats/native.js";
import type { TrustSession } from "./session.js";

/** Which app's channel a pointer is read for. */
export interface ChannelRef {
  readonly app: string;
  readonly channel: string;
}

/** A release the channel points to, its manifest and full archive checked against the signed metadata. */
export interface VerifiedRelease {
  readonly manifest: ReleaseManifest;
  /** The manifest's exact signed bytes (kept as they are, so a later manifest patch applies to them). */
  readonly manifestBytes: Buffer;
  /** The full archive, as the manifest describes it (and the targets metadata signs it). */
  readonly archive: ArtifactRef;
  /** Where the full archive is downloaded from. */
  readonly archiveUrl: string;
}

/** The exact bytes of the installed release's manifest, which a manifest patch may start from. */
export interface InstalledManifest {
  readonly version: string;
  readonly bytes: Buffer;
}

/** The signed pointer of `ref`'s channel: which version it offers, and where its manifest is. */
export async function channelPointer(trust: TrustSession, ref: ChannelRef): Promise<ChannelPointer> {
  const info = await trust.requireTarget(channelTarget(ref.channel), `channel "${ref.channel}"`);
  const pointer = parseChannelPointer((await trust.fetchSmallTarget(info)).toString("utf8"));
  if (pointer.app !== ref.app || pointer.channel !== ref.channel) {
    throw new UpdraftError(ErrorCodes.METADATA_INVALID, `The channel pointer names ${pointer.app}/${pointer.channel}`);
  }
  return pointer;
}

/**
 * The signed channel document of `ref`'s channel (a first-layout pointer reads as a document with
 * one release): which releases it offers, to which platforms and installs.
 */
export async function channelDocument(trust: TrustSession, ref: ChannelRef): Promise<ChannelDocument> {
  const info = await trust.requireTarget(channelTarget(ref.channel), `channel "${ref.channel}"`);
  const doc = parseChannelDocument((await trust.fetchSmallTarget(info)).toString("utf8"));
  if (doc.app !== ref.app || doc.channel !== ref.channel) {
    throw new UpdraftError(ErrorCodes.METADATA_INVALID, `The channel document names ${doc.app}/${doc.channel}`);
  }
  return doc;
}

/** A release to verify: its version, the target name of its manifest and, when known, the platform of its build. */
export interface ReleaseRef {
  readonly version: string;
  readonly manifest: string;
  readonly platform?: string;
}

/** The patch from `from`'s manifest to `ref`'s: beside its manifest (per platform, or the first layout's). */
function manifestPatchOf(ref: ReleaseRef, from: string): string {
  const perPlatform = ref.platform !== undefined && ref.manifest === manifestTarget(ref.version, ref.platform);
  return manifestPatchTarget(ref.version, from, perPlatform ? ref.platform : undefined);
}

/** The release `pointer` names for `app`: its manifest and its full archive, verified. */
export async function verifiedRelease(
  trust: TrustSession,
  app: string,
  pointer: ReleaseRef,
  installed?: InstalledManifest,
): Promise<VerifiedRelease> {
  const manifestInfo = await trust.requireTarget(pointer.manifest, `the manifest of ${pointer.version}`);
  const patchInfo =
    installed === undefined
      ? undefined
      : await trust.targetInfo(manifestPatchOf(pointer, installed.version)).catch(() => undefined);
  const manifestBytes = await trust.fetchSmallTarget(
    manifestInfo,
    patchInfo && installed ? { info: patchInfo, base: installed.bytes, apply: applyManifestPatch } : undefined,
  );
  const manifest = parseReleaseManifest(manifestBytes.toString("utf8"));
  if (manifest.app !== app || manifest.version !== pointer.version) {
    throw new UpdraftError(
      ErrorCodes.METADATA_INVALID,
      `The manifest at ${pointer.manifest} describes ${manifest.app} ${manifest.version}, not ${app} ${pointer.version}`,
    );
  }
  if (pointer.platform !== undefined && (manifest.platform ?? ANY_PLATFORM) !== pointer.platform) {
    throw new UpdraftError(
      ErrorCodes.METADATA_INVALID,
      `The manifest at ${pointer.manifest} describes a build for ${manifest.platform ?? ANY_PLATFORM}, not ${pointer.platform}`,
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
  return { manifest, manifestBytes, archive, archiveUrl: trust.targetUrl(archiveInfo) };
}

/** The release `ref`'s channel points to, verified: {@link channelPointer}, then {@link verifiedRelease}. */
export async function channelRelease(trust: TrustSession, ref: ChannelRef): Promise<VerifiedRelease> {
  return verifiedRelease(trust, ref.app, await channelPointer(trust, ref));
}

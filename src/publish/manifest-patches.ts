/**
 * The publisher's side of manifest patches: for each delta base of a new release, the zstd patch
 * from that base's manifest (its exact stored bytes) to the new one, stored as a target next to
 * the new manifest (docs/format.md, "Manifest patches").
 */
import { readFile } from "node:fs/promises";
import { encodeManifestPatch } from "../formats/manifest-patch.js";
import { ANY_PLATFORM, manifestPatchTarget, manifestTarget, type ReleaseManifest } from "../formats/native.js";
import type { BuildDeltasResult } from "./delta/build-deltas.js";
import { findRelease, type RepositoryHistory } from "./history.js";
import { type AppPaths, consistentTargetPath, storeTargetBytes } from "./tuf-repo.js";

/** A manifest patch written as a target. */
export interface StoredPatch {
  target: string;
  from: string;
  length: number;
  sha256: string;
}

/** The versions deltas were tried from (built or not): the installs most likely to update to this release. */
export function deltaBases(deltas: BuildDeltasResult): string[] {
  return [...new Set([...deltas.deltas.map((d) => d.from), ...deltas.skipped.map((d) => d.from)])];
}

/**
 * Writes `manifest.from-<base>.zpatch` beside the manifest of the build for `platform`, for each
 * base whose signed manifest of the same platform is readable (a first-layout release's single
 * manifest for `any`). A patch
 * that is not smaller than the manifest itself is not published (the client then fetches the
 * manifest whole, as it would anyway).
 */
export async function writeManifestPatches(
  paths: AppPaths,
  history: RepositoryHistory,
  manifest: ReleaseManifest,
  manifestBytes: Buffer,
  bases: readonly string[],
  platform: string,
): Promise<StoredPatch[]> {
  const out: StoredPatch[] = [];
  for (const from of bases) {
    const release = findRelease(history, from);
    const oldTarget =
      release?.targets[manifestTarget(release.version, platform)] ??
      (platform === ANY_PLATFORM ? release?.targets[manifestTarget(release.version)] : undefined);
    const sha256 = oldTarget?.hashes.sha256;
    if (!release || !oldTarget || !sha256) continue;
    let oldBytes: Buffer;
    try {
      oldBytes = await readFile(consistentTargetPath(paths, oldTarget.path, sha256));
    } catch {
      continue; // pruned or missing: that base's installs fetch the manifest whole
    }
    const patch = encodeManifestPatch(oldBytes, manifestBytes);
    if (patch.length >= manifestBytes.length) continue;
    const target = manifestPatchTarget(manifest.version, release.version, platform);
    const stored = await storeTargetBytes(paths, target, patch);
    out.push({ target, from: release.version, length: stored.length, sha256: stored.sha256 });
  }
  return out;
}

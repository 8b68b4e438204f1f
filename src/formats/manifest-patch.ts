/**
 * Manifest patches (`releases/<v>/manifest.from-<old>.zpatch`): one zstd frame of the new release
 * manifest compressed with the old manifest's exact bytes as raw-content dictionary, what
 * `zstd --patch-from` does. A patch release's manifest differs from its predecessor's in a few
 * lines, so the patch is hundreds of bytes where the manifest can be hundreds of kilobytes.
 * The client trusts a patched result only when its sha256 and length match the signed manifest.
 */
import { constants as zlibConstants, zstdCompressSync, zstdDecompressSync } from "node:zlib";

/** zstd level of manifest patches: manifests are small, the best ratio costs little. */
const PATCH_LEVEL = 19;

/** The patch turning `oldManifest` into `newManifest` (both exact file bytes). */
export function encodeManifestPatch(oldManifest: Uint8Array, newManifest: Uint8Array): Buffer {
  const windowLog = Math.max(10, Math.min(27, Math.ceil(Math.log2(oldManifest.length + newManifest.length + 1))));
  return zstdCompressSync(newManifest, {
    params: {
      [zlibConstants.ZSTD_c_compressionLevel]: PATCH_LEVEL,
      [zlibConstants.ZSTD_c_windowLog]: windowLog,
      [zlibConstants.ZSTD_c_checksumFlag]: 0,
      [zlibConstants.ZSTD_c_dictIDFlag]: 0,
      [zlibConstants.ZSTD_c_contentSizeFlag]: 1,
    },
    ...(oldManifest.length > 0 ? { dictionary: oldManifest } : {}),
  });
}

/**
 * Applies a patch to the old manifest's bytes; the output is capped at `maxLength` (the signed
 * length of the new manifest), so a hostile patch cannot make the client allocate more. Throws
 * on a damaged patch or one made against other bytes; the caller checks the result's hash.
 */
export function applyManifestPatch(oldManifest: Uint8Array, patch: Uint8Array, maxLength: number): Buffer {
  return zstdDecompressSync(patch, {
    maxOutputLength: Math.max(1, maxLength),
    params: { [zlibConstants.ZSTD_d_windowLogMax]: 27 },
    ...(oldManifest.length > 0 ? { dictionary: oldManifest } : {}),
  });
}

/**
 * Pairs each file a delta must produce with its best old match: the old file at the same path,
 * else (renamed or content-hashed names such as `editor-ECyZhXSU.js` → `editor-CLplJsAh.js`) the
 * old file, among those gone from the new tree, whose content compresses the new one best.
 */
import { constants as zlibConstants, zstdCompressSync } from "node:zlib";
import { readRange, type SourceFile } from "./sources.js";

/** Candidates tried by trial compression for one renamed file. */
const MAX_CANDIDATES = 8;
/** Bytes of the new file compressed in a trial. */
const SAMPLE_BYTES = 64 * 1024;
/** Bytes of a candidate used as the trial dictionary. */
const DICT_SAMPLE_BYTES = 1024 * 1024;
/** A match must shrink the sample to this share of its size without a dictionary. */
const ACCEPT_RATIO = 0.8;

/** A path with hash-like tokens (`Bn81Esdm`, `HXklLiVSkDhUiou88A9LT`) replaced by `#`. */
export function pathShape(path: string): string {
  return path.replace(/[A-Za-z0-9_-]{6,}/g, (token) =>
    (/\d/.test(token) && /[A-Za-z]/.test(token)) || (token.length >= 8 && /[a-z]/.test(token) && /[A-Z]/.test(token))
      ? "#"
      : token,
  );
}

/** The extension of a path's last segment (`.js`), or "" when it has none. */
export function extensionOf(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot) : "";
}

function trialSize(sample: Buffer, dict: Buffer | undefined): number {
  return zstdCompressSync(sample, {
    params: { [zlibConstants.ZSTD_c_compressionLevel]: 6 },
    ...(dict && dict.length > 0 ? { dictionary: dict } : {}),
  }).length;
}

function headOf(file: SourceFile, max: number): Buffer {
  return readRange(file, 0, Math.min(file.size, max));
}

/**
 * Returns new file index → old file index for the needed files that have a match. Same path
 * first; otherwise up to {@link MAX_CANDIDATES} old files gone from the new tree with the same
 * extension, ranked by path shape and size, decided by trial compression.
 */
export function pairNeeded(
  oldFiles: readonly SourceFile[],
  newFiles: readonly SourceFile[],
  needed: readonly number[],
): Map<number, number> {
  const pairs = new Map<number, number>();
  const oldByPath = new Map(oldFiles.map((f, i) => [f.path, i]));
  const newPaths = new Set(newFiles.map((f) => f.path));
  const goneByExt = new Map<string, number[]>();
  oldFiles.forEach((f, i) => {
    if (newPaths.has(f.path) || f.size === 0) return;
    const ext = extensionOf(f.path);
    const list = goneByExt.get(ext) ?? [];
    list.push(i);
    goneByExt.set(ext, list);
  });
  for (const n of needed) {
    const file = newFiles[n]!;
    const same = oldByPath.get(file.path);
    if (same !== undefined) {
      if (oldFiles[same]!.size > 0) pairs.set(n, same);
      continue;
    }
    const pool = goneByExt.get(extensionOf(file.path));
    if (!pool || file.size === 0) continue;
    const shape = pathShape(file.path);
    const ranked = pool
      .map((i) => {
        const o = oldFiles[i]!;
        const sizeDistance = Math.abs(Math.log((o.size + 1) / (file.size + 1)));
        return { i, score: (pathShape(o.path) === shape ? 0 : 10) + sizeDistance };
      })
      .sort((a, b) => a.score - b.score)
      .slice(0, MAX_CANDIDATES);
    const sample = headOf(file, SAMPLE_BYTES);
    let best = -1;
    let bestSize = trialSize(sample, undefined) * ACCEPT_RATIO;
    for (const { i } of ranked) {
      const size = trialSize(sample, headOf(oldFiles[i]!, DICT_SAMPLE_BYTES));
      if (size < bestSize) {
        bestSize = size;
        best = i;
      }
    }
    if (best >= 0) pairs.set(n, best);
  }
  return pairs;
}

/**
 * Encodes one segment's payload: zstd with the reference as a raw-content dictionary (what
 * `zstd --patch-from` does, through `node:zlib`), or bsdiff with its three streams each
 * compressed by zstd. Tables grow with the data so large references are searched well.
 */
import { constants as zlibConstants, zstdCompressSync } from "node:zlib";
import { DELTA_LIMITS, encodeBsdiffPrefix } from "../../formats/delta.js";
import { bsdiff } from "./bsdiff.js";

/** zstd parameters for `bytes` of reference plus output at `level`. */
export function zstdParams(level: number, bytes: number): Record<number, number> {
  const windowLog = Math.max(10, Math.min(DELTA_LIMITS.zstdWindowLogMax, Math.ceil(Math.log2(bytes + 1))));
  const params: Record<number, number> = {
    [zlibConstants.ZSTD_c_compressionLevel]: level,
    [zlibConstants.ZSTD_c_windowLog]: windowLog,
    [zlibConstants.ZSTD_c_checksumFlag]: 0,
    [zlibConstants.ZSTD_c_dictIDFlag]: 0,
    [zlibConstants.ZSTD_c_contentSizeFlag]: 1,
  };
  if (level >= 17) {
    // Level 19's own tables are sized for an 8 MiB window; a large reference needs more.
    params[zlibConstants.ZSTD_c_chainLog] = Math.min(26, Math.max(24, windowLog));
    params[zlibConstants.ZSTD_c_hashLog] = Math.min(25, Math.max(22, windowLog - 1));
  } else if (windowLog > 20) {
    // Fast levels' tables (2^17) forget most of a large reference: the estimate pass then sees
    // almost no match (1.5 MB instead of 6 kB for a patched 8 MB bundle); larger ones cost little.
    params[zlibConstants.ZSTD_c_chainLog] = Math.min(24, windowLog);
    params[zlibConstants.ZSTD_c_hashLog] = Math.min(24, windowLog);
  }
  return params;
}

/** One zstd frame of `output` (size recorded in the frame), with `reference` as dictionary when not empty. */
export function zstdSegment(output: Buffer, reference: Buffer, level: number): Buffer {
  return zstdCompressSync(output, {
    params: zstdParams(level, output.length + reference.length),
    ...(reference.length > 0 ? { dictionary: reference } : {}),
  });
}

/** A bsdiff payload: frame lengths, then ctrl, diff and extra as zstd frames. `index`: the reference's suffix array, if known. */
export function bsdiffSegment(output: Buffer, reference: Buffer, level: number, index?: Int32Array): Buffer {
  const streams = bsdiff(reference, output, undefined, index);
  const frame = (data: Buffer) => zstdCompressSync(data, { params: zstdParams(level, data.length) });
  const ctrl = frame(streams.ctrl);
  const diff = frame(streams.diff);
  const extra = frame(streams.extra);
  return Buffer.concat([encodeBsdiffPrefix(ctrl.length, diff.length), ctrl, diff, extra]);
}

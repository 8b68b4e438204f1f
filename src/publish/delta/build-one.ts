/**
 * Builds one delta file (one kind, from one old release) synchronously: find the needed files,
 * pair them with old files, plan the segments, encode each segment, then write header and
 * payloads. Runs inside a worker thread (see worker.ts).
 */
import { createHash } from "node:crypto";
import { closeSync, fsyncSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import {
  DELTA_KIND_FILES,
  DELTA_KIND_TREE,
  type DeltaSegment,
  encodeDeltaHeader,
  neededFiles,
  type RefSpan,
  treeId,
} from "../../formats/delta.js";
import { suffixArray } from "./bsdiff.js";
import { bsdiffSegment, zstdSegment } from "./encode.js";
import { pairNeeded } from "./pairing.js";
import { type PlanLimits, type PlannedSegment, planFiles, planTree } from "./plan.js";
import { gather, type SourceFile } from "./sources.js";

/** What to build. Plain data, so it can be posted to a worker. */
export interface DeltaJob {
  kind: string;
  /** Version of the old release. */
  from: string;
  oldFiles: SourceFile[];
  newFiles: SourceFile[];
  /** Where to write the delta (must not exist). */
  outPath: string;
  /** zstd level (19 by default in the publisher). */
  level: number;
  limits?: PlanLimits;
  /** Only estimate the size (worker.ts runs {@link estimateDelta}). */
  estimateOnly?: boolean;
  /** Give up (throw {@link DeltaCannotWin}) once the delta cannot be at most this many bytes. */
  maxBytes?: number;
}

/** A quick size estimate of a delta, from a fast pass ({@link estimateDelta}). */
export interface DeltaEstimate {
  kind: string;
  from: string;
  /** Payload bytes at {@link ESTIMATE_LEVEL}; the level-19 delta is rarely below {@link ESTIMATE_FLOOR} of it. */
  bytes: number;
  neededBytes: number;
}

/** Level of the fast pass that estimates a delta's size before the costly one. */
export const ESTIMATE_LEVEL = 3;
/**
 * The share of the fast estimate below which the level-19 pass practically never goes (measured
 * on the benchmark's pairs: 0.6–0.9); a candidate whose estimate times this cannot beat a bound
 * is given up.
 */
export const ESTIMATE_FLOOR = 0.5;
/** A segment whose fast payload keeps this share of its bytes is incompressible: level 19 is skipped. */
const INCOMPRESSIBLE_RATIO = 0.97;

/** Thrown by {@link buildDelta} when the delta cannot reach its `maxBytes`. */
export class DeltaCannotWin extends Error {}

/** A built delta. */
export interface BuiltDelta {
  kind: string;
  from: string;
  path: string;
  size: number;
  sha256: string;
  segments: number;
  /** Bytes of new files the delta produces (the rest is copied from the installed tree). */
  neededBytes: number;
  /** Segments encoded with bsdiff (the others use zstd). */
  bsdiffSegments: number;
}

/** Progress of one job, in bytes of the needed stream. */
export type DeltaJobProgress = (done: number, total: number) => void;

/** The `{ file, offset, length }` pieces of needed-stream bytes [start, start + length). */
function streamSpans(
  newFiles: readonly SourceFile[],
  needed: readonly number[],
  offsets: readonly number[],
  start: number,
  length: number,
): { file: SourceFile; offset: number; length: number }[] {
  const out: { file: SourceFile; offset: number; length: number }[] = [];
  let lo = 0;
  let hi = needed.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid]! <= start) lo = mid;
    else hi = mid - 1;
  }
  let remaining = length;
  for (let k = lo; k < needed.length && remaining > 0; k++) {
    const file = newFiles[needed[k]!]!;
    const from = Math.max(0, start - offsets[k]!);
    const take = Math.min(file.size - from, remaining);
    if (take <= 0) continue;
    out.push({ file, offset: from, length: take });
    remaining -= take;
  }
  if (remaining !== 0) throw new Error("needed stream slice outside the stream");
  return out;
}

function refSpans(job: DeltaJob, refs: readonly RefSpan[]): { file: SourceFile; offset: number; length: number }[] {
  return refs.map((r) => ({
    file: (r.source === "old" ? job.oldFiles : job.newFiles)[r.file]!,
    offset: r.offset,
    length: r.length,
  }));
}

interface PlannedDelta {
  needed: number[];
  offsets: number[];
  neededBytes: number;
  plan: PlannedSegment[];
}

function planDelta(job: DeltaJob): PlannedDelta {
  const needed = neededFiles(job.oldFiles, job.newFiles);
  const offsets: number[] = [];
  let neededBytes = 0;
  for (const n of needed) {
    offsets.push(neededBytes);
    neededBytes += job.newFiles[n]!.size;
  }
  const pairs = pairNeeded(job.oldFiles, job.newFiles, needed);
  const input = {
    oldFiles: job.oldFiles,
    newFiles: job.newFiles,
    needed,
    pairs,
    ...(job.limits ? { limits: job.limits } : {}),
  };
  let plan: PlannedSegment[];
  if (job.kind === DELTA_KIND_FILES) plan = planFiles(input);
  else if (job.kind === DELTA_KIND_TREE) plan = planTree(input);
  else throw new Error(`unknown delta kind ${job.kind}`);
  return { needed, offsets, neededBytes, plan };
}

function segmentBytes(job: DeltaJob, planned: PlannedDelta, segment: PlannedSegment) {
  return {
    output: gather(streamSpans(job.newFiles, planned.needed, planned.offsets, segment.start, segment.length)),
    reference: gather(refSpans(job, segment.refs)),
  };
}

/** The fast pass alone: what the delta would weigh at {@link ESTIMATE_LEVEL}. */
export function estimateDelta(job: DeltaJob, onProgress: DeltaJobProgress = () => undefined): DeltaEstimate {
  const planned = planDelta(job);
  let bytes = 0;
  let done = 0;
  for (const segment of planned.plan) {
    const { output, reference } = segmentBytes(job, planned, segment);
    bytes += zstdSegment(output, reference, ESTIMATE_LEVEL).length;
    done += segment.length;
    onProgress(done, planned.neededBytes);
  }
  return { kind: job.kind, from: job.from, bytes, neededBytes: planned.neededBytes };
}

/**
 * Builds the delta described by `job` and returns its size and sha256. Each segment is first
 * compressed at {@link ESTIMATE_LEVEL}: a segment that does not compress keeps that payload, and
 * with `maxBytes` the build stops ({@link DeltaCannotWin}) as soon as the bytes written plus the
 * floor of the remaining estimates exceed it.
 */
export function buildDelta(job: DeltaJob, onProgress: DeltaJobProgress = () => undefined): BuiltDelta {
  const planned = planDelta(job);
  const { plan, neededBytes } = planned;
  const payloadPath = `${job.outPath}.payload`;
  const payloadFd = openSync(payloadPath, "wx");
  const segments: DeltaSegment[] = [];
  let bsdiffSegments = 0;
  let done = 0;
  // Chunks of one large file share their reference: sort its suffixes once.
  let suffixes: { key: string; index: Int32Array } | undefined;
  try {
    onProgress(0, neededBytes);
    const estimates = plan.map(() => 0);
    let remainingFloor = 0;
    let written = 0;
    const cannotWin = (estimated: boolean) => {
      if (job.maxBytes !== undefined && written + remainingFloor > job.maxBytes) {
        throw new DeltaCannotWin(
          `${estimated ? "estimated at" : "already over"} ${Math.round(written + remainingFloor)} bytes, more than the ${job.maxBytes} it must beat`,
        );
      }
    };
    if (job.maxBytes !== undefined) {
      plan.forEach((segment, i) => {
        const { output, reference } = segmentBytes(job, planned, segment);
        estimates[i] = zstdSegment(output, reference, ESTIMATE_LEVEL).length;
        remainingFloor += estimates[i]! * ESTIMATE_FLOOR;
      });
      cannotWin(true);
    }
    plan.forEach((segment, i) => {
      const { output, reference } = segmentBytes(job, planned, segment);
      const fast = zstdSegment(output, reference, ESTIMATE_LEVEL);
      let payload = fast;
      let method: DeltaSegment["method"] = "zstd";
      if (fast.length < output.length * INCOMPRESSIBLE_RATIO) {
        payload = zstdSegment(output, reference, job.level);
        if (segment.tryBsdiff && reference.length > 0) {
          const key = JSON.stringify(segment.refs);
          if (suffixes?.key !== key) suffixes = { key, index: suffixArray(reference) };
          const alternative = bsdiffSegment(output, reference, job.level, suffixes.index);
          if (alternative.length < payload.length) {
            payload = alternative;
            method = "bsdiff";
            bsdiffSegments++;
          }
        }
      }
      writeAll(payloadFd, payload);
      segments.push({ method, outputLength: segment.length, payloadLength: payload.length, refs: segment.refs });
      written += payload.length;
      remainingFloor -= estimates[i]! * ESTIMATE_FLOOR;
      cannotWin(false);
      done += segment.length;
      onProgress(done, neededBytes);
    });
  } catch (err) {
    closeSync(payloadFd);
    rmSync(payloadPath, { force: true });
    throw err;
  }
  closeSync(payloadFd);
  try {
    const header = encodeDeltaHeader(
      { kind: job.kind, baseTreeId: treeId(job.oldFiles), segments },
      { old: job.oldFiles.map((f) => f.size), new: job.newFiles.map((f) => f.size) },
    );
    const { size, sha256 } = writeDeltaFile(job.outPath, header, payloadPath);
    return {
      kind: job.kind,
      from: job.from,
      path: job.outPath,
      size,
      sha256,
      segments: segments.length,
      neededBytes,
      bsdiffSegments,
    };
  } finally {
    rmSync(payloadPath, { force: true });
  }
}

function writeAll(fd: number, data: Uint8Array): void {
  let at = 0;
  while (at < data.length) at += writeSync(fd, data, at, data.length - at);
}

/** Writes header + payload file into `outPath` (fsynced) and returns its size and sha256. */
function writeDeltaFile(outPath: string, header: Buffer, payloadPath: string): { size: number; sha256: string } {
  const hash = createHash("sha256");
  const out = openSync(outPath, "wx");
  let size = 0;
  try {
    writeAll(out, header);
    hash.update(header);
    size += header.length;
    const input = openSync(payloadPath, "r");
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const n = readSync(input, buf, 0, buf.length, null);
        if (n === 0) break;
        const chunk = buf.subarray(0, n);
        writeAll(out, chunk);
        hash.update(chunk);
        size += n;
      }
    } finally {
      closeSync(input);
    }
    fsyncSync(out);
  } finally {
    closeSync(out);
  }
  return { size, sha256: hash.digest("hex") };
}

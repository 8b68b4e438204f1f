/**
 * Cuts the needed stream (the new files a delta must produce, concatenated in manifest order)
 * into segments and chooses each segment's reference, for both delta kinds:
 * - `delta-files`: one segment per file (chunks for large files), referencing its paired old
 *   file; runs of unpaired files share one segment with no reference;
 * - `delta-tree`: segments of up to the size limit across file boundaries, referencing the
 *   paired old files, then files already produced, then (when it fits) the rest of the old tree.
 * Every segment respects {@link DELTA_LIMITS}, which is what bounds the client's memory.
 */
import { DELTA_LIMITS, type RefSpan } from "../../formats/delta.js";
import type { SourceFile } from "./sources.js";

/** Segment limits used by the planner (tests use smaller ones). */
export interface PlanLimits {
  maxReferenceBytes: number;
  maxSegmentBytes: number;
}

/** Default limits: the format's. */
export const DEFAULT_PLAN_LIMITS: PlanLimits = {
  maxReferenceBytes: DELTA_LIMITS.maxReferenceBytes,
  maxSegmentBytes: DELTA_LIMITS.maxSegmentBytes,
};

/** A planned segment: a slice of the needed stream and its reference. */
export interface PlannedSegment {
  /** Offset in the needed stream. */
  start: number;
  length: number;
  refs: RefSpan[];
  /** Also try bsdiff and keep the smaller (executables). */
  tryBsdiff: boolean;
}

/** Inputs of a plan. */
export interface PlanInput {
  oldFiles: readonly SourceFile[];
  newFiles: readonly SourceFile[];
  /** Indices of needed new files, in manifest order. */
  needed: readonly number[];
  /** needed new index → paired old index. */
  pairs: ReadonlyMap<number, number>;
  limits?: PlanLimits;
}

const BINARY_EXTENSIONS = /\.(node|so|dll|dylib|exe|wasm|bin)$/i;
const MIN_BSDIFF_BYTES = 64 * 1024;

/** True for files worth a bsdiff attempt: executables and native libraries of some size. */
export function isBinaryCandidate(file: SourceFile): boolean {
  return file.size >= MIN_BSDIFF_BYTES && (file.mode === 0o755 || BINARY_EXTENSIONS.test(file.path));
}

/** A window of `old` of at most `budget` bytes for the chunk [`start`, `start + length`) of a `newSize`-byte file. */
function window(oldIndex: number, old: SourceFile, newSize: number, start: number, budget: number): RefSpan {
  if (old.size <= budget) return { source: "old", file: oldIndex, offset: 0, length: old.size };
  const center = newSize === 0 ? 0 : Math.floor(((start + 0.5 * Math.min(budget, newSize)) / newSize) * old.size);
  const offset = Math.max(0, Math.min(old.size - budget, center - Math.floor(budget / 2)));
  return { source: "old", file: oldIndex, offset, length: budget };
}

/** Offsets of each needed file in the needed stream. */
function neededOffsets(input: PlanInput): number[] {
  const out: number[] = [];
  let at = 0;
  for (const n of input.needed) {
    out.push(at);
    at += input.newFiles[n]!.size;
  }
  return out;
}

/** Plans a `delta-files` delta. */
export function planFiles(input: PlanInput): PlannedSegment[] {
  const limits = input.limits ?? DEFAULT_PLAN_LIMITS;
  const offsets = neededOffsets(input);
  const segments: PlannedSegment[] = [];
  let group: PlannedSegment | undefined;
  input.needed.forEach((n, k) => {
    const file = input.newFiles[n]!;
    const pair = input.pairs.get(n);
    if (pair === undefined) {
      if (group && group.length + file.size <= limits.maxSegmentBytes) {
        group.length += file.size;
        return;
      }
      if (file.size <= limits.maxSegmentBytes) {
        group = { start: offsets[k]!, length: file.size, refs: [], tryBsdiff: false };
        segments.push(group);
        return;
      }
    }
    group = undefined;
    const old = pair === undefined ? undefined : input.oldFiles[pair]!;
    for (let start = 0; start < file.size || (start === 0 && file.size === 0); ) {
      const length = Math.min(limits.maxSegmentBytes, file.size - start);
      const refs = old && pair !== undefined ? [window(pair, old, file.size, start, limits.maxReferenceBytes)] : [];
      segments.push({
        start: offsets[k]! + start,
        length,
        refs,
        tryBsdiff: old !== undefined && isBinaryCandidate(file),
      });
      start += length;
      if (length === 0) break;
    }
  });
  return segments;
}

/** Plans a `delta-tree` delta. */
export function planTree(input: PlanInput): PlannedSegment[] {
  const limits = input.limits ?? DEFAULT_PLAN_LIMITS;
  const offsets = neededOffsets(input);
  const total = offsets.length === 0 ? 0 : offsets.at(-1)! + input.newFiles[input.needed.at(-1)!]!.size;
  // Cut at file boundaries when possible; a file larger than a segment is cut into chunks.
  const cuts: { start: number; length: number; members: { k: number; from: number; to: number }[] }[] = [];
  let current: (typeof cuts)[number] | undefined;
  input.needed.forEach((n, k) => {
    const size = input.newFiles[n]!.size;
    if (current && current.length + size <= limits.maxSegmentBytes) {
      current.length += size;
      current.members.push({ k, from: 0, to: size });
      return;
    }
    for (let from = 0; from < size || (from === 0 && size === 0); ) {
      const length = Math.min(limits.maxSegmentBytes, size - from);
      current = { start: offsets[k]! + from, length, members: [{ k, from, to: from + length }] };
      cuts.push(current);
      from += length;
      if (length === 0) break;
    }
    if (input.newFiles[n]!.size > limits.maxSegmentBytes) current = undefined;
  });
  const oldTotal = input.oldFiles.reduce((sum, f) => sum + f.size, 0);
  const produced: number[] = [];
  const segments: PlannedSegment[] = [];
  for (const cut of cuts) {
    let budget = limits.maxReferenceBytes;
    const paired: RefSpan[] = [];
    const usedOld = new Set<number>();
    for (const m of cut.members) {
      const n = input.needed[m.k]!;
      const pair = input.pairs.get(n);
      if (pair === undefined || usedOld.has(pair) || budget <= 0) continue;
      const span = window(pair, input.oldFiles[pair]!, input.newFiles[n]!.size, m.from, budget);
      if (span.length === 0) continue;
      usedOld.add(pair);
      paired.push(span);
      budget -= span.length;
    }
    // Files this delta already produced (newest first), then other old files.
    const earlier: RefSpan[] = [];
    let earlierBudget = Math.min(budget, limits.maxReferenceBytes / 2);
    for (let i = produced.length - 1; i >= 0 && earlierBudget > 0; i--) {
      const file = input.newFiles[produced[i]!]!;
      if (file.size === 0 || file.size > earlierBudget) continue;
      earlier.unshift({ source: "new", file: produced[i]!, offset: 0, length: file.size });
      earlierBudget -= file.size;
      budget -= file.size;
    }
    // The rest of the old tree when it all fits (a whole-tree patch); for larger trees the list
    // of spans would cost more header bytes than the matches it offers (measured on next.js).
    const others: RefSpan[] = [];
    const wholeTreeFits = oldTotal - paired.reduce((s, r) => s + r.length, 0) <= budget;
    input.oldFiles.forEach((f, i) => {
      if (!wholeTreeFits || usedOld.has(i)) return;
      others.push({ source: "old", file: i, offset: 0, length: f.size });
    });
    segments.push({
      start: cut.start,
      length: cut.length,
      // Most relevant last: zstd finds recent dictionary content most cheaply.
      refs: [...others, ...earlier, ...paired],
      tryBsdiff: false,
    });
    for (const m of cut.members) {
      if (m.to === input.newFiles[input.needed[m.k]!]!.size) produced.push(input.needed[m.k]!);
    }
  }
  if (segments.reduce((s, x) => s + x.length, 0) !== total)
    throw new Error("tree plan does not cover the needed stream");
  return segments;
}

/**
 * Updraft's delta artifact format (docs/format.md, "Deltas"): pure encode/decode, no I/O.
 *
 * A delta turns the installed tree of release `from` into release `to`:
 * - files of `to` whose sha256 already exists in `from` are copied from the installed tree;
 * - every other file of `to` ("needed" files, in manifest order) is produced from the delta's
 *   payload. Their concatenation, the *needed stream*, is cut into segments; each segment is
 *   decoded against a *reference*: the concatenation of spans of installed files (or of files
 *   of `to` already produced), which is the zstd dictionary or the bsdiff old image.
 *
 * Layout: `UDLT`, format version (1 byte), header length (varint), header, payloads (one per
 * segment, in order). Limits bound the reference and output size of every segment, which bounds
 * the client's memory whatever the release size.
 */
import { createHash } from "node:crypto";
import { ErrorCodes, type Fail, failWith } from "../core/errors.js";
import type { ManifestFile } from "./native.js";

/** First bytes of every delta file. */
export const DELTA_MAGIC = Buffer.from("UDLT", "latin1");
/** Version of the layout below; readers refuse another. */
export const DELTA_FORMAT_VERSION = 1;

/** Per-file deltas: one segment per changed file, decoded against its best old match. */
export const DELTA_KIND_FILES = "delta-files";
/** Whole-tree deltas: the needed stream as few segments, each against a broad reference. */
export const DELTA_KIND_TREE = "delta-tree";
/** Every delta kind this version of Updraft reads and writes. */
export const DELTA_KINDS: readonly string[] = [DELTA_KIND_FILES, DELTA_KIND_TREE];

/** How a segment's payload encodes its output. */
export type SegmentMethod = "zstd" | "bsdiff";
const METHOD_CODES: readonly SegmentMethod[] = ["zstd", "bsdiff"];

/**
 * Sizes that bound a client's memory while applying a delta: a segment holds at most
 * `maxReferenceBytes` of reference (zstd keeps one more copy of it as its dictionary) and
 * produces at most `maxSegmentBytes` (zstd's window; for bsdiff, the diff and extra streams).
 * Peak for the delta itself ≈ 2 × 32 + 16 = 80 MiB, on top of the client's ~100 MiB baseline.
 */
export const DELTA_LIMITS = {
  maxReferenceBytes: 32 * 1024 * 1024,
  maxSegmentBytes: 8 * 1024 * 1024,
  maxHeaderBytes: 16 * 1024 * 1024,
  maxSegments: 1 << 20,
  maxSpansPerSegment: 1 << 20,
  /** zstd window the decoder accepts (2^27 = 128 MiB covers reference + segment). */
  zstdWindowLogMax: 27,
} as const;

/** One span of a segment's reference: bytes of an installed (`old`) or already produced (`new`) file. */
export interface RefSpan {
  source: "old" | "new";
  /** Index into the `from` (old) or `to` (new) manifest's `files`. */
  file: number;
  offset: number;
  length: number;
}

/** One segment: a slice of the needed stream and how to decode it. */
export interface DeltaSegment {
  method: SegmentMethod;
  /** Bytes of the needed stream this segment produces. */
  outputLength: number;
  /** Bytes of payload in the delta file. */
  payloadLength: number;
  /** The reference, in order. */
  refs: RefSpan[];
}

/** The header of a delta file. */
export interface DeltaHeader {
  kind: string;
  /** {@link treeId} of the `from` release the delta applies to. */
  baseTreeId: string;
  segments: DeltaSegment[];
}

/** A decoded header and where the first payload starts in the file. */
export interface DecodedDelta {
  header: DeltaHeader;
  payloadStart: number;
}

/** Sizes of the files a delta refers to, to resolve whole-file spans and check bounds. */
export interface DeltaSizes {
  old: readonly number[];
  new: readonly number[];
}

/** Throws `DELTA_INVALID`: the delta cannot produce the release, so the client falls back to the full archive. */
export const invalidDelta: Fail = failWith(
  ErrorCodes.DELTA_INVALID,
  "The delta is damaged or does not match the format; the client falls back to the full archive.",
  "Invalid delta: ",
);

// ---------------------------------------------------------------------------------------------
// Varints (unsigned LEB128, up to 2^53)

/** Appends unsigned LEB128 bytes of `value` to `out`. */
export function pushVarint(out: number[], value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint out of range: ${value}`);
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** Reads varints from a buffer, refusing truncation and values above 2^53. */
export class VarintReader {
  pos: number;
  constructor(
    private readonly buf: Uint8Array,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.pos = start;
  }

  /** True when every byte was read. */
  get done(): boolean {
    return this.pos >= this.end;
  }

  /** The next varint. */
  next(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) invalidDelta("truncated number");
      const byte = this.buf[this.pos++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (!Number.isSafeInteger(value)) invalidDelta("number too large");
        return value;
      }
      scale *= 0x80;
    }
    return invalidDelta("number too long");
  }

  /** The next `n` raw bytes. */
  bytes(n: number): Uint8Array {
    if (this.pos + n > this.end) invalidDelta("truncated header");
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** Zigzag mapping of a signed integer to an unsigned one (for bsdiff seeks). */
export function zigzag(n: number): number {
  return n < 0 ? -2 * n - 1 : 2 * n;
}

/** Inverse of {@link zigzag}. */
export function unzigzag(n: number): number {
  return n % 2 === 1 ? -(n + 1) / 2 : n / 2;
}

// ---------------------------------------------------------------------------------------------
// Trees

/** A tree's identity for deltas: 16 bytes (hex) of sha256 over every file's path and sha256, in manifest order. */
export function treeId(files: readonly Pick<ManifestFile, "path" | "sha256">[]): string {
  const hash = createHash("sha256");
  for (const f of files) hash.update(`${f.path}\0${f.sha256}\n`);
  return hash.digest("hex").slice(0, 32);
}

/**
 * Indices (into `newFiles`) of the files a delta must produce: those whose content (sha256) is
 * not among `oldFiles`. Everything else is copied from the installed tree.
 */
export function neededFiles(
  oldFiles: readonly Pick<ManifestFile, "sha256">[],
  newFiles: readonly Pick<ManifestFile, "sha256">[],
): number[] {
  const have = new Set(oldFiles.map((f) => f.sha256));
  const out: number[] = [];
  newFiles.forEach((f, i) => {
    if (!have.has(f.sha256)) out.push(i);
  });
  return out;
}

/** TUF target name of a delta from `from` to `version` of the build for `platform` (without it: the first layout, one build per release). */
export function deltaTarget(version: string, from: string, kind: string, platform?: string): string {
  const folder = platform === undefined ? `releases/${version}` : `releases/${version}/${platform}`;
  return `${folder}/deltas/${from}.${kind}.udelta`;
}

// ---------------------------------------------------------------------------------------------
// Header

/*
 * A span is written as a tag, `file * 8 + code`, then its fields:
 * code 0/1: part of an old/new file (offset, length follow); 2/3: a whole old/new file;
 * 4/5: a run of whole old/new files `file … file + count - 1` (count follows).
 */
const SPAN_PART = 0;
const SPAN_WHOLE = 2;
const SPAN_RUN = 4;

/** Serializes a header with the magic and format version in front; consecutive whole files become runs. */
export function encodeDeltaHeader(header: DeltaHeader, sizes: DeltaSizes): Buffer {
  const body: number[] = [];
  const kindIndex = DELTA_KINDS.indexOf(header.kind);
  if (kindIndex < 0) throw new RangeError(`unknown delta kind ${header.kind}`);
  pushVarint(body, kindIndex);
  const id = Buffer.from(header.baseTreeId, "hex");
  if (id.length !== 16) throw new RangeError("baseTreeId must be 16 bytes of hex");
  body.push(...id);
  pushVarint(body, header.segments.length);
  for (const s of header.segments) {
    pushVarint(body, METHOD_CODES.indexOf(s.method));
    pushVarint(body, s.outputLength);
    pushVarint(body, s.payloadLength);
    const tags: number[] = [];
    let count = 0;
    for (let i = 0; i < s.refs.length; ) {
      const r = s.refs[i]!;
      const sourceBit = r.source === "new" ? 1 : 0;
      const sizeOf = (x: RefSpan) => (x.source === "old" ? sizes.old : sizes.new)[x.file];
      if (sizeOf(r) === undefined) throw new RangeError(`span names missing ${r.source} file ${r.file}`);
      const whole = (x: RefSpan) => x.offset === 0 && x.length === sizeOf(x);
      if (!whole(r)) {
        pushVarint(tags, r.file * 8 + SPAN_PART + sourceBit);
        pushVarint(tags, r.offset);
        pushVarint(tags, r.length);
        i++;
      } else {
        let run = 1;
        for (let j = i + 1; j < s.refs.length; j++) {
          const next = s.refs[j]!;
          if (next.source !== r.source || next.file !== r.file + run || !whole(next)) break;
          run++;
        }
        pushVarint(tags, r.file * 8 + (run > 1 ? SPAN_RUN : SPAN_WHOLE) + sourceBit);
        if (run > 1) pushVarint(tags, run);
        i += run;
      }
      count++;
    }
    pushVarint(body, count);
    for (const b of tags) body.push(b);
  }
  const head: number[] = [];
  pushVarint(head, body.length);
  return Buffer.concat([DELTA_MAGIC, Buffer.from([DELTA_FORMAT_VERSION]), Buffer.from(head), Buffer.from(body)]);
}

/** Bytes to read from the start of a delta file to be sure the header length is known. */
export const DELTA_PREAMBLE_BYTES = DELTA_MAGIC.length + 1 + 8;

/**
 * Reads the header length from the first bytes of a delta file: returns where the header body
 * starts and its length, so the caller can read exactly that many bytes.
 */
export function readDeltaPreamble(first: Uint8Array): { bodyStart: number; bodyLength: number } {
  if (first.length < DELTA_MAGIC.length + 2 || !Buffer.from(first.subarray(0, 4)).equals(DELTA_MAGIC)) {
    invalidDelta("not an Updraft delta (bad magic)");
  }
  if (first[4] !== DELTA_FORMAT_VERSION) invalidDelta(`format version ${first[4]} is not supported`);
  const reader = new VarintReader(first, 5);
  const bodyLength = reader.next();
  if (bodyLength > DELTA_LIMITS.maxHeaderBytes) invalidDelta("header too large");
  return { bodyStart: reader.pos, bodyLength };
}

/**
 * Decodes and checks a header body: kinds, methods, spans inside their files, segment sizes
 * within {@link DELTA_LIMITS}, and segment outputs adding up to `neededBytes`.
 */
export function decodeDeltaHeader(
  body: Uint8Array,
  sizes: DeltaSizes,
  neededBytes: number,
  payloadStart: number,
): DecodedDelta {
  const r = new VarintReader(body);
  const kind = DELTA_KINDS[r.next()] ?? invalidDelta("unknown kind");
  const baseTreeId = Buffer.from(r.bytes(16)).toString("hex");
  const count = r.next();
  if (count > DELTA_LIMITS.maxSegments) invalidDelta("too many segments");
  const segments: DeltaSegment[] = [];
  let output = 0;
  for (let i = 0; i < count; i++) {
    const method = METHOD_CODES[r.next()] ?? invalidDelta(`segment ${i} has an unknown method`);
    const outputLength = r.next();
    const payloadLength = r.next();
    const spanCount = r.next();
    if (outputLength > DELTA_LIMITS.maxSegmentBytes) invalidDelta(`segment ${i} output exceeds the limit`);
    if (spanCount > DELTA_LIMITS.maxSpansPerSegment) invalidDelta(`segment ${i} has too many spans`);
    const refs: RefSpan[] = [];
    let refBytes = 0;
    for (let j = 0; j < spanCount; j++) {
      const tag = r.next();
      const source = tag % 2 === 1 ? "new" : "old";
      const code = (tag % 8) - (tag % 2);
      const first = Math.floor(tag / 8);
      const files = source === "old" ? sizes.old : sizes.new;
      const run = code === SPAN_RUN ? r.next() : 1;
      if (code > SPAN_RUN || run < 1 || refs.length + run > DELTA_LIMITS.maxSpansPerSegment) {
        invalidDelta(`segment ${i} has a bad span`);
      }
      for (let file = first; file < first + run; file++) {
        const size = files[file];
        if (size === undefined) invalidDelta(`segment ${i} refers to a missing ${source} file ${file}`);
        const offset = code === SPAN_PART ? r.next() : 0;
        const length = code === SPAN_PART ? r.next() : size;
        if (offset + length > size) invalidDelta(`segment ${i} reads past the end of ${source} file ${file}`);
        refBytes += length;
        if (refBytes > DELTA_LIMITS.maxReferenceBytes) invalidDelta(`segment ${i} reference exceeds the limit`);
        refs.push({ source, file, offset, length });
      }
    }
    output += outputLength;
    segments.push({ method, outputLength, payloadLength, refs });
  }
  if (!r.done) invalidDelta("extra bytes after the header");
  if (output !== neededBytes) invalidDelta(`segments produce ${output} bytes, the release needs ${neededBytes}`);
  return { header: { kind, baseTreeId, segments }, payloadStart };
}

// ---------------------------------------------------------------------------------------------
// bsdiff payloads

/**
 * A bsdiff segment's payload: `ctrl` (varint triples: add length, copy length, zigzag seek),
 * `diff` (bytes added to the old image) and `extra` (new bytes), each one zstd frame, preceded
 * by the compressed lengths of `ctrl` and `diff`.
 */
export interface BsdiffPayloadLayout {
  ctrlLength: number;
  diffLength: number;
  extraLength: number;
  /** Offset of the ctrl frame inside the payload. */
  start: number;
}

/** Prefix of a bsdiff payload holding the frame lengths. */
export function encodeBsdiffPrefix(ctrlLength: number, diffLength: number): Buffer {
  const out: number[] = [];
  pushVarint(out, ctrlLength);
  pushVarint(out, diffLength);
  return Buffer.from(out);
}

/** Reads the frame lengths at the start of a bsdiff payload of `payloadLength` bytes. */
export function decodeBsdiffPrefix(first: Uint8Array, payloadLength: number): BsdiffPayloadLayout {
  const r = new VarintReader(first, 0, Math.min(first.length, payloadLength));
  const ctrlLength = r.next();
  const diffLength = r.next();
  const extraLength = payloadLength - r.pos - ctrlLength - diffLength;
  if (extraLength < 0) invalidDelta("bsdiff frame lengths exceed the payload");
  return { ctrlLength, diffLength, extraLength, start: r.pos };
}

/**
 * Decodes one delta segment into the needed stream: builds its reference from installed files
 * (verified beforehand) or files already produced, then runs zstd with the reference as
 * dictionary, or bspatch against it. Memory per segment: the reference (≤ 32 MiB) once in
 * JavaScript and once inside zstd, plus zstd's window (≤ the segment's 16 MiB of output); for
 * bsdiff, the reference plus the decompressed diff and extra streams (each ≤ the output).
 */
import { closeSync, createReadStream, openSync, readSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { createZstdDecompress, constants as zlibConstants, zstdDecompress } from "node:zlib";
import { UpdraftError } from "../../../core/errors.js";
import {
  DELTA_LIMITS,
  type DeltaSegment,
  decodeBsdiffPrefix,
  invalidDelta,
  unzigzag,
  VarintReader,
} from "../../../formats/delta.js";
import type { NeededWriter } from "./needed-writer.js";

const zstdDecompressAsync = promisify(zstdDecompress);
/** Output pieces handed to the writer at most this large. */
const PIECE_BYTES = 1 << 20;

/** Where a reference span's bytes are: an absolute path, or a reason it cannot be used. */
export type SpanResolver = (span: DeltaSegment["refs"][number]) => string;

async function readExactly(handle: FileHandle, into: Buffer, at: number, length: number, position: number) {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(into, at + done, length - done, position + done);
    if (bytesRead === 0) invalidDelta("a reference file is shorter than its manifest says");
    done += bytesRead;
  }
}

/**
 * Reads segments' references into one buffer allocated once for the largest of them (freed
 * memory of large buffers returns late, so reallocating per segment would stack them up).
 * Reads are synchronous: many small page-cached files.
 */
export class ReferenceReader {
  private readonly buffer: Buffer;

  constructor(segments: readonly DeltaSegment[]) {
    const largest = Math.max(0, ...segments.map((s) => s.refs.reduce((sum, r) => sum + r.length, 0)));
    this.buffer = Buffer.allocUnsafe(largest);
  }

  /** The reference of `segment` (a view valid until the next call). */
  read(segment: DeltaSegment, resolve: SpanResolver): Buffer {
    let at = 0;
    for (const span of segment.refs) {
      if (span.length > 0) {
        const fd = openSync(resolve(span), "r");
        try {
          for (let done = 0; done < span.length; ) {
            const n = readSync(fd, this.buffer, at + done, span.length - done, span.offset + done);
            if (n === 0) invalidDelta("a reference file is shorter than its manifest says");
            done += n;
          }
        } finally {
          closeSync(fd);
        }
      }
      at += span.length;
    }
    return this.buffer.subarray(0, at);
  }
}

/** One segment to decode: its payload is at [`offset`, `offset + segment.payloadLength`) of `deltaPath`. */
export interface SegmentJob {
  deltaPath: string;
  offset: number;
  segment: DeltaSegment;
  /** The segment's reference, from {@link ReferenceReader.read}. */
  reference: Buffer;
}

/** Decodes one segment by its method, writing its output to `writer`. */
export async function decodeSegment(job: SegmentJob, writer: NeededWriter): Promise<void> {
  if (job.segment.method === "zstd") await decodeZstd(job, writer);
  else await applyBsdiff(job, writer);
}

/** zstd with the reference as dictionary, streamed from the delta file. */
async function decodeZstd({ deltaPath, offset, segment, reference }: SegmentJob, writer: NeededWriter): Promise<void> {
  if (segment.payloadLength === 0) invalidDelta("empty zstd payload");
  const decoder = createZstdDecompress({
    ...(reference.length > 0 ? { dictionary: reference } : {}),
    params: { [zlibConstants.ZSTD_d_windowLogMax]: DELTA_LIMITS.zstdWindowLogMax },
    chunkSize: 256 * 1024,
  });
  let produced = 0;
  try {
    await pipeline(
      createReadStream(deltaPath, { start: offset, end: offset + segment.payloadLength - 1, highWaterMark: 1 << 20 }),
      decoder,
      async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) {
          produced += chunk.length;
          if (produced > segment.outputLength) invalidDelta("a segment decodes to more bytes than it declares");
          await writer.write(chunk);
        }
      },
    );
  } catch (err) {
    if (err instanceof UpdraftError) throw err;
    invalidDelta(`zstd: ${(err as Error).message}`);
  } finally {
    decoder.close(); // frees zstd's copy of the dictionary and its window now, not at some later GC
  }
  if (produced !== segment.outputLength) invalidDelta("a segment decodes to fewer bytes than it declares");
}

async function readPayload(deltaPath: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(deltaPath, "r");
  try {
    const out = Buffer.allocUnsafe(length);
    await readExactly(handle, out, 0, length, offset);
    return out;
  } finally {
    await handle.close();
  }
}

async function unzstd(frame: Buffer, max: number): Promise<Buffer> {
  try {
    return await zstdDecompressAsync(frame, { maxOutputLength: Math.max(1, max) });
  } catch (err) {
    return invalidDelta(`bsdiff stream: ${(err as Error).message}`);
  }
}

/** A bsdiff segment (see formats/delta.ts) applied to the reference, its output written in pieces. */
async function applyBsdiff({ deltaPath, offset, segment, reference }: SegmentJob, writer: NeededWriter): Promise<void> {
  const payload = await readPayload(deltaPath, offset, segment.payloadLength);
  const layout = decodeBsdiffPrefix(payload, payload.length);
  const out = segment.outputLength;
  let at = layout.start;
  const take = (n: number) => {
    const frame = payload.subarray(at, at + n);
    at += n;
    return frame;
  };
  const ctrl = await unzstd(take(layout.ctrlLength), 64 + out * 4);
  const diff = await unzstd(take(layout.diffLength), out);
  const extra = await unzstd(take(layout.extraLength), out);
  const triples = new VarintReader(ctrl);
  let newPos = 0;
  let oldPos = 0;
  let diffPos = 0;
  let extraPos = 0;
  while (newPos < out) {
    const add = triples.next();
    const copy = triples.next();
    const seek = unzigzag(triples.next());
    if (newPos + add + copy > out || diffPos + add > diff.length || extraPos + copy > extra.length) {
      invalidDelta("bsdiff control data runs past its streams");
    }
    for (let done = 0; done < add; ) {
      const n = Math.min(PIECE_BYTES, add - done);
      const piece = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) {
        const o = oldPos + done + i;
        piece[i] = (diff[diffPos + done + i]! + (o >= 0 && o < reference.length ? reference[o]! : 0)) & 0xff;
      }
      await writer.write(piece);
      done += n;
    }
    diffPos += add;
    oldPos += add;
    newPos += add;
    for (let done = 0; done < copy; ) {
      const n = Math.min(PIECE_BYTES, copy - done);
      await writer.write(extra.subarray(extraPos + done, extraPos + done + n));
      done += n;
    }
    extraPos += copy;
    newPos += copy;
    oldPos += seek;
  }
  if (!triples.done || diffPos !== diff.length || extraPos !== extra.length)
    invalidDelta("bsdiff streams have leftovers");
}

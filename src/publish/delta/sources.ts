/**
 * Where a delta builder reads file bytes from: an old release extracted to a folder, or the new
 * build (files on disk or in memory). Reads are synchronous because builders run in worker
 * threads, one job each.
 */
import { closeSync, openSync, readSync } from "node:fs";
import type { ManifestFile } from "../../formats/native.js";

/** One file of a tree, and where its bytes are. */
export interface SourceFile extends ManifestFile {
  /** Absolute path of the file on disk, unless `data` holds it. */
  absolutePath?: string;
  /** Content of an in-memory file (the embedded `updraft.json`, `updraft-root.json`). */
  data?: Uint8Array;
}

/** Reads `length` bytes at `offset` of `file`. */
export function readRange(file: SourceFile, offset: number, length: number): Buffer {
  if (offset < 0 || length < 0 || offset + length > file.size) {
    throw new RangeError(`read of ${file.path} [${offset}, ${offset + length}) is outside its ${file.size} bytes`);
  }
  if (file.data) return Buffer.from(file.data.buffer, file.data.byteOffset + offset, length);
  const out = Buffer.allocUnsafe(length);
  if (length === 0) return out;
  const fd = openSync(file.absolutePath!, "r");
  try {
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, offset + done);
      if (n === 0) throw new Error(`${file.path} is shorter than its recorded ${file.size} bytes`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Reads a whole file. */
export function readWhole(file: SourceFile): Buffer {
  return readRange(file, 0, file.size);
}

/** Concatenates spans `{ file, offset, length }` of `files` into one buffer. */
export function gather(spans: readonly { file: SourceFile; offset: number; length: number }[]): Buffer {
  const total = spans.reduce((sum, s) => sum + s.length, 0);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const s of spans) {
    readRange(s.file, s.offset, s.length).copy(out, at);
    at += s.length;
  }
  return out;
}

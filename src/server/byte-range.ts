/**
 * `Range` header parsing (RFC 9110 §14), single ranges only. Update clients resume a download
 * with one range or fetch whole files, so a multi-range request is answered with the whole file
 * (a server may always ignore `Range`), and no `multipart/byteranges` body is ever produced.
 */

/** An inclusive byte range inside a file. */
export interface ByteRange {
  /** First byte offset. */
  readonly start: number;
  /** Last byte offset, inclusive. */
  readonly end: number;
}

/** The outcome of {@link parseByteRange}. */
export type RangeDecision =
  /** Serve these bytes with 206. */
  | ByteRange
  /** Answer 416 with `Content-Range: bytes *\/size`. */
  | "unsatisfiable"
  /** Ignore the header and serve the whole file with 200 (malformed, multiple ranges, other unit). */
  | "ignore";

const BYTES_RANGE = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i;

/** Decides how to answer a `Range` header for a file of `size` bytes. */
export function parseByteRange(header: string, size: number): RangeDecision {
  const match = BYTES_RANGE.exec(header);
  if (!match) return "ignore";
  const [, first = "", last = ""] = match;
  if (first === "") {
    if (last === "") return "ignore";
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== "" && Number(last) < start) return "ignore";
  if (start >= size) return "unsatisfiable";
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  return { start, end };
}

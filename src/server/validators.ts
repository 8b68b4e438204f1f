/**
 * Validators and conditional requests (RFC 9110 §8.8, §13): the strong `ETag` and
 * `Last-Modified` of a file, `If-None-Match` / `If-Modified-Since` (→ 304) and `If-Range`.
 */
import type { BigIntStats } from "node:fs";

/**
 * A strong entity tag from size, modification time (nanoseconds) and inode, in hex:
 * `"<size>-<mtimeNs>-<ino>"`. Replacing a file by rename (as publish does) changes the inode,
 * and rewriting it in place changes the mtime or the size, so the tag changes with the bytes.
 */
export function makeEtag(stats: BigIntStats): string {
  return `"${stats.size.toString(16)}-${stats.mtimeNs.toString(16)}-${stats.ino.toString(16)}"`;
}

/** What conditional requests are checked against, computed once per file identity. */
export interface Validators {
  /** Strong entity tag, quoted. */
  readonly etag: string;
  /** `Last-Modified` value (HTTP date). */
  readonly lastModified: string;
  /** Modification time in milliseconds. */
  readonly mtimeMs: number;
  /** Size in bytes. */
  readonly size: number;
}

/** The validators of a file. */
export function validatorsOf(stats: BigIntStats): Validators {
  const mtimeMs = Number(stats.mtimeMs);
  return {
    etag: makeEtag(stats),
    lastModified: new Date(mtimeMs).toUTCString(),
    mtimeMs,
    size: Number(stats.size),
  };
}

/** Strips the weak prefix `W/` from an entity tag. */
function opaqueTag(tag: string): string {
  return tag.startsWith("W/") ? tag.slice(2) : tag;
}

/** True if an `If-None-Match` value matches `etag` (`*`, or a list, with weak comparison). */
export function ifNoneMatchMatches(header: string, etag: string): boolean {
  const trimmed = header.trim();
  if (trimmed === "*") return true;
  if (trimmed === etag) return true;
  for (const candidate of trimmed.split(",")) {
    if (opaqueTag(candidate.trim()) === etag) return true;
  }
  return false;
}

/** Whole seconds of a modification time, as HTTP dates carry. */
function toHttpSeconds(mtimeMs: number): number {
  return Math.floor(mtimeMs / 1000);
}

/**
 * True if the client's copy is current, so the answer is 304. `If-None-Match` wins over
 * `If-Modified-Since`, which is only used when there is no `If-None-Match`.
 */
export function isNotModified(
  ifNoneMatch: string | undefined,
  ifModifiedSince: string | undefined,
  etag: string,
  mtimeMs: number,
): boolean {
  if (ifNoneMatch !== undefined) return ifNoneMatchMatches(ifNoneMatch, etag);
  if (ifModifiedSince === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  return !Number.isNaN(since) && toHttpSeconds(mtimeMs) <= toHttpSeconds(since);
}

/**
 * True if an `If-Range` value still names the current file, so its `Range` applies; false means
 * "serve the whole file". A strong entity tag must match exactly (weak tags never match);
 * a date must equal `Last-Modified`.
 */
export function ifRangeMatches(header: string, etag: string, mtimeMs: number): boolean {
  const value = header.trim();
  if (value.startsWith("W/")) return false;
  if (value.startsWith('"')) return value === etag;
  const date = Date.parse(value);
  return !Number.isNaN(date) && toHttpSeconds(date) === toHttpSeconds(mtimeMs);
}

/**
 * Decides the status, headers and byte range of a file response from the request headers and
 * the file's `stat`: validators, conditional requests (304), `If-Range`, a single `Range` (206)
 * or an unsatisfiable one (416). Pure: no I/O.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { cacheControlOf } from "../formats/served-paths.js";
import { parseByteRange } from "./byte-range.js";
import type { RepositoryPath } from "./request-path.js";
import { contentTypeFor } from "./response-headers.js";
import { ifRangeMatches, isNotModified, type Validators } from "./validators.js";

/** What to answer for a file. */
export interface ResponsePlan {
  /** 200, 206, 304 or 416. */
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  /** True if body bytes must be sent (GET with a non-empty 200 or 206). */
  readonly withBody: boolean;
  /** First byte to send. */
  readonly start: number;
  /** Last byte to send, inclusive. */
  readonly end: number;
}

/** Plans the answer to a GET or HEAD for a regular file with these validators. */
export function planResponse(
  method: string,
  requestHeaders: IncomingHttpHeaders,
  validators: Validators,
  target: RepositoryPath,
): ResponsePlan {
  const { etag, mtimeMs, size } = validators;
  const headers: OutgoingHttpHeaders = {
    "accept-ranges": "bytes",
    "cache-control": cacheControlOf(target.served),
    etag,
    "last-modified": validators.lastModified,
  };
  if (isNotModified(requestHeaders["if-none-match"], requestHeaders["if-modified-since"], etag, mtimeMs)) {
    return { status: 304, headers, withBody: false, start: 0, end: -1 };
  }

  let status = 200;
  let start = 0;
  let end = size - 1;
  const range = requestHeaders.range;
  const ifRange = requestHeaders["if-range"];
  // Range is defined for GET only (RFC 9110 §14.2); HEAD describes the whole file.
  if (
    range !== undefined &&
    method === "GET" &&
    (ifRange === undefined || (typeof ifRange === "string" && ifRangeMatches(ifRange, etag, mtimeMs)))
  ) {
    const decision = parseByteRange(range, size);
    if (decision === "unsatisfiable") {
      headers["content-range"] = `bytes */${size}`;
      headers["content-length"] = 0;
      return { status: 416, headers, withBody: false, start: 0, end: -1 };
    }
    if (decision !== "ignore") {
      status = 206;
      start = decision.start;
      end = decision.end;
      headers["content-range"] = `bytes ${start}-${end}/${size}`;
    }
  }
  const length = end - start + 1;
  headers["content-type"] = contentTypeFor(target.segments[target.segments.length - 1] ?? "");
  headers["content-length"] = length;
  return { status, headers, withBody: method === "GET" && length > 0, start, end };
}

/**
 * Writes the response for an opened file: validators, conditional requests, a single byte
 * range, and the body (read at once when small, streamed with backpressure otherwise).
 */
import { createReadStream, read } from "node:fs";
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { pipeline } from "node:stream";
import { parseByteRange } from "./byte-range.js";
import { closeQuietly, type OpenedFile } from "./open-file.js";
import { cacheControlFor, contentTypeFor } from "./response-headers.js";
import { ifRangeMatches, isNotModified, makeEtag } from "./validators.js";

/** Bodies up to this size are read with one `read` and sent with one write. */
const SMALL_BODY = 64 * 1024;
/** Chunk size when streaming large files: big chunks mean fewer syscalls and event-loop turns. */
const STREAM_CHUNK = 512 * 1024;

/** Answers `req` with (part of) `file`, and closes its descriptor in every case. */
export function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  file: OpenedFile,
  segments: readonly string[],
  onError: (err: Error) => void,
): void {
  const { fd, stats } = file;
  const size = Number(stats.size);
  const mtimeMs = Number(stats.mtimeMs);
  const etag = makeEtag(stats);
  const headers: OutgoingHttpHeaders = {
    "accept-ranges": "bytes",
    "cache-control": cacheControlFor(segments),
    etag,
    "last-modified": new Date(mtimeMs).toUTCString(),
  };
  const h = req.headers;
  if (isNotModified(h["if-none-match"], h["if-modified-since"], etag, mtimeMs)) {
    closeQuietly(fd);
    res.writeHead(304, headers).end();
    return;
  }

  let status = 200;
  let start = 0;
  let end = size - 1;
  const range = h.range;
  const ifRange = h["if-range"];
  // Range is defined for GET only (RFC 9110 §14.2); HEAD describes the whole file.
  if (
    range !== undefined &&
    req.method === "GET" &&
    (ifRange === undefined || (typeof ifRange === "string" && ifRangeMatches(ifRange, etag, mtimeMs)))
  ) {
    const decision = parseByteRange(range, size);
    if (decision === "unsatisfiable") {
      closeQuietly(fd);
      headers["content-range"] = `bytes */${size}`;
      headers["content-length"] = 0;
      res.writeHead(416, headers).end();
      return;
    }
    if (decision !== "ignore") {
      status = 206;
      start = decision.start;
      end = decision.end;
      headers["content-range"] = `bytes ${start}-${end}/${size}`;
    }
  }

  const length = end - start + 1;
  headers["content-type"] = contentTypeFor(segments[segments.length - 1] ?? "");
  headers["content-length"] = length;
  if (req.method === "HEAD" || length === 0) {
    closeQuietly(fd);
    res.writeHead(status, headers).end();
    return;
  }
  if (length <= SMALL_BODY) sendSmall(res, fd, start, length, status, headers, onError);
  else sendStream(res, file, start, end, status, headers, onError);
}

function sendSmall(
  res: ServerResponse,
  fd: number,
  start: number,
  length: number,
  status: number,
  headers: OutgoingHttpHeaders,
  onError: (err: Error) => void,
): void {
  const body = Buffer.allocUnsafe(length);
  read(fd, body, 0, length, start, (err, bytesRead) => {
    closeQuietly(fd);
    if (err) {
      onError(err);
      return;
    }
    if (bytesRead !== length) {
      // The file shrank in place after fstat (publish never does this: it renames). Better a
      // broken connection the client retries than a body that does not match Content-Length.
      res.destroy();
      return;
    }
    res.writeHead(status, headers).end(body);
  });
}

function sendStream(
  res: ServerResponse,
  file: OpenedFile,
  start: number,
  end: number,
  status: number,
  headers: OutgoingHttpHeaders,
  onError: (err: Error) => void,
): void {
  // autoClose: the stream closes the descriptor when it ends, fails, or is destroyed because
  // the client went away (pipeline destroys it then).
  const stream = createReadStream(file.path, {
    fd: file.fd,
    start,
    end,
    highWaterMark: STREAM_CHUNK,
    autoClose: true,
  });
  res.writeHead(status, headers);
  pipeline(stream, res, (err) => {
    const expected = end - start + 1;
    if (err) {
      if (!res.destroyed) onError(err);
    } else if (stream.bytesRead !== expected) {
      res.destroy();
    }
  });
}

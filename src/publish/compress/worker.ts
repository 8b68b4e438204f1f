/**
 * Worker thread entry of the compression pool: compresses each section it is sent into one zstd
 * frame (content size recorded) and posts the frame back, transferring its memory.
 */
import { parentPort } from "node:worker_threads";
import { constants as zlibConstants, zstdCompressSync } from "node:zlib";
import type { CompressReply, CompressRequest } from "./pool.js";

const port = parentPort;
port?.on("message", (request: CompressRequest) => {
  let reply: CompressReply;
  try {
    const frame = zstdCompressSync(request.data, {
      params: {
        [zlibConstants.ZSTD_c_compressionLevel]: request.level,
        [zlibConstants.ZSTD_c_windowLog]: request.windowLog,
        [zlibConstants.ZSTD_c_checksumFlag]: 0,
        [zlibConstants.ZSTD_c_contentSizeFlag]: 1,
      },
    });
    const copy = new Uint8Array(frame.length);
    copy.set(frame);
    reply = { id: request.id, frame: copy };
    port.postMessage(reply, [copy.buffer]);
  } catch (err) {
    reply = { id: request.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
    port.postMessage(reply);
  }
});

/**
 * Reads a local file that Updraft treats as input (a pinned root, a key, release notes, a cached
 * document) without trusting its size: at most `maxBytes` are ever held in memory, so a path like
 * `/dev/zero` or a huge file is refused instead of exhausting memory. Works for pipes and
 * process substitutions too (`--root <(curl …)`), which have no size to `stat`.
 */
import { open } from "node:fs/promises";

/** Why {@link readCapped} refused a file. */
export class FileTooLargeError extends Error {
  constructor(
    readonly path: string,
    readonly maxBytes: number,
  ) {
    super(`${path} is larger than ${maxBytes} bytes`);
    this.name = "FileTooLargeError";
  }
}

/**
 * The bytes of `path`, or a {@link FileTooLargeError} when it holds more than `maxBytes`.
 * File system errors (ENOENT, EISDIR…) are thrown as they are, for the caller to phrase.
 */
export async function readCapped(path: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    // One byte more than allowed tells "exactly at the cap" from "over it".
    const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, maxBytes + 1));
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, maxBytes + 1 - total), null);
      if (bytesRead === 0) break;
      chunks.push(Buffer.from(chunk.subarray(0, bytesRead)));
      total += bytesRead;
      if (total > maxBytes) throw new FileTooLargeError(path, maxBytes);
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}

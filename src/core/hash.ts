/** SHA-256 helpers: every byte Updraft installs is checked against a signed sha256. */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";

/** Lower-case hex sha256 of a buffer or string. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Lower-case hex sha256 and byte length of a file, streamed (bounded memory). */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size };
}

/** Options of {@link writeHashedFile}. */
export interface WriteHashedOptions {
  /** Permission bits of the new file (before the umask; default 0o666). */
  mode?: number;
  /** fsync the file before closing it. */
  sync?: boolean;
  /** Sees each chunk before it is written; throws to stop (a size cap, a running checksum). */
  beforeWrite?: (chunk: Buffer) => void;
}

/**
 * Streams `chunks` into a new file at `path` (never over an existing one) and returns their
 * lower-case hex sha256 and byte length, so a file is checked in the same pass that writes it.
 */
export async function writeHashedFile(
  path: string,
  chunks: AsyncIterable<unknown>,
  options: WriteHashedOptions = {},
): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  const handle = await open(path, "wx", options.mode);
  try {
    for await (const chunk of chunks) {
      const bytes = chunk as Buffer;
      options.beforeWrite?.(bytes);
      hash.update(bytes);
      size += bytes.length;
      await handle.write(bytes);
    }
    if (options.sync) await handle.sync();
  } finally {
    await handle.close();
  }
  return { sha256: hash.digest("hex"), size };
}

/** True for a 64-character lower-case hex string. */
export function isSha256Hex(text: unknown): text is string {
  return typeof text === "string" && /^[0-9a-f]{64}$/.test(text);
}

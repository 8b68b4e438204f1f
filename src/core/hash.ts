/** SHA-256 helpers: every byte Updraft installs is checked against a signed sha256. */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

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

/** True for a 64-character lower-case hex string. */
export function isSha256Hex(text: unknown): text is string {
  return typeof text === "string" && /^[0-9a-f]{64}$/.test(text);
}

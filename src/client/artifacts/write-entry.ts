/**
 * Writes one archive entry's bytes to a new file inside the staging folder: never over an
 * existing file (`wx`), never more bytes than the entry declared, hashed. Not fsynced: these are
 * temporary sources, and the in-place engine makes its own durable copies before any swap.
 */
import { readdir } from "node:fs/promises";
import { dirname } from "node:path";
import { crc32 } from "node:zlib";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { ensureDir, safeJoin } from "../../core/fs.js";
import { writeHashedFile } from "../../core/hash.js";
import { type EntryGuard, refuseArchive, type StagedFile } from "./guard.js";

/** What is known of an entry before its bytes are read. */
export interface EntryToWrite {
  name: string;
  /** Declared unpacked size. */
  size: number;
  executable: boolean;
  /** Expected CRC-32 (zip), checked after the last byte. */
  crc32?: number;
}

/** Streams `body` into `dest/<entry.name>`; returns the staged file. */
export async function writeEntry(
  source: string,
  dest: string,
  entry: EntryToWrite,
  body: AsyncIterable<unknown>,
  guard: EntryGuard,
): Promise<StagedFile> {
  const file = safeJoin(dest, entry.name);
  await ensureDir(dirname(file));
  let crc = 0;
  let seen = 0;
  const { sha256, size } = await writeHashedFile(file, body, {
    mode: entry.executable ? 0o755 : 0o644,
    beforeWrite: (bytes) => {
      seen += bytes.length;
      if (seen > entry.size) refuseArchive(source, `"${entry.name}" holds more bytes than its declared ${entry.size}`);
      guard.addBytes(bytes.length);
      if (entry.crc32 !== undefined) crc = crc32(bytes, crc);
    },
  });
  if (size !== entry.size) refuseArchive(source, `"${entry.name}" holds ${size} bytes, not its declared ${entry.size}`);
  if (entry.crc32 !== undefined && crc !== entry.crc32 >>> 0) {
    refuseArchive(source, `"${entry.name}" fails its CRC-32 check (the download or the archive is damaged)`);
  }
  return { name: entry.name, file, size, sha256, executable: entry.executable };
}

/** Creates the staging folder, refusing one that already holds something. */
export async function prepareDest(dest: string): Promise<void> {
  await ensureDir(dest);
  if ((await readdir(dest)).length > 0) {
    throw new UpdraftError(ErrorCodes.INTERNAL, `The staging folder ${dest} is not empty`);
  }
}

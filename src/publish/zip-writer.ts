/**
 * Writes the zips legacy clients download (SAAU packages, python-autoupdate archives) with
 * `yazl`: entries in the given order, one fixed timestamp, Unix modes kept, so the same inputs
 * give the same bytes. Written to a temporary name and renamed into place.
 */
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import yazl from "yazl";
import { randomSuffix } from "../core/fs.js";
import { hashFile } from "../core/hash.js";

/** One zip entry: from a file on disk or from memory. */
export interface ZipEntry {
  name: string;
  sourcePath?: string;
  data?: Uint8Array;
  executable?: boolean;
}

/** Fixed timestamp of every entry (DOS dates start in 1980). */
const FIXED_MTIME = new Date(2000, 0, 1, 0, 0, 0);

/** Writes `entries` to `dest`; returns its size and sha256. */
export async function writeZip(dest: string, entries: ZipEntry[]): Promise<{ size: number; sha256: string }> {
  const zip = new yazl.ZipFile();
  for (const e of entries) {
    const options = { mtime: FIXED_MTIME, mode: e.executable ? 0o100755 : 0o100644, compress: true };
    if (e.sourcePath !== undefined) zip.addFile(e.sourcePath, e.name, options);
    else zip.addBuffer(Buffer.from(e.data ?? new Uint8Array()), e.name, options);
  }
  zip.end();
  const tmp = `${dest}.${randomSuffix()}.tmp`;
  try {
    await pipeline(zip.outputStream, createWriteStream(tmp));
    const info = await hashFile(tmp);
    await rename(tmp, dest);
    return info;
  } finally {
    await rm(tmp, { force: true });
  }
}

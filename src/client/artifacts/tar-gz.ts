/**
 * Reads a `.tar.gz` (python-autoupdate archives) into a staging folder through `tar-stream` and
 * `node:zlib`: every entry passes the {@link EntryGuard}, links and devices are refused, and the
 * decompressed stream itself is capped, so a gzip bomb or an endless pax header stops early.
 */
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import tar from "tar-stream";
import { ErrorCodes, toUpdraftError, UpdraftError } from "../../core/errors.js";
import { type ArchiveContents, EntryGuard, type EntryKind, type ReadArchiveOptions, refuseArchive } from "./guard.js";
import { prepareDest, writeEntry } from "./write-entry.js";

function kindOf(type: string | null | undefined): EntryKind {
  switch (type) {
    case "file":
    case "contiguous-file":
    case null:
    case undefined:
      return "file";
    case "directory":
      return "directory";
    case "symlink":
      return "symlink";
    case "link":
      return "hardlink";
    default:
      return "special";
  }
}

/** A pass-through that fails once more than `max` bytes went through. */
function byteCap(source: string, max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > max) {
        done(
          new UpdraftError(
            ErrorCodes.ARCHIVE_INVALID,
            `${source}: decompresses to more than ${max} bytes (a gzip bomb?)`,
          ),
        );
      } else done(null, chunk);
    },
  });
}

/** Strips the `./` prefixes tar tools commonly write (`./bin/app`). */
function stripDotSlash(name: string): string {
  let n = name;
  while (n.startsWith("./")) n = n.slice(2);
  return n;
}

/**
 * Reads `archivePath` into `options.dest`. Throws `ARCHIVE_INVALID` on the first bad entry; the
 * caller removes the staging folder. Nothing is written outside it.
 */
export async function readTarGz(archivePath: string, options: ReadArchiveOptions): Promise<ArchiveContents> {
  const source = basename(archivePath);
  const guard = new EntryGuard(source, options);
  await prepareDest(options.dest);
  const contents: ArchiveContents = { files: [], skipped: [], entries: 0 };
  // Headers take 512 bytes each (plus pax records); allow them on top of the content cap.
  const rawCap = guard.maxBytes + (guard.maxEntries + 2) * 4096;
  const extract = tar.extract();
  const feeding = pipeline(createReadStream(archivePath), createGunzip(), byteCap(source, rawCap), extract);
  feeding.catch(() => {}); // surfaced through the iteration below, or awaited after it
  try {
    for await (const entry of extract) {
      const header = entry.header;
      const kind = kindOf(header.type);
      const raw = stripDotSlash(header.name);
      if (raw === "" && kind === "directory") {
        entry.resume();
        continue;
      }
      const name = guard.admit(raw, kind, header.linkname ?? undefined);
      const size = header.size ?? 0;
      if (kind !== "file") {
        entry.resume();
        continue;
      }
      if (options.select && !options.select(name)) {
        guard.addBytes(size); // still decompressed, so still counted
        contents.skipped.push(name);
        entry.resume();
        continue;
      }
      if (size > guard.maxBytes)
        refuseArchive(source, `"${name}" declares ${size} bytes, more than the ${guard.maxBytes} expected`);
      const executable = ((header.mode ?? 0) & 0o111) !== 0;
      contents.files.push(await writeEntry(source, options.dest, { name, size, executable }, entry, guard));
    }
    await feeding;
  } catch (err) {
    extract.destroy();
    if (err instanceof UpdraftError) throw err;
    const e = toUpdraftError(err, ErrorCodes.ARCHIVE_INVALID, source);
    if (e.code !== ErrorCodes.ARCHIVE_INVALID) throw e;
    refuseArchive(source, `is damaged (${(err as Error).message})`);
  }
  contents.entries = guard.entries;
  return contents;
}

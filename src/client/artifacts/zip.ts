/**
 * Reads a zip (SAAU packages, python-autoupdate archives) into a staging folder through `yauzl`,
 * entry by entry from the central directory: every name passes the {@link EntryGuard}, the local
 * header must carry the same name, links and devices are refused, encrypted or unknown compression
 * is refused, sizes are capped and every written file's CRC-32 is checked.
 */
import { basename } from "node:path";
import yauzl from "yauzl";
import { ErrorCodes, toUpdraftError, UpdraftError } from "../../core/errors.js";
import { type ArchiveContents, EntryGuard, type EntryKind, type ReadArchiveOptions, refuseArchive } from "./guard.js";
import { prepareDest, writeEntry } from "./write-entry.js";

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** The kind of a zip entry from its name and external attributes. */
function kindOf(entry: yauzl.Entry, name: string): { kind: EntryKind; executable: boolean } {
  const madeBy = entry.versionMadeBy >>> 8;
  const unixMode = madeBy === 3 || madeBy === 19 ? entry.externalFileAttributes >>> 16 : 0;
  const type = unixMode & S_IFMT;
  if (name.endsWith("/") || type === S_IFDIR || (entry.externalFileAttributes & 0x10) !== 0) {
    return { kind: "directory", executable: false };
  }
  if (type === S_IFLNK) return { kind: "symlink", executable: false };
  if (type !== 0 && type !== S_IFREG) return { kind: "special", executable: false };
  return { kind: "file", executable: (unixMode & 0o111) !== 0 };
}

async function readStream(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<AsyncIterable<unknown>> {
  const stream = await zip.openReadStreamPromise(entry);
  // The iteration reports the first error; a second one emitted while the stream is torn down
  // must not crash the process.
  stream.on("error", () => {});
  return stream;
}

async function linkTarget(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<string> {
  if (entry.uncompressedSize > 4096) return "";
  const chunks: Buffer[] = [];
  for await (const c of await readStream(zip, entry)) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Reads `zipPath` into `options.dest`. Throws `ARCHIVE_INVALID` on the first bad entry; the
 * caller removes the staging folder. Nothing is written outside it.
 */
export async function readZip(zipPath: string, options: ReadArchiveOptions): Promise<ArchiveContents> {
  const source = basename(zipPath);
  const guard = new EntryGuard(source, options);
  await prepareDest(options.dest);
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(zipPath, {
      lazyEntries: true,
      decodeStrings: false,
      validateEntrySizes: true,
      autoClose: false,
      strictFileNames: true,
    });
  } catch (err) {
    return refuseArchive(source, `is not a readable zip (${(err as Error).message})`);
  }
  const contents: ArchiveContents = { files: [], skipped: [], entries: 0 };
  try {
    guard.announceEntries(zip.entryCount);
    for await (const entry of zip.eachEntry()) {
      const raw = entry.fileNameRaw;
      const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, raw, entry.extraFields, true);
      const { kind, executable } = kindOf(entry, name);
      const target = kind === "symlink" ? await linkTarget(zip, entry) : undefined;
      const clean = guard.admit(name, kind, target);
      if (kind !== "file") continue;
      const local = await zip.readLocalFileHeaderPromise(entry);
      if (!Buffer.from(local.fileName).equals(raw)) {
        refuseArchive(source, `"${clean}" has another name in its local header (a zip trick)`);
      }
      if (entry.isEncrypted()) refuseArchive(source, `"${clean}" is encrypted`);
      if (!entry.canDecodeFileData()) {
        refuseArchive(
          source,
          `"${clean}" uses compression method ${entry.compressionMethod}; only stored and deflate are read`,
        );
      }
      if (options.select && !options.select(clean)) {
        contents.skipped.push(clean);
        continue;
      }
      if (entry.uncompressedSize > guard.maxBytes) {
        refuseArchive(
          source,
          `"${clean}" declares ${entry.uncompressedSize} bytes, more than the ${guard.maxBytes} expected`,
        );
      }
      contents.files.push(
        await writeEntry(
          source,
          options.dest,
          { name: clean, size: entry.uncompressedSize, executable, crc32: entry.crc32 },
          await readStream(zip, entry),
          guard,
        ),
      );
    }
  } catch (err) {
    if (err instanceof UpdraftError) throw err;
    const e = toUpdraftError(err, ErrorCodes.ARCHIVE_INVALID, source);
    if (e.code !== ErrorCodes.ARCHIVE_INVALID) throw e;
    refuseArchive(source, `is damaged (${(err as Error).message})`);
  } finally {
    zip.close();
  }
  contents.entries = guard.entries;
  return contents;
}

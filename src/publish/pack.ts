/**
 * Turns a build folder into a release: walks it into a file list (path, size, sha256, mode,
 * in-tree symlinks) and writes the deterministic `tar.zst` of docs/format.md (ustar entries in
 * manifest order, mtime 0, uid/gid 0, no user/group names, one zstd frame from node:zlib),
 * streamed so memory stays bounded whatever the build's size.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { closeSync, createWriteStream, lstatSync, openSync, readFileSync, readlinkSync, readSync } from "node:fs";
import { type FileHandle, open, readdir } from "node:fs/promises";
import { join } from "node:path";
import { Transform, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createZstdCompress, constants as zlibConstants } from "node:zlib";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { assertSafeRelativePath, removePath } from "../core/fs.js";
import { hashFile, sha256Hex } from "../core/hash.js";
import { type ManifestFile, type ManifestSymlink, symlinkStaysInside } from "../formats/native.js";
import { encodeTarHeader, TAR_END, type TarEntryHeader, tarPadding } from "./tar-encode.js";

/** Default zstd level of full archives. */
export const DEFAULT_ZSTD_LEVEL = 19;

/** A file added to the release from memory (the embedded `updraft.json`, `updraft-root.json`). */
export interface ExtraFile {
  /** POSIX relative path inside the release. */
  path: string;
  data: Uint8Array;
  /** Default 0o644. */
  mode?: 0o644 | 0o755;
}

/** One regular file of a release and where its bytes come from. */
export interface PackFile extends ManifestFile {
  /** Absolute path of the file in the build folder, or undefined for an in-memory file. */
  sourcePath?: string;
  /** Content of an in-memory file. */
  data?: Uint8Array;
}

/** Everything a release holds, sorted by path (byte order). */
export interface BuildContents {
  files: PackFile[];
  symlinks: ManifestSymlink[];
  /** Sum of file sizes. */
  totalBytes: number;
}

/** Byte-order comparison of two paths (UTF-8), the order of manifests and archives. */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function buildInvalid(message: string, hint?: string, cause?: unknown): UpdraftError {
  return new UpdraftError(ErrorCodes.BUILD_INVALID, message, {
    ...(hint ? { hint } : {}),
    ...(cause === undefined ? {} : { cause }),
  });
}

function checkPath(path: string): void {
  try {
    assertSafeRelativePath(path, "build path");
  } catch (err) {
    throw buildInvalid(
      (err as Error).message,
      "Rename the file: release paths must be valid on Windows, macOS and Linux.",
      err,
    );
  }
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A file name read as raw bytes, decoded as UTF-8. Release paths are UTF-8 on every OS; a name in
 * another encoding (Latin-1 from an old archive, say) cannot be represented, so it is refused with
 * the folder and the name's bytes, rather than read under a replaced name that does not exist.
 */
function utf8Name(raw: Buffer, folder: string): string {
  try {
    return strictUtf8.decode(raw);
  } catch (err) {
    const shown = [...raw]
      .map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`))
      .join("");
    throw buildInvalid(
      `The file name "${shown}" in ${folder === "" ? "the build folder" : `"${folder}"`} is not valid UTF-8`,
      "Rename the file to a UTF-8 name (for example with `convmv -f latin1 -t utf8 --notest`): release paths must be UTF-8 to work on every OS.",
      err,
    );
  }
}

/** Mode recorded for a file: 0o755 if any execute bit is set, else 0o644. */
export function manifestMode(statMode: number): 0o755 | 0o644 {
  return (statMode & 0o111) !== 0 ? 0o755 : 0o644;
}

/** Entries of one folder scanned at once. */
const SCAN_BATCH = 32;
/** Files up to this size are hashed from one read instead of a stream. */
const SMALL_FILE_BYTES = 256 * 1024;

/**
 * One entry of the build folder: a folder to walk, a file with its hash, or an in-tree symlink.
 * Its stat and a small file's read are synchronous (microseconds each; a promise per call cost
 * more than the call on trees of tiny files); only a large file is hashed as a stream.
 */
async function scanEntry(
  path: string,
  full: string,
): Promise<{ folder: string } | { file: PackFile } | { link: ManifestSymlink }> {
  const st = lstatSync(full);
  if (st.isDirectory()) return { folder: path };
  if (st.isFile()) {
    let hashed: { sha256: string; size: number };
    if (st.size <= SMALL_FILE_BYTES) {
      const data = readFileSync(full);
      hashed = { sha256: sha256Hex(data), size: data.length };
    } else hashed = await hashFile(full);
    return { file: { path, size: hashed.size, sha256: hashed.sha256, mode: manifestMode(st.mode), sourcePath: full } };
  }
  if (st.isSymbolicLink()) {
    const target = readlinkSync(full);
    if (!symlinkStaysInside(path, target)) {
      throw buildInvalid(
        `Symlink "${path}" points to "${target}", outside the build folder`,
        "Make the link relative and inside the build, or copy the file it points to.",
      );
    }
    return { link: { path, target } };
  }
  throw buildInvalid(
    `"${path}" is a FIFO, socket or device; a release holds only files, folders and symlinks`,
    "Remove it from the build folder.",
  );
}

/**
 * Walks `buildDir` into a sorted file list with sizes, hashes and modes, plus in-tree symlinks,
 * and adds `extraFiles`. Refuses (`BUILD_INVALID`) symlinks leaving the tree, FIFOs, sockets,
 * devices, unsafe paths and paths that collide on case-insensitive file systems.
 */
export async function scanBuild(buildDir: string, extraFiles: readonly ExtraFile[] = []): Promise<BuildContents> {
  const files: PackFile[] = [];
  const symlinks: ManifestSymlink[] = [];
  const pending: string[] = [""];
  while (pending.length > 0) {
    const rel = pending.pop()!;
    const dir = rel === "" ? buildDir : join(buildDir, ...rel.split("/"));
    let rawNames: Buffer[];
    try {
      rawNames = await readdir(dir, { encoding: "buffer" });
    } catch (err) {
      throw buildInvalid(`Cannot read build folder ${dir}: ${(err as Error).message}`, undefined, err);
    }
    const names = rawNames.map((raw) => {
      const name = utf8Name(raw, rel);
      const path = rel === "" ? name : `${rel}/${name}`;
      checkPath(path);
      return { path, full: join(dir, name) };
    });
    // A few entries at a time: tiny files are dominated by system-call latency, not bandwidth.
    for (let at = 0; at < names.length; at += SCAN_BATCH) {
      const settled = await Promise.allSettled(names.slice(at, at + SCAN_BATCH).map((n) => scanEntry(n.path, n.full)));
      for (const result of settled) {
        if (result.status === "rejected") throw result.reason; // the first failure in name order
        const entry = result.value;
        if ("folder" in entry) pending.push(entry.folder);
        else if ("file" in entry) files.push(entry.file);
        else symlinks.push(entry.link);
      }
    }
  }
  for (const extra of extraFiles) {
    checkPath(extra.path);
    files.push({
      path: extra.path,
      size: extra.data.byteLength,
      sha256: sha256Hex(extra.data),
      mode: extra.mode ?? 0o644,
      data: extra.data,
    });
  }
  files.sort((a, b) => comparePaths(a.path, b.path));
  symlinks.sort((a, b) => comparePaths(a.path, b.path));
  const seen = new Map<string, string>();
  for (const { path } of [...files, ...symlinks]) {
    const folded = path.normalize("NFC").toLowerCase();
    const other = seen.get(folded);
    if (other !== undefined) {
      throw buildInvalid(
        other === path
          ? `"${path}" appears twice in the release`
          : `"${path}" and "${other}" collide on case-insensitive file systems (Windows, macOS)`,
        "Rename one of them.",
      );
    }
    seen.set(folded, path);
  }
  return { files, symlinks, totalBytes: files.reduce((sum, f) => sum + f.size, 0) };
}

/** Entries of the archive in manifest order: files and symlinks merged by path. */
function archiveOrder(contents: BuildContents): ({ file: PackFile } | { link: ManifestSymlink })[] {
  const entries = [
    ...contents.files.map((file) => ({ path: file.path, entry: { file } })),
    ...contents.symlinks.map((link) => ({ path: link.path, entry: { link } })),
  ];
  entries.sort((a, b) => comparePaths(a.path, b.path));
  return entries.map((e) => e.entry);
}

/** Progress of archive writing, in uncompressed bytes. */
export interface PackProgress {
  bytesDone: number;
  bytesTotal: number;
}

/** Options of {@link writeArchive}. */
export interface WriteArchiveOptions {
  /** zstd compression level (1–22), default {@link DEFAULT_ZSTD_LEVEL}. */
  level?: number;
  onProgress?: (progress: PackProgress) => void;
}

/** The written archive. */
export interface ArchiveInfo {
  size: number;
  sha256: string;
}

/** Bytes read from a file at once. */
const READ_BYTES = 1024 * 1024;
/**
 * Largest zstd window of a full archive (32 MiB, what a client's decoder reserves at most; small
 * archives get a window of their own size): level 19's own 8 MiB misses repeats further apart (a
 * bundle and its copy), which made archives a third larger and slower to compress.
 */
const MAX_WINDOW_LOG = 25;
/**
 * zstd search depth of an archive that is mostly tar headers and padding (a tree of tiny files).
 * Level 19's own depth (7) finds nothing more in that near-identical repetition but costs 3× the
 * time: on 50,000 tiny files it made the archive 0.02% smaller in 2.8× the time; on 20,000
 * small JSON files, 0.02% smaller in 1.4× the time.
 */
const HEADER_DOMINATED_SEARCH_LOG = 5;
/** From this level on, zstd's own search depth is deeper than {@link HEADER_DOMINATED_SEARCH_LOG}. */
const DEEP_SEARCH_LEVEL = 19;

async function readRange(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(out, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return out.subarray(0, done);
}

/** Exact size of the tar stream of `entries`: headers, data padded to 512 bytes, and the end blocks. */
function tarSize(entries: readonly TarEntryHeader[]): number {
  return entries.reduce(
    (sum, h) => sum + encodeTarHeader(h).length + h.size + tarPadding(h.size).length,
    TAR_END.length,
  );
}

function changedWhilePacking(file: PackFile): UpdraftError {
  return buildInvalid(
    `"${file.path}" changed while it was being packed`,
    "Do not modify the build folder while publishing.",
  );
}

/** Writes `data` to the compressor, waiting for it to drain when its buffer is full. */
async function feed(compressor: Writable, data: Uint8Array): Promise<void> {
  if (data.length > 0 && !compressor.write(data)) await once(compressor, "drain");
}

/** Small pieces (headers, tiny files, padding) are gathered into writes of this size. */
const BATCH_BYTES = 256 * 1024;

/**
 * Gathers the small pieces of the tar stream into larger writes: node:zlib compresses each write
 * as its own job in the thread pool, and a tree of tiny files makes three pieces per file.
 */
class BatchedFeed {
  private pieces: Uint8Array[] = [];
  private bytes = 0;

  constructor(private readonly compressor: Writable) {}

  /** Adds `data` to the stream (large pieces go through at once, after what is gathered). */
  async add(data: Uint8Array): Promise<void> {
    if (data.length >= BATCH_BYTES) {
      await this.flush();
      await feed(this.compressor, data);
      return;
    }
    this.pieces.push(data);
    this.bytes += data.length;
    if (this.bytes >= BATCH_BYTES) await this.flush();
  }

  /** Writes what is gathered. */
  async flush(): Promise<void> {
    if (this.bytes === 0) return;
    const batch = Buffer.concat(this.pieces, this.bytes);
    this.pieces = [];
    this.bytes = 0;
    await feed(this.compressor, batch);
  }
}

/**
 * A small file's bytes, read synchronously in one go (one more byte is asked for, so a file that
 * grew since the scan is noticed).
 */
function readSmallFile(path: string, size: number): Buffer {
  const out = Buffer.allocUnsafe(size + 1);
  const fd = openSync(path, "r");
  try {
    let done = 0;
    while (done < out.length) {
      const n = readSync(fd, out, done, out.length - done, done);
      if (n === 0) break;
      done += n;
    }
    return out.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

/** Feeds one file's data and padding, checking it still has the scanned size and sha256. */
async function feedFileData(compressor: BatchedFeed, file: PackFile, onBytes: (n: number) => void): Promise<void> {
  if (file.data) {
    await compressor.add(file.data);
    onBytes(file.size);
  } else if (file.size <= SMALL_FILE_BYTES) {
    const data = readSmallFile(file.sourcePath!, file.size);
    if (data.length !== file.size || sha256Hex(data) !== file.sha256) throw changedWhilePacking(file);
    await compressor.add(data);
    onBytes(file.size);
  } else {
    const hash = createHash("sha256");
    const handle = await open(file.sourcePath!, "r");
    try {
      let read = 0;
      while (read < file.size) {
        const chunk = await readRange(handle, read, Math.min(READ_BYTES, file.size - read));
        if (chunk.length === 0) break;
        read += chunk.length;
        hash.update(chunk);
        await compressor.add(chunk);
        onBytes(chunk.length);
      }
      const grew = (await readRange(handle, read, 1)).length > 0;
      if (grew || read !== file.size || hash.digest("hex") !== file.sha256) throw changedWhilePacking(file);
    } finally {
      await handle.close();
    }
  }
  await compressor.add(tarPadding(file.size));
}

/** Headers of the archive's entries, in manifest order. */
function entryHeaders(contents: BuildContents): { header: TarEntryHeader; file?: PackFile }[] {
  return archiveOrder(contents).map((item) =>
    "link" in item
      ? { header: { name: item.link.path, type: "symlink", mode: 0o755, size: 0, linkname: item.link.target } }
      : { header: { name: item.file.path, type: "file", mode: item.file.mode, size: item.file.size }, file: item.file },
  );
}

/**
 * Writes the deterministic `tar.zst` of `contents` to `outPath` (created, never overwritten) and
 * returns its size and sha256. Source files are re-hashed while packing: a file that changed since
 * {@link scanBuild} fails with `BUILD_INVALID`. The archive is one zstd frame (clients' streaming
 * decoders in node:zlib fail on a second frame), compressed by one thread: node:zlib's streaming
 * zstd cannot run its own workers (`ZSTD_c_nbWorkers` breaks at the end of the stream). The file
 * is fsynced before this resolves.
 */
export async function writeArchive(
  contents: BuildContents,
  outPath: string,
  options: WriteArchiveOptions = {},
): Promise<ArchiveInfo> {
  const level = options.level ?? DEFAULT_ZSTD_LEVEL;
  if (!Number.isInteger(level) || level < 1 || level > 22) {
    throw new UpdraftError(ErrorCodes.USAGE, `Invalid zstd level ${level}`, { hint: "Give a level from 1 to 22." });
  }
  const entries = entryHeaders(contents);
  const total = tarSize(entries.map((e) => e.header));
  // Headers and padding are more than half the tar when the files average under ~1 KiB.
  const headerDominated = contents.totalBytes * 2 < total;
  const compressor = createZstdCompress({
    // No pledgedSrcSize: zstd ends the frame itself when it is reached, and node:zlib's end()
    // then appends an empty second frame, which clients' streaming decoders do not read.
    params: {
      [zlibConstants.ZSTD_c_compressionLevel]: level,
      [zlibConstants.ZSTD_c_windowLog]: Math.max(10, Math.min(MAX_WINDOW_LOG, Math.ceil(Math.log2(total)))),
      ...(headerDominated && level >= DEEP_SEARCH_LEVEL
        ? { [zlibConstants.ZSTD_c_searchLog]: HEADER_DOMINATED_SEARCH_LOG }
        : {}),
    },
  });
  const hash = createHash("sha256");
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const written = pipeline(compressor, tap, createWriteStream(outPath, { flags: "wx", flush: true }));
  written.catch(() => undefined); // awaited below, or after a failure
  let bytesDone = 0;
  const onBytes = (n: number) => {
    bytesDone += n;
    options.onProgress?.({ bytesDone, bytesTotal: contents.totalBytes });
  };
  const batched = new BatchedFeed(compressor);
  try {
    for (const { header, file } of entries) {
      await batched.add(encodeTarHeader(header));
      if (file) await feedFileData(batched, file, onBytes);
    }
    await batched.add(TAR_END);
    await batched.flush();
    compressor.end();
    await written;
  } catch (err) {
    compressor.destroy(err as Error);
    await written.catch(() => undefined);
    await removePath(outPath);
    throw err;
  }
  return { size, sha256: hash.digest("hex") };
}

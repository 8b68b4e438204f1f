/**
 * Turns a build folder into a release: walks it into a file list (path, size, sha256, mode,
 * in-tree symlinks) and writes the deterministic `tar.zst` of docs/format.md (ustar entries in
 * manifest order, mtime 0, uid/gid 0, no user/group names, zstd from node:zlib in independent
 * frames compressed on every core), streamed so memory stays bounded whatever the build's size.
 */
import { createHash } from "node:crypto";
import { type FileHandle, lstat, open, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { constants as zlibConstants, zstdCompressSync } from "node:zlib";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { assertSafeRelativePath, removePath } from "../core/fs.js";
import { hashFile, sha256Hex } from "../core/hash.js";
import { type ManifestFile, type ManifestSymlink, symlinkStaysInside } from "../formats/native.js";
import { CompressPool } from "./compress/pool.js";
import { encodeTarHeader, TAR_END, tarPadding } from "./tar-encode.js";

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
    for (const raw of rawNames) {
      const name = utf8Name(raw, rel);
      const path = rel === "" ? name : `${rel}/${name}`;
      checkPath(path);
      const full = join(dir, name);
      const st = await lstat(full);
      if (st.isDirectory()) pending.push(path);
      else if (st.isFile()) {
        const { sha256, size } = await hashFile(full);
        files.push({ path, size, sha256, mode: manifestMode(st.mode), sourcePath: full });
      } else if (st.isSymbolicLink()) {
        const target = await readlink(full);
        if (!symlinkStaysInside(path, target)) {
          throw buildInvalid(
            `Symlink "${path}" points to "${target}", outside the build folder`,
            "Make the link relative and inside the build, or copy the file it points to.",
          );
        }
        symlinks.push({ path, target });
      } else {
        throw buildInvalid(
          `"${path}" is a FIFO, socket or device; a release holds only files, folders and symlinks`,
          "Remove it from the build folder.",
        );
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
  /** Compression threads; default one per core. Does not change the archive's bytes. */
  concurrency?: number;
}

/** The written archive. */
export interface ArchiveInfo {
  size: number;
  sha256: string;
}

/** Bytes of the tar stream per zstd frame, as `zstd -T0` cuts its jobs at level 19 (2^25). */
export const SECTION_BYTES = 32 * 1024 * 1024;
/** Files at least this large are sampled for compressibility; smaller ones just follow the level. */
const SAMPLE_MIN_FILE_BYTES = 1024 * 1024;
/** Bytes compressed at each of a sampled file's three probe points. */
const SAMPLE_BYTES = 64 * 1024;
/** A sample compressing to more than this share of its size marks the file incompressible. */
const INCOMPRESSIBLE_RATIO = 0.95;
/** Level of incompressible files' sections: zstd stores their blocks raw, fast. */
const STORED_LEVEL = 1;
/** Bytes read from a file at once. */
const READ_BYTES = 1024 * 1024;

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

/**
 * True if `file` (at least {@link SAMPLE_MIN_FILE_BYTES}) barely compresses: three samples
 * (start, middle, end) at level 1 all stay above {@link INCOMPRESSIBLE_RATIO} of their size.
 * Already-compressed media and archives are the usual case; level 19 would burn minutes on them.
 */
async function isIncompressible(file: PackFile): Promise<boolean> {
  if (file.size < SAMPLE_MIN_FILE_BYTES || file.sourcePath === undefined) return false;
  const handle = await open(file.sourcePath, "r");
  try {
    for (const at of [0, Math.floor((file.size - SAMPLE_BYTES) / 2), file.size - SAMPLE_BYTES]) {
      const sample = await readRange(handle, at, SAMPLE_BYTES);
      const packed = zstdCompressSync(sample, { params: { [zlibConstants.ZSTD_c_compressionLevel]: 1 } });
      if (packed.length <= sample.length * INCOMPRESSIBLE_RATIO) return false;
    }
    return true;
  } finally {
    await handle.close();
  }
}

/**
 * Cuts the tar stream into sections, compresses each into one zstd frame in the pool and writes
 * the frames in order. A section ends every {@link SECTION_BYTES} bytes and where the level
 * changes, so the cuts depend only on the bytes: the same tree gives the same archive.
 */
class FrameWriter {
  private parts: Buffer[] = [];
  private length = 0;
  private level: number;
  private readonly pending: Promise<Buffer>[] = [];
  private readonly hash = createHash("sha256");
  size = 0;

  constructor(
    private readonly pool: CompressPool,
    private readonly out: FileHandle,
    private readonly baseLevel: number,
  ) {
    this.level = baseLevel;
  }

  /** Appends tar bytes to compress at `level` (default: the archive's level). */
  async append(data: Buffer, level = this.baseLevel): Promise<void> {
    if (level !== this.level) {
      await this.cut();
      this.level = level;
    }
    let rest = data;
    while (rest.length > 0) {
      const take = Math.min(rest.length, SECTION_BYTES - this.length);
      this.parts.push(rest.subarray(0, take));
      this.length += take;
      rest = rest.subarray(take);
      if (this.length === SECTION_BYTES) await this.cut();
    }
  }

  /** Writes every frame; resolves once the file is complete (not yet fsynced). */
  async finish(): Promise<{ size: number; sha256: string }> {
    await this.cut();
    while (this.pending.length > 0) await this.writeNext();
    return { size: this.size, sha256: this.hash.digest("hex") };
  }

  private async cut(): Promise<void> {
    if (this.length === 0) return;
    // A copy in memory of its own (not Node's shared Buffer pool): the pool transfers it to a worker.
    const section = new Uint8Array(this.length);
    let at = 0;
    for (const part of this.parts) {
      section.set(part, at);
      at += part.length;
    }
    this.parts = [];
    this.length = 0;
    const frame = this.pool.compress(section, this.level);
    frame.catch(() => undefined); // awaited in order by writeNext
    this.pending.push(frame);
    // Bounded memory: at most one section per worker in flight, plus the one being filled.
    while (this.pending.length > this.pool.size) await this.writeNext();
  }

  private async writeNext(): Promise<void> {
    const frame = await this.pending.shift()!;
    this.hash.update(frame);
    this.size += frame.length;
    let at = 0;
    while (at < frame.length) at += (await this.out.write(frame, at, frame.length - at)).bytesWritten;
  }
}

function changedWhilePacking(file: PackFile): UpdraftError {
  return buildInvalid(
    `"${file.path}" changed while it was being packed`,
    "Do not modify the build folder while publishing.",
  );
}

/** Appends one file's data and padding, checking it still has the scanned size and sha256. */
async function appendFileData(frames: FrameWriter, file: PackFile, level: number, onBytes: (n: number) => void) {
  const hash = createHash("sha256");
  if (file.data) {
    await frames.append(Buffer.from(file.data), level);
    onBytes(file.size);
  } else {
    const handle = await open(file.sourcePath!, "r");
    try {
      let read = 0;
      while (read < file.size) {
        const chunk = await readRange(handle, read, Math.min(READ_BYTES, file.size - read));
        if (chunk.length === 0) break;
        read += chunk.length;
        hash.update(chunk);
        onBytes(chunk.length);
        await frames.append(chunk, level);
      }
      const grew = (await readRange(handle, read, 1)).length > 0;
      if (grew || read !== file.size || hash.digest("hex") !== file.sha256) throw changedWhilePacking(file);
    } finally {
      await handle.close();
    }
  }
  await frames.append(tarPadding(file.size), level);
}

/**
 * Writes the deterministic `tar.zst` of `contents` to `outPath` (created, never overwritten) and
 * returns its size and sha256. Source files are re-hashed while packing: a file that changed since
 * {@link scanBuild} fails with `BUILD_INVALID`. The tar stream is compressed in sections of
 * {@link SECTION_BYTES}, one zstd frame each, on every core; large files that do not compress are
 * stored at level 1 in frames of their own. The file is fsynced before this resolves.
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
  const out = await open(outPath, "wx");
  const pool = new CompressPool(options.concurrency);
  let bytesDone = 0;
  const onBytes = (n: number) => {
    bytesDone += n;
    options.onProgress?.({ bytesDone, bytesTotal: contents.totalBytes });
  };
  try {
    const frames = new FrameWriter(pool, out, level);
    for (const item of archiveOrder(contents)) {
      if ("link" in item) {
        await frames.append(
          encodeTarHeader({ name: item.link.path, type: "symlink", mode: 0o755, size: 0, linkname: item.link.target }),
        );
        continue;
      }
      const { file } = item;
      await frames.append(encodeTarHeader({ name: file.path, type: "file", mode: file.mode, size: file.size }));
      const dataLevel = level > STORED_LEVEL && (await isIncompressible(file)) ? STORED_LEVEL : level;
      await appendFileData(frames, file, dataLevel, onBytes);
    }
    await frames.append(TAR_END);
    const info = await frames.finish();
    await out.sync();
    await out.close();
    return info;
  } catch (err) {
    await out.close().catch(() => undefined);
    await removePath(outPath);
    throw err;
  } finally {
    await pool.close();
  }
}

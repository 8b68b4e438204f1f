/**
 * Turns a build folder into a release: walks it into a file list (path, size, sha256, mode,
 * in-tree symlinks) and writes the deterministic `tar.zst` of docs/format.md (ustar entries in
 * manifest order, mtime 0, uid/gid 0, no user/group names, zstd from node:zlib), streamed so
 * memory stays bounded whatever the build's size.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createZstdCompress, constants as zlibConstants } from "node:zlib";
import tar from "tar-stream";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { assertSafeRelativePath, removePath } from "../core/fs.js";
import { hashFile, sha256Hex } from "../core/hash.js";
import { type ManifestFile, type ManifestSymlink, symlinkStaysInside } from "../formats/native.js";

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
}

/** The written archive. */
export interface ArchiveInfo {
  size: number;
  sha256: string;
}

const FIXED_HEADER = { mtime: new Date(0), uid: 0, gid: 0, uname: "", gname: "" } as const;

async function streamFileEntry(pack: tar.Pack, file: PackFile, onBytes: (n: number) => void): Promise<void> {
  let settle!: (err?: Error | null) => void;
  const entryDone = new Promise<void>((res, rej) => {
    settle = (err) => (err ? rej(err) : res());
  });
  entryDone.catch(() => undefined); // awaited below; this only keeps an early throw from leaving it unhandled
  const header = { ...FIXED_HEADER, name: file.path, type: "file", mode: file.mode, size: file.size } as const;
  const entry = pack.entry(header, (err) => settle(err));
  entry.on("error", () => undefined); // reported through the callback above
  const hash = createHash("sha256");
  let read = 0;
  for await (const chunk of createReadStream(file.sourcePath!, { highWaterMark: 1 << 20 })) {
    const buf = chunk as Buffer;
    read += buf.length;
    if (read > file.size) break;
    hash.update(buf);
    onBytes(buf.length);
    if (!entry.write(buf)) await new Promise<void>((res) => entry.once("drain", () => res()));
  }
  if (read !== file.size || hash.digest("hex") !== file.sha256) {
    const err = buildInvalid(
      `"${file.path}" changed while it was being packed`,
      "Do not modify the build folder while publishing.",
    );
    entry.destroy(err);
    throw err;
  }
  entry.end(undefined); // streamx typings require an argument; undefined ends without data
  await entryDone;
}

function addEntry(pack: tar.Pack, header: Partial<tar.Header> & { name: string }, data?: Uint8Array): Promise<void> {
  return new Promise((res, rej) => {
    const cb = (err?: Error | null) => (err ? rej(err) : res());
    if (data) pack.entry(header, data, cb);
    else pack.entry(header, cb);
  });
}

/**
 * Writes the deterministic `tar.zst` of `contents` to `outPath` (created, never overwritten) and
 * returns its size and sha256. Source files are re-hashed while packing: a file that changed since
 * {@link scanBuild} fails with `BUILD_INVALID`. The file is fsynced before this resolves.
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
  const pack = tar.pack();
  const hash = createHash("sha256");
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const written = pipeline(
    pack,
    createZstdCompress({ params: { [zlibConstants.ZSTD_c_compressionLevel]: level } }),
    tap,
    createWriteStream(outPath, { flags: "wx", flush: true }),
  );
  let bytesDone = 0;
  const onBytes = (n: number) => {
    bytesDone += n;
    options.onProgress?.({ bytesDone, bytesTotal: contents.totalBytes });
  };
  try {
    for (const item of archiveOrder(contents)) {
      if ("link" in item) {
        await addEntry(pack, {
          ...FIXED_HEADER,
          name: item.link.path,
          type: "symlink",
          linkname: item.link.target,
          mode: 0o755,
        });
      } else if (item.file.data) {
        await addEntry(
          pack,
          { ...FIXED_HEADER, name: item.file.path, type: "file", mode: item.file.mode },
          item.file.data,
        );
        onBytes(item.file.size);
      } else await streamFileEntry(pack, item.file, onBytes);
    }
    pack.finalize();
    await written;
  } catch (err) {
    pack.destroy(err as Error);
    await written.catch(() => undefined);
    await removePath(outPath);
    throw err;
  }
  return { size, sha256: hash.digest("hex") };
}

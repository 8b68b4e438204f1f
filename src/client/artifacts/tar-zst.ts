/**
 * Unpacks a release's `tar.zst` into a fresh staging folder, accepting only what the signed
 * manifest lists: every entry is checked for name, type, size, mode and sha256 while it is
 * written, nothing is ever written outside the staging folder, and a file that is unchanged from
 * the installed version is hard-linked from it instead of written again.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  createReadStream,
  fchmodSync,
  fstatSync,
  linkSync,
  mkdirSync,
  openSync,
  symlinkSync,
  writeSync,
} from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { pipeline } from "node:stream/promises";
import { createZstdDecompress } from "node:zlib";
import tar from "tar-stream";
import { ErrorCodes, type Fail, failWith, toUpdraftError, UpdraftError } from "../../core/errors.js";
import { DIR_MODE } from "../../core/fs.js";
import { hashFile } from "../../core/hash.js";
import type { ManifestFile, ManifestSymlink, ReleaseManifest } from "../../formats/native.js";
import { underRoot } from "./delta/paths.js";
import { identityOfStats, statIdentity } from "./delta/tree-check.js";
import { syncTree } from "./sync-tree.js";

/** A file of the installed version that may be reused when unchanged. */
export interface ReusableFile {
  absolutePath: string;
  sha256: string;
  mode: number;
}

/** Counters of one extraction. */
export interface ExtractStats {
  written: number;
  linked: number;
  bytesWritten: number;
  /**
   * Stat identity of every file extracted, by path (see tree-check.ts), taken as each was
   * written, so recording the new tree's cache needs no second pass over it.
   */
  identities?: Map<string, string>;
}

const refuse: Fail = failWith(
  ErrorCodes.ARCHIVE_INVALID,
  "The archive does not match its signed manifest. Nothing was installed.",
);

/** Writes all of `data` at the file's current position. */
function writeAll(fd: number, data: Uint8Array): void {
  for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done);
}

/**
 * Extracts `archivePath` into `destDir` (which must not exist yet). Throws `ARCHIVE_INVALID` or
 * `FILE_MISMATCH` on any difference from `manifest`. The tree is durable when this resolves.
 *
 * File calls are synchronous (each costs microseconds, and a release can hold tens of thousands
 * of tiny files: a round trip through the thread pool per call cost more than the call); the
 * archive's chunks arrive asynchronously, so the event loop keeps turning. Nothing is fsynced per
 * file: {@link syncTree} makes the whole tree durable at the end.
 */
export async function extractRelease(
  archivePath: string,
  manifest: ReleaseManifest,
  destDir: string,
  reuse: Map<string, ReusableFile> = new Map(),
): Promise<ExtractStats> {
  await mkdir(destDir, { mode: DIR_MODE });
  const files = new Map<string, ManifestFile>(manifest.files.map((f) => [f.path, f]));
  const links = new Map<string, ManifestSymlink>(manifest.symlinks.map((l) => [l.path, l]));
  const done = new Set<string>();
  const dirs = new Set<string>([destDir]);
  const written: string[] = [];
  const identities = new Map<string, string>();
  const stats: ExtractStats = { written: 0, linked: 0, bytesWritten: 0, identities };

  /** Creates the missing folders above `path` (inside `destDir`), parents first. */
  const ensureParent = (path: string) => {
    const missing: string[] = [];
    for (let d = dirname(path); !dirs.has(d); d = dirname(d)) {
      if (d.length <= destDir.length) refuse(`"${path}" is not inside the staging folder`);
      missing.push(d);
    }
    for (let i = missing.length - 1; i >= 0; i--) {
      mkdirSync(missing[i]!, DIR_MODE);
      dirs.add(missing[i]!);
    }
  };

  const extract = tar.extract();
  const source = pipeline(createReadStream(archivePath), createZstdDecompress(), extract);
  source.catch(() => {}); // surfaced through the iteration below or awaited at the end
  try {
    for await (const entry of extract) {
      const { name, type, size } = entry.header;
      if (done.has(name)) refuse(`The archive holds "${name}" twice`);
      if (type === "symlink") {
        const expected = links.get(name) ?? refuse(`The archive holds a symlink "${name}" the manifest does not list`);
        if (entry.header.linkname !== expected.target)
          refuse(`Symlink "${name}" points elsewhere than the manifest says`);
        // A manifest path: parseReleaseManifest checked it is relative and stays inside.
        const target = underRoot(destDir, name);
        ensureParent(target);
        symlinkSync(expected.target, target);
        entry.resume();
        done.add(name);
        continue;
      }
      if (type !== "file") refuse(`The archive holds "${name}" of type ${type}; only files and symlinks are allowed`);
      const expected = files.get(name) ?? refuse(`The archive holds "${name}", which the manifest does not list`);
      if (size !== expected.size)
        refuse(`"${name}" is ${size} bytes in the archive but ${expected.size} in the manifest`);
      const target = underRoot(destDir, name);
      ensureParent(target);
      done.add(name);

      const candidate = reuse.get(name);
      if (candidate && candidate.sha256 === expected.sha256 && candidate.mode === expected.mode) {
        const actual = await hashFile(candidate.absolutePath).catch(() => undefined);
        if (actual?.sha256 === expected.sha256) {
          linkSync(candidate.absolutePath, target);
          const id = statIdentity(target);
          if (id !== undefined) identities.set(name, id);
          entry.resume();
          await new Promise<void>((resolve, reject) => entry.on("end", resolve).on("error", reject));
          stats.linked++;
          continue;
        }
      }
      const hash = createHash("sha256");
      let bytes = 0;
      const fd = openSync(target, "wx", expected.mode);
      try {
        for await (const chunk of entry) {
          hash.update(chunk as Buffer);
          bytes += (chunk as Buffer).length;
          writeAll(fd, chunk as Buffer);
        }
        fchmodSync(fd, expected.mode); // the umask may have narrowed the mode open() set
        identities.set(name, identityOfStats(fstatSync(fd, { bigint: true })));
      } finally {
        closeSync(fd);
      }
      written.push(target);
      if (bytes !== expected.size || hash.digest("hex") !== expected.sha256) {
        throw new UpdraftError(ErrorCodes.FILE_MISMATCH, `"${name}" does not match its signed sha256`, {
          hint: "The archive was altered. Nothing was installed.",
        });
      }
      stats.written++;
      stats.bytesWritten += bytes;
    }
    await source;
  } catch (err) {
    extract.destroy();
    if (err instanceof UpdraftError) throw err;
    const e = toUpdraftError(err, ErrorCodes.ARCHIVE_INVALID, "Unpacking the release");
    if (e.code === ErrorCodes.ARCHIVE_INVALID && !e.hint) {
      throw new UpdraftError(ErrorCodes.ARCHIVE_INVALID, e.message, {
        cause: err,
        hint: "The archive is damaged. Nothing was installed.",
      });
    }
    throw e;
  }
  for (const path of [...files.keys(), ...links.keys()]) {
    if (!done.has(path)) refuse(`The archive lacks "${path}", which the manifest lists`);
  }
  await syncTree({ root: destDir, files: written, folders: [...dirs] });
  return stats;
}

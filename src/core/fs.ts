/**
 * File system helpers with the durability rules Updraft relies on: a file that matters is
 * written to a temporary name, fsynced, renamed over the old one, and its folder fsynced, so a
 * crash leaves either the old or the new content, never a mix.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { chmod, lstat, mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import nodePath, { dirname, join, type PlatformPath } from "node:path";
import { ErrorCodes, UpdraftError } from "./errors.js";
import { retryWhileHeld } from "./fs-retry.js";
import { FileTooLargeError, readCapped } from "./read-capped.js";

/** fsync a folder so a rename or create inside it survives power loss (no-op where unsupported). */
export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === "win32") return; // Windows cannot open folders for fsync; NTFS journals renames.
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Mode of the folders Updraft creates: never writable by other users, whatever the umask. */
export const DIR_MODE = 0o755;

/**
 * Creates `dir` and its missing parents with {@link DIR_MODE} (an existing folder is fine).
 * Written by hand rather than `mkdir -p`: Node's recursive mkdir spins forever where a parent
 * exists but refuses children (`/proc/x`), and this one also names the path that is not a folder.
 */
export async function ensureDir(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    try {
      await mkdir(d, { mode: DIR_MODE });
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") {
        if (!(await stat(d)).isDirectory()) {
          throw new UpdraftError(ErrorCodes.FILE_ERROR, `${d} is a file, not a folder`, {
            cause: err,
            hint: "Give a folder path, or move that file away.",
          });
        }
        break;
      }
      if (code !== "ENOENT" || dirname(d) === d) {
        throw new UpdraftError(ErrorCodes.FILE_ERROR, `Cannot create the folder ${d}: ${code}`, {
          cause: err,
          hint: "Check that the path is right and that you may write there.",
        });
      }
      missing.push(d);
    }
  }
  for (const d of missing.reverse()) {
    try {
      await mkdir(d, { mode: DIR_MODE });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST" && (await stat(d)).isDirectory()) continue;
      throw new UpdraftError(ErrorCodes.FILE_ERROR, `Cannot create the folder ${d}: ${code}`, {
        cause: err,
        hint: "Check that the path is right and that you may write there (a system folder such as /proc refuses new folders).",
      });
    }
  }
}

/** Takes group and other write permission off the files directly inside `dir` (written by code that follows the umask). */
export async function removeGroupOtherWrite(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (!entry.isFile()) continue;
    const path = join(dir, entry.name);
    const { mode } = await stat(path);
    if ((mode & 0o022) !== 0) await chmod(path, mode & 0o755);
  }
}

/**
 * How {@link writeFileAtomicWith} puts its durable temporary file in place. The default (core's
 * retrying rename, then a folder fsync) is what {@link writeFileAtomic} uses; the install engines
 * pass their own file layer, which may follow Windows' rules.
 */
export interface AtomicWriteSteps {
  /** Renames the temporary file over `path`. */
  replace(tmp: string, path: string): Promise<void>;
  /** Removes the temporary file after a failed replace. */
  discard(tmp: string): Promise<void>;
  /** Makes the rename durable. */
  syncFolder(dir: string): Promise<void>;
}

const DEFAULT_ATOMIC_WRITE: AtomicWriteSteps = {
  replace: (tmp, path) => retryWhileHeld("replace", path, () => rename(tmp, path)),
  discard: (tmp) => rm(tmp, { force: true }),
  syncFolder: fsyncDir,
};

/** Writes `data` to `path` atomically and durably (temp file, fsync, rename, fsync folder). */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  return writeFileAtomicWith(path, data, mode, DEFAULT_ATOMIC_WRITE);
}

/** {@link writeFileAtomic} with the rename, clean-up and folder sync of `steps`. */
export async function writeFileAtomicWith(
  path: string,
  data: string | Uint8Array,
  mode: number,
  steps: AtomicWriteSteps,
): Promise<void> {
  const dir = dirname(path);
  await ensureDir(dir);
  const tmp = join(dir, `.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(tmp, "w", mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await steps.replace(tmp, path);
  } catch (err) {
    await steps.discard(tmp).catch(() => {});
    throw err;
  }
  await steps.syncFolder(dir);
}

/** Writes JSON (two-space indented, trailing newline) atomically. */
export async function writeJsonAtomic(path: string, value: unknown, mode = 0o644): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, mode);
}

/** Default cap of a local file read as input: 64 MiB (the manifest of a 100,000-file app fits). */
export const LOCAL_FILE_MAX_BYTES = 64 << 20;

/**
 * Reads a file Updraft keeps or is given (state, journal, configuration, manifests) as untrusted
 * input: only a regular file (a folder, FIFO or device is refused, never waited on), at most
 * `maxBytes`, without reading more than that. Returns undefined when it does not exist.
 */
export async function readLocalText(
  path: string,
  maxBytes = LOCAL_FILE_MAX_BYTES,
  what = path,
): Promise<string | undefined> {
  const fail = (why: string, hint: string, cause?: unknown) =>
    new UpdraftError(ErrorCodes.FILE_ERROR, `${what} (${path}) ${why}`, { cause, hint });
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw fail(`cannot be read: ${code ?? (err as Error).message}`, "Check the file's permissions.", err);
  }
  // A folder, FIFO or device here was not written by Updraft: refuse it rather than wait on it.
  if (!info.isFile())
    throw fail("is not a regular file", "Something else was put in its place: move it away and run the command again.");
  try {
    return (await readCapped(path, maxBytes)).toString("utf8");
  } catch (err) {
    if (err instanceof FileTooLargeError) {
      throw fail(
        `is over the ${maxBytes}-byte limit`,
        "The file is damaged or not what Updraft wrote: move it away and run the command again.",
        err,
      );
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    throw fail(`cannot be read: ${code ?? (err as Error).message}`, "Check the file's permissions.", err);
  }
}

/** {@link readLocalText}, parsed as JSON; unparseable JSON throws `MANIFEST_INVALID`. */
export async function readLocalJson(path: string, maxBytes = LOCAL_FILE_MAX_BYTES, what = path): Promise<unknown> {
  const text = await readLocalText(path, maxBytes, what);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UpdraftError(ErrorCodes.MANIFEST_INVALID, `${path} is not valid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** True if `path` exists, following links (a link to nothing does not count). */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** True if there is an entry at `path` itself, a link included even when it points nowhere. */
export async function entryExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks that a manifest or archive path is a plain relative POSIX path that stays inside its
 * root on every OS: no `..`, no absolute or drive paths, no backslashes, no NUL, no `:` streams,
 * no Windows reserved names. Returns the path unchanged or throws `ARCHIVE_INVALID`.
 */
export function assertSafeRelativePath(path: string, what = "path"): string {
  const fail = (why: string): never => {
    throw new UpdraftError(ErrorCodes.ARCHIVE_INVALID, `Unsafe ${what} "${path}": ${why}`);
  };
  if (typeof path !== "string" || path.length === 0) fail("empty");
  if (path.length > 1024) fail("longer than 1024 characters");
  if (path.includes("\0")) fail("contains NUL");
  if (path.includes("\\")) fail("contains a backslash");
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) fail("absolute");
  if (path.includes(":")) fail("contains ':' (drive letters and alternate data streams are refused)");
  const parts = path.split("/");
  for (const part of parts) {
    if (part === "" || part === "." || part === "..") fail("has an empty, '.' or '..' segment");
    if (/^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i.test(part)) fail(`"${part}" is reserved on Windows`);
    if (/[<>"|?*]/.test(part) || [...part].some((c) => c.charCodeAt(0) < 0x20)) {
      fail("has a character Windows file names cannot hold");
    }
    if (/[. ]$/.test(part)) fail("a segment ends with '.' or space (Windows strips them)");
  }
  return path;
}

/** Joins a checked relative POSIX path under `root`, guaranteeing the result stays inside it. */
export function safeJoin(root: string, relPath: string): string {
  return safeJoinWith(nodePath, root, relPath);
}

/**
 * {@link safeJoin} under the path rules of `paths` (`path.win32` or `path.posix`): the same check
 * holds for drive-letter and UNC roots, whatever system the tests run on.
 */
export function safeJoinWith(paths: PlatformPath, root: string, relPath: string): string {
  assertSafeRelativePath(relPath);
  const full = paths.normalize(paths.join(root, ...relPath.split("/")));
  const rel = paths.relative(root, full);
  if (rel === "" || rel.startsWith(`..${paths.sep}`) || rel === ".." || paths.isAbsolute(rel)) {
    throw new UpdraftError(ErrorCodes.ARCHIVE_INVALID, `Path "${relPath}" escapes ${root}`);
  }
  return full;
}

/** Longest path Windows' classic file APIs take (MAX_PATH), and the folder limit below it (room for an 8.3 name). */
export const WINDOWS_MAX_PATH = 260;
const WINDOWS_MAX_FOLDER_PATH = WINDOWS_MAX_PATH - 12;

/**
 * An absolute Windows path in the form that passes MAX_PATH: `\\?\C:\…`, or `\\?\UNC\server\share\…` for a
 * network path, once it is long enough to need it (programs Updraft starts, such as a service's
 * scripts, get paths they can open). Shorter paths and paths already in that form are returned as they are.
 */
export function windowsLongPath(path: string): string {
  if (path.startsWith("\\\\?\\") || path.startsWith("\\\\.\\")) return path;
  if (!nodePath.win32.isAbsolute(path) || !/^([A-Za-z]:[\\/]|[\\/]{2}[^\\/]+[\\/][^\\/]+)/.test(path)) {
    throw new UpdraftError(ErrorCodes.USAGE, `"${path}" is not an absolute Windows path with a drive or a share`);
  }
  const full = nodePath.win32.normalize(path);
  if (full.length < WINDOWS_MAX_FOLDER_PATH) return full;
  return full.startsWith("\\\\") ? `\\\\?\\UNC\\${full.slice(2)}` : `\\\\?\\${full}`;
}

/** Removes a file or folder, ignoring a missing one. */
export async function removePath(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true, maxRetries: 3 });
}

/** A random suffix for temporary names. */
export function randomSuffix(): string {
  return randomBytes(6).toString("hex");
}

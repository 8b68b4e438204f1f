/**
 * File system access for the server, confined to the root. `statPath` looks a path up (one
 * `stat`, following symlinks). `openRepositoryFile` opens a path and only then checks where the
 * opened file really is: on Linux the kernel names the file behind the descriptor
 * (`/proc/self/fd/N`), so a folder swapped for a symlink between a check and the open cannot
 * lead outside the root (there is no check-then-open window). Elsewhere the path is resolved
 * before and after the open and must name the same file as the descriptor both times. The
 * descriptor is `fstat`ed so that validators describe the very bytes that are sent. All calls are
 * asynchronous; nothing here caches anything.
 */
import { type BigIntStats, close, constants, fstat, open, readlink, realpath, stat, statSync } from "node:fs";
import { sep } from "node:path";
import { classifyServedPath } from "../formats/served-paths.js";
import { isHiddenName } from "./request-path.js";

/** The served folder, resolved once when the server starts. */
export interface RepositoryRoot {
  /** `realpath` of the root folder. */
  readonly real: string;
  /** `real` with a trailing separator: every served file's resolved path starts with it. */
  readonly prefix: string;
  /** True where the kernel tells the path of an open descriptor (`/proc/self/fd/N`, Linux). */
  readonly descriptorPaths: boolean;
}

/** An open regular file inside the root. Whoever receives it must close `fd`. */
export interface OpenedFile {
  /** Read-only file descriptor. */
  readonly fd: number;
  /** `fstat` of `fd`, with nanosecond times. */
  readonly stats: BigIntStats;
  /** Resolved absolute path (never shown to clients). */
  readonly path: string;
}

/** Errors that mean "there is no such file here", answered with 404. */
const NOT_FOUND_CODES = new Set(["ENOENT", "ENOTDIR", "ELOOP", "ENAMETOOLONG", "EISDIR", "EINVAL"]);
/** Non-blocking, so that a FIFO planted in the tree cannot hold a thread of the pool. */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);
/** Where Linux shows the path of an open descriptor. */
const DESCRIPTOR_LINKS = "/proc/self/fd/";
/** What Linux appends to the path of an open file that has since been unlinked or renamed over. */
const DELETED_SUFFIX = " (deleted)";

/**
 * Describes a root folder whose realpath is `real`, and finds out whether the kernel can tell
 * where an open descriptor leads (by asking it about the root folder itself).
 */
export async function repositoryRoot(real: string): Promise<RepositoryRoot> {
  const prefix = real.endsWith(sep) ? real : real + sep;
  let descriptorPaths = false;
  try {
    const fd = await openAsync(real);
    try {
      descriptorPaths = (await descriptorPath(fd)) === real;
    } finally {
      closeQuietly(fd);
    }
  } catch {
    descriptorPaths = false;
  }
  return { real, prefix, descriptorPaths };
}

/** The file system path of a checked relative POSIX path under the root (not yet resolved). */
export function pathInRoot(root: RepositoryRoot, relPath: string): string {
  return root.prefix + (sep === "/" ? relPath : relPath.split("/").join(sep));
}

function isNotFound(err: unknown): boolean {
  return NOT_FOUND_CODES.has((err as NodeJS.ErrnoException).code ?? "");
}

/** Closes a descriptor in the background; a failing close has nothing left to tell the client. */
export function closeQuietly(fd: number): void {
  close(fd, () => {});
}

/**
 * `stat`s `path` (following symlinks), on the calling thread, as nginx does: a `stat` of a file
 * the kernel has cached takes about a microsecond, far less than a round trip through libuv's
 * thread pool, and this one call per request decides whether a kept copy can be served. Returns
 * `undefined` when the answer is 404: missing, or not a regular file. Throws on other errors
 * (permissions).
 */
export function statPath(path: string): BigIntStats | undefined {
  let stats: BigIntStats | undefined;
  try {
    stats = statSync(path, { bigint: true, throwIfNoEntry: false });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  return stats?.isFile() ? stats : undefined;
}

function realpathAsync(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    realpath.native(path, (err, resolved) => (err ? reject(err) : resolve(resolved)));
  });
}

function openAsync(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    open(path, OPEN_FLAGS, (err, fd) => (err ? reject(err) : resolve(fd)));
  });
}

function fstatAsync(fd: number): Promise<BigIntStats> {
  return new Promise((resolve, reject) => {
    fstat(fd, { bigint: true }, (err, stats) => (err ? reject(err) : resolve(stats)));
  });
}

function statAsync(path: string): Promise<BigIntStats> {
  return new Promise((resolve, reject) => {
    stat(path, { bigint: true }, (err, stats) => (err ? reject(err) : resolve(stats)));
  });
}

/** The path of the file open as `fd`, as the kernel knows it (Linux). */
function descriptorPath(fd: number): Promise<string> {
  return new Promise((resolve, reject) => {
    readlink(DESCRIPTOR_LINKS + fd, (err, target) => {
      if (err) reject(err);
      // A file renamed over since it was opened (publish replaces timestamp.json this way) is
      // still the file that was asked for: serve its bytes.
      else resolve(target.endsWith(DELETED_SUFFIX) ? target.slice(0, -DELETED_SUFFIX.length) : target);
    });
  });
}

/**
 * True if the resolved path stays under the root, names no hidden file on its way, and is a name
 * the repository publishes (so a symlink cannot lead from a published name to a key file).
 */
function isServable(resolved: string, root: RepositoryRoot): boolean {
  if (!resolved.startsWith(root.prefix)) return false;
  const parts = resolved.slice(root.prefix.length).split(sep);
  for (const part of parts) {
    if (part === "" || isHiddenName(part)) return false;
  }
  return classifyServedPath(parts.join("/")) !== undefined;
}

function sameFile(a: BigIntStats, b: BigIntStats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * Where the file open as `fd` (opened through `path`) lies, if that can be told for certain;
 * `undefined` when the path moved while it was being checked.
 */
async function whereOpened(
  root: RepositoryRoot,
  fd: number,
  path: string,
  stats: BigIntStats,
): Promise<string | undefined> {
  if (root.descriptorPaths) return descriptorPath(fd);
  // Without the kernel's answer: the path must resolve to the same place before and after a
  // look at that place, and that place must hold the very file the descriptor reads.
  const before = await realpathAsync(path);
  const there = await statAsync(before);
  const after = await realpathAsync(path);
  return before === after && sameFile(there, stats) ? before : undefined;
}

/**
 * Opens `path` (from {@link pathInRoot}) for reading. Resolves to `undefined` when the answer is
 * 404: missing, a folder or other non-regular file, or a file that is outside the root, hidden or
 * not a published name once symlinks are resolved — judged on the opened file itself, so renames and symlink swaps
 * racing with the request cannot change the answer. Rejects on other errors (permissions, too
 * many open files).
 */
export async function openRepositoryFile(root: RepositoryRoot, path: string): Promise<OpenedFile | undefined> {
  let fd: number;
  try {
    fd = await openAsync(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  try {
    const stats = await fstatAsync(fd);
    const resolved = stats.isFile() ? await whereOpened(root, fd, path, stats) : undefined;
    if (resolved === undefined || !isServable(resolved, root)) {
      closeQuietly(fd);
      return undefined;
    }
    return { fd, stats, path: resolved };
  } catch (err) {
    closeQuietly(fd);
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

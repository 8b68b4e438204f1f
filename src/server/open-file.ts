/**
 * Opens a repository file for reading without ever leaving the root: the path is resolved with
 * `realpath` (so symlinks pointing outside the root are refused), opened without following a
 * final symlink, and `fstat`ed through the descriptor, so the validators describe the very bytes
 * that are sent. Nothing is cached: every request sees the file as it is now.
 */
import { type BigIntStats, close, constants, fstat, open, realpath } from "node:fs";
import { sep } from "node:path";
import { isHiddenName } from "./request-path.js";

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
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);

function isNotFound(err: unknown): boolean {
  return NOT_FOUND_CODES.has((err as NodeJS.ErrnoException).code ?? "");
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

/** Closes a descriptor in the background; a failing close has nothing left to tell the client. */
export function closeQuietly(fd: number): void {
  close(fd, () => {});
}

/** True if the resolved path stays under the root and names no hidden file on its way. */
function isServable(resolved: string, rootPrefix: string): boolean {
  if (!resolved.startsWith(rootPrefix)) return false;
  for (const part of resolved.slice(rootPrefix.length).split(sep)) {
    if (part === "" || isHiddenName(part)) return false;
  }
  return true;
}

/**
 * Opens `relPath` (a checked POSIX path) under `rootReal` (the root's own realpath).
 * Resolves to `undefined` when the server should answer 404: missing, a folder or other
 * non-regular file, outside the root after resolving symlinks, or hidden after resolving.
 * Rejects on other file system errors (permissions, too many open files).
 */
export async function openRepositoryFile(rootReal: string, relPath: string): Promise<OpenedFile | undefined> {
  const rootPrefix = rootReal.endsWith(sep) ? rootReal : rootReal + sep;
  const requested = rootPrefix + (sep === "/" ? relPath : relPath.split("/").join(sep));
  let path: string;
  let fd: number;
  try {
    path = await realpathAsync(requested);
    if (path !== requested && !isServable(path, rootPrefix)) return undefined;
    fd = await openAsync(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  try {
    const stats = await fstatAsync(fd);
    if (!stats.isFile()) {
      closeQuietly(fd);
      return undefined;
    }
    return { fd, stats, path };
  } catch (err) {
    closeQuietly(fd);
    throw err;
  }
}

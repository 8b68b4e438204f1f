/**
 * File system access for the server, confined to the root: `statPath` looks a path up (one
 * `stat`, following symlinks), and `openRepositoryFile` opens it for reading after checking with
 * `realpath` that it resolves inside the root (so symlinks pointing outside are refused), without
 * following a final symlink, and `fstat`s the descriptor so that validators describe the very
 * bytes that are sent. All calls are asynchronous; nothing here caches anything.
 */
import { type BigIntStats, close, constants, fstat, open, realpath, stat } from "node:fs";
import { sep } from "node:path";
import { isHiddenName } from "./request-path.js";

/** The served folder, resolved once when the server starts. */
export interface RepositoryRoot {
  /** `realpath` of the root folder. */
  readonly real: string;
  /** `real` with a trailing separator: every served file's resolved path starts with it. */
  readonly prefix: string;
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
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);

/** Describes a root folder whose realpath is `real`. */
export function repositoryRoot(real: string): RepositoryRoot {
  return { real, prefix: real.endsWith(sep) ? real : real + sep };
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
 * `stat`s `path` (following symlinks). Resolves to `undefined` when the answer is 404: missing,
 * or not a regular file. Rejects on other errors (permissions).
 */
export function statPath(path: string): Promise<BigIntStats | undefined> {
  return new Promise((resolve, reject) => {
    stat(path, { bigint: true }, (err, stats) => {
      if (err) {
        if (isNotFound(err)) resolve(undefined);
        else reject(err);
      } else resolve(stats.isFile() ? stats : undefined);
    });
  });
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

/** True if the resolved path stays under the root and names no hidden file on its way. */
function isServable(resolved: string, root: RepositoryRoot): boolean {
  if (!resolved.startsWith(root.prefix)) return false;
  for (const part of resolved.slice(root.prefix.length).split(sep)) {
    if (part === "" || isHiddenName(part)) return false;
  }
  return true;
}

/**
 * Opens `path` (from {@link pathInRoot}) for reading. Resolves to `undefined` when the answer is
 * 404: missing, a folder or other non-regular file, outside the root once symlinks are
 * resolved, or hidden once resolved. Rejects on other errors (permissions, too many open files).
 */
export async function openRepositoryFile(root: RepositoryRoot, path: string): Promise<OpenedFile | undefined> {
  let resolved: string;
  let fd: number;
  try {
    resolved = await realpathAsync(path);
    if (resolved !== path && !isServable(resolved, root)) return undefined;
    fd = await openAsync(resolved);
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
    return { fd, stats, path: resolved };
  } catch (err) {
    closeQuietly(fd);
    throw err;
  }
}

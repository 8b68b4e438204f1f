/**
 * The file operations the install engines and recovery make, with Windows in mind. On Windows
 * another program often holds a file for a while (an antivirus or indexer scanning a new file, a
 * backup tool) and the operation fails with `EBUSY`, `EPERM` or `EACCES` (a folder with such a
 * file in it: `ENOTEMPTY`); a running `.exe` or `.dll` can be renamed but not deleted or
 * overwritten. So every rename, removal and replacement here:
 *
 * - tries again with a growing pause while the errno says "held by someone", within a budget per
 *   operation (10 s by default, {@link FileOpsOptions.budgetMs} or `UPDRAFT_FILE_LOCK_BUDGET_MS`),
 *   and reports each pause ({@link FileBusy});
 * - when the budget runs out, throws `FILE_LOCKED` naming the file and what usually holds it;
 * - removes what it cannot delete by moving it aside (`name.old-<id>`, which rename allows for a
 *   running program) and deletes those leftovers on a later run ({@link FileOps.sweepLeftovers}).
 *
 * The primitive calls sit behind {@link FileSystemCalls}, so a test can run the engines over a file
 * system that refuses what Windows refuses.
 */
import { randomBytes } from "node:crypto";
import { rename, rm, rmdir, symlink, unlink } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { fsyncDir, readLocalJson, windowsLongPath, writeFileAtomicWith } from "../../core/fs.js";
import { errnoOf, type FileBusy, fileLockBudget, isHeldErrno, retryWhileHeld } from "../../core/fs-retry.js";

export type { FileBusy } from "../../core/fs-retry.js";
export { DEFAULT_FILE_LOCK_BUDGET_MS, MAX_FILE_LOCK_BUDGET_MS } from "../../core/fs-retry.js";

/** The primitive calls the engines make that Windows may refuse; {@link nodeFileSystem} is the real one. */
export interface FileSystemCalls {
  /** `"win32"` where the rules of Windows apply (the `current` pointer is then a pointer file and a junction). */
  readonly platform: "win32" | "posix";
  /** Renames `from` to `to`, replacing a file or empty folder at `to`. */
  rename(from: string, to: string): Promise<void>;
  /** Deletes a file or a link. */
  unlink(path: string): Promise<void>;
  /** Deletes an empty folder. */
  rmdir(path: string): Promise<void>;
  /** Deletes a file or folder tree; a missing one is fine. */
  removeTree(path: string): Promise<void>;
  /** Creates a link at `path` to `target` (`"junction"`: a Windows folder junction). */
  symlink(target: string, path: string, type?: "junction"): Promise<void>;
}

/** On Windows, every path in the form that passes MAX_PATH (an install folder deep in a profile can exceed it). */
const native = process.platform === "win32" ? windowsLongPath : (path: string) => path;

/** The real file system. */
export const nodeFileSystem: FileSystemCalls = {
  platform: process.platform === "win32" ? "win32" : "posix",
  rename: (from, to) => rename(native(from), native(to)),
  unlink: (path) => unlink(native(path)),
  rmdir: (path) => rmdir(native(path)),
  removeTree: (path) => rm(native(path), { recursive: true, force: true }),
  symlink: (target, path, type) => symlink(native(target), native(path), type),
};

/** Options of {@link fileOps}. */
export interface FileOpsOptions {
  /** How long one operation may keep trying a held file (ms, 0 to 10 minutes). Default: `UPDRAFT_FILE_LOCK_BUDGET_MS`, else 10 s. */
  budgetMs?: number;
  /** Told of every pause. */
  onBusy?: (busy: FileBusy) => void;
  /** The primitive calls (default: the real file system). */
  calls?: FileSystemCalls;
}

/** Where moved-aside leftovers are listed until they are deleted (relative to the install folder's state folder). */
const LEFTOVERS_FILE = "leftovers.json";
/** The name a file or folder moved aside gets (`TSPrint.exe.old-1a2b3c4d5e6f`). */
const LEFTOVER_NAME = /\.old-[0-9a-f]{12}$/;

/** True for the name of a file or folder moved aside by {@link FileOps.removeOrSetAside}. */
export function isLeftover(name: string): boolean {
  return LEFTOVER_NAME.test(name);
}

/** The retrying file operations of one install folder: see the file comment. */
export interface FileOps {
  /** The primitive calls underneath (and so the platform rules that apply). */
  readonly calls: FileSystemCalls;
  /** Renames `from` to `to` (replacing a file at `to`), trying again while either is held. */
  rename(from: string, to: string): Promise<void>;
  /** Deletes a file or folder tree (a missing one is fine), trying again while it is held. */
  remove(path: string): Promise<void>;
  /**
   * Deletes a file or folder tree, or, when something in it cannot be deleted now (a running
   * program), moves it aside to `name.old-<id>` for {@link sweepLeftovers} to delete later.
   * `stateDir` is where the leftover is listed.
   */
  removeOrSetAside(path: string, stateDir: string): Promise<void>;
  /** Creates a link, trying again while its place is held. */
  symlink(target: string, path: string, type?: "junction"): Promise<void>;
  /** Writes `data` to `path` atomically and durably (temp file, fsync, rename, fsync folder), trying the rename again while `path` is held. */
  writeFileAtomic(path: string, data: string | Uint8Array): Promise<void>;
  /** {@link writeFileAtomic} of JSON (two-space indented, trailing newline). */
  writeJsonAtomic(path: string, value: unknown): Promise<void>;
  /** fsyncs a folder so a rename inside it survives power loss (Windows: nothing to do, NTFS journals renames). */
  syncFolder(dir: string): Promise<void>;
  /** Deletes the leftovers listed in `stateDir` that can be deleted now; the others stay listed. Never throws. */
  sweepLeftovers(stateDir: string): Promise<void>;
}

/** The retrying file operations over `options.calls` (see {@link FileOps}). */
export function fileOps(options: FileOpsOptions = {}): FileOps {
  const calls = options.calls ?? nodeFileSystem;
  const budgetMs = options.budgetMs ?? fileLockBudget();

  const retrying = <T>(operation: string, path: string, body: () => Promise<T>) =>
    retryWhileHeld(operation, path, body, { budgetMs, ...(options.onBusy ? { onBusy: options.onBusy } : {}) });

  async function readLeftovers(stateDir: string): Promise<string[]> {
    const raw = await readLocalJson(join(stateDir, LEFTOVERS_FILE), 1 << 20).catch(() => undefined);
    const listed = (raw as { paths?: unknown } | undefined)?.paths;
    if (!Array.isArray(listed)) return [];
    // Untrusted: only names Updraft gives a leftover, inside the install folder, are deleted.
    const installDir = dirname(stateDir);
    return listed.filter(
      (p): p is string =>
        typeof p === "string" &&
        LEFTOVER_NAME.test(p) &&
        !relative(installDir, join(installDir, p)).startsWith("..") &&
        !p.startsWith("/"),
    );
  }

  async function writeLeftovers(stateDir: string, paths: string[]): Promise<void> {
    const file = join(stateDir, LEFTOVERS_FILE);
    if (paths.length === 0) await retrying("remove", file, () => calls.removeTree(file));
    else await ops.writeJsonAtomic(file, { schema: 1, paths });
  }

  const ops: FileOps = {
    calls,
    rename: (from, to) => retrying("rename", from, () => calls.rename(from, to)),
    remove: (path) => retrying("remove", path, () => calls.removeTree(path)),
    async removeOrSetAside(path, stateDir) {
      try {
        await calls.removeTree(path);
        return;
      } catch (err) {
        const errno = errnoOf(err);
        if (!isHeldErrno(errno)) throw err;
      }
      const aside = `${path}.old-${randomBytes(6).toString("hex")}`;
      const installDir = dirname(stateDir);
      // Listed before the move, so a crash between the two leaves no leftover unlisted.
      await writeLeftovers(stateDir, [...(await readLeftovers(stateDir)), relative(installDir, aside)]);
      try {
        await retrying("move aside", path, () => calls.rename(path, aside));
      } catch (err) {
        if (errnoOf(err) === "ENOENT") return; // what held it let go and it was deleted after all
        throw err;
      }
      // What the running program does not hold goes now; the rest at the next sweep.
      await calls.removeTree(aside).catch(() => {});
    },
    symlink: (target, path, type) => retrying("link", path, () => calls.symlink(target, path, type)),
    writeFileAtomic: (path, data) =>
      writeFileAtomicWith(path, data, 0o644, {
        replace: (tmp, to) => retrying("replace", to, () => calls.rename(tmp, to)),
        discard: (tmp) => calls.removeTree(tmp),
        syncFolder: (dir) => ops.syncFolder(dir),
      }),
    syncFolder: async (dir) => {
      if (calls.platform !== "win32") await fsyncDir(dir);
    },
    writeJsonAtomic: (path, value) => ops.writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`),
    async sweepLeftovers(stateDir) {
      const listed = await readLeftovers(stateDir).catch(() => []);
      if (listed.length === 0) return;
      const installDir = dirname(stateDir);
      const kept: string[] = [];
      for (const leftover of listed) {
        const full = join(installDir, leftover);
        if (!LEFTOVER_NAME.test(basename(full))) continue;
        await calls.removeTree(full).catch(() => kept.push(leftover));
      }
      await writeLeftovers(stateDir, kept).catch(() => {});
    },
  };
  return ops;
}

/**
 * Makes a freshly staged version folder durable before the install's commit point (the journal
 * and the pointer switch come after this). An fsync per file costs a journal commit each: 50,000
 * tiny files took minutes. On Linux one `syncfs` of the file system holding the folder writes out
 * every file and folder of it at once; Node has no binding for it, so it runs as coreutils'
 * `sync -f FOLDER` (busybox has it too). Where that is not available (Windows, macOS, a system
 * without `sync`), and for small trees where starting a process costs more than a few fsyncs,
 * every file and folder is fsynced, several at a time.
 */
import { type ExecFileException, execFile } from "node:child_process";
import { open } from "node:fs/promises";
import { ErrorCodes, toUpdraftError, UpdraftError } from "../../core/errors.js";
import { fsyncDir } from "../../core/fs.js";
import { forEachLimited } from "./delta/concurrency.js";

/** What was written into a staged tree and must reach the disk. */
export interface StagedTree {
  /** The staged folder (on the file system to sync). */
  root: string;
  /** Files created (hard links to durable files need only their folder synced). */
  files: readonly string[];
  /** Folders created or given new entries, `root` included. */
  folders: readonly string[];
}

/** Below this many files and folders, fsyncing each is cheaper than starting `sync -f`. */
export const FILE_SYSTEM_SYNC_MIN_ENTRIES = 64;

/** Options of {@link syncTree}. */
export interface SyncTreeOptions {
  /** Allow one file-system sync (Linux `sync -f`) instead of an fsync per entry (default true). */
  fileSystemSync?: boolean;
}

/** Whether `sync -f` worked in this process (undefined until tried): it is not tried again once missing. */
let fileSystemSyncWorks: boolean | undefined;

/** Files and folders fsynced at once in the fallback. */
const FSYNC_PARALLEL = 16;

/** How {@link syncTree} made a tree durable. */
export type TreeSync = "file-system" | "each-entry";

/**
 * Makes every file and folder of `tree` durable and says how; throws `FILE_ERROR` when the disk
 * reports a write error or a listed entry is gone.
 */
export async function syncTree(tree: StagedTree, options: SyncTreeOptions = {}): Promise<TreeSync> {
  const entries = tree.files.length + tree.folders.length;
  if (
    options.fileSystemSync !== false &&
    entries >= FILE_SYSTEM_SYNC_MIN_ENTRIES &&
    (await syncFileSystem(tree.root))
  ) {
    return "file-system";
  }
  try {
    await forEachLimited(tree.files, FSYNC_PARALLEL, fsyncFile);
    await forEachLimited(tree.folders, FSYNC_PARALLEL, fsyncDir);
  } catch (err) {
    throw toUpdraftError(err, ErrorCodes.FILE_ERROR, `Writing the new files in ${tree.root} to disk`);
  }
  return "each-entry";
}

/** fsyncs one file. */
async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Runs `sync -f dir`; false when it cannot run here (no such command, no `-f`, not Linux), so the
 * caller fsyncs each entry. A write error it reports is thrown: fsyncs opened after it would not
 * see that error again, so falling back would hide it.
 */
async function syncFileSystem(dir: string): Promise<boolean> {
  if (process.platform !== "linux" || fileSystemSyncWorks === false) return false;
  const outcome = await new Promise<{ error: ExecFileException | null; stderr: string }>((resolve) => {
    execFile("sync", ["-f", dir], { windowsHide: true }, (error, _stdout, stderr) => resolve({ error, stderr }));
  });
  if (!outcome.error) {
    fileSystemSyncWorks = true;
    return true;
  }
  const unavailable = typeof outcome.error.code === "string" || /option|usage|unrecognized/i.test(outcome.stderr ?? "");
  if (unavailable) {
    fileSystemSyncWorks = false;
    return false;
  }
  throw new UpdraftError(
    ErrorCodes.FILE_ERROR,
    `Writing the new files in ${dir} to disk failed: ${outcome.stderr.trim() || outcome.error.message}`,
    { cause: outcome.error, hint: "The disk reported a write error; check it (dmesg, SMART) and free space." },
  );
}

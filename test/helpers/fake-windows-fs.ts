/**
 * A fake of the Windows file system rules the install engines must live with, over the real disk
 * (Windows itself cannot run here). It is the `FileSystemCalls` of an install folder's file
 * operations (src/client/install/fs-ops.ts), with the platform set to `win32`, so the engines also
 * use the Windows `current` pointer (a pointer file and a junction). The rules:
 *
 * - a running program (`running`) can be renamed (it stays running under its new name) but not
 *   deleted, nor overwritten by a rename onto it: `EPERM`, as Node reports Windows' access denied;
 *   so a folder holding one cannot be deleted either (what else it holds is deleted);
 * - nothing can be renamed onto an existing folder or folder link (a junction): `EPERM`;
 * - a held file (`hold`: an antivirus scan) refuses every operation `EBUSY` a given number of times;
 * - a crash (`crashAtCall`): from that call on, every call fails as if the process had died, so
 *   nothing after it changes the disk through these calls (the SIGKILL walk of the engines).
 */
import { lstat, readdir, rename, rmdir, stat, symlink, unlink } from "node:fs/promises";
import { join, sep } from "node:path";
import type { FileSystemCalls } from "../../src/client/install/fs-ops.js";

/** Thrown by every call once the fake process has "died". */
export class SimulatedCrash extends Error {
  constructor(call: number) {
    super(`simulated crash at file operation ${call}`);
    this.name = "SimulatedCrash";
  }
}

/** The fake's controls and what it saw. */
export interface FakeWindowsFileSystem extends FileSystemCalls {
  /** Absolute paths of running programs (compared case-insensitively, as NTFS does). */
  readonly running: Set<string>;
  /** Files held by a scanner: path → how many more calls on it fail with EBUSY. */
  readonly hold: Map<string, number>;
  /** Number of calls made so far. */
  calls: number;
  /** The call (from 1) at which the process dies; undefined: never. */
  crashAtCall: number | undefined;
  /** Each refusal, as `errno call path`. */
  readonly refusals: string[];
}

const fold = (path: string) => path.toLowerCase();

function errnoError(code: string, call: string, path: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: ${call} '${path}'`);
  err.code = code;
  err.syscall = call;
  err.path = path;
  return err;
}

/** A new fake over the real disk: see the file comment. */
export function fakeWindowsFileSystem(running: Iterable<string> = []): FakeWindowsFileSystem {
  const fs: FakeWindowsFileSystem = {
    platform: "win32",
    running: new Set([...running].map(fold)),
    hold: new Map(),
    calls: 0,
    crashAtCall: undefined,
    refusals: [],
    async rename(from, to) {
      enter("rename", from, to);
      if (isRunning(to)) refuse("EPERM", "rename", to);
      const target = await lstat(to).catch(() => undefined);
      if (target && (target.isDirectory() || (target.isSymbolicLink() && (await isFolder(to))))) {
        refuse("EPERM", "rename", to);
      }
      await rename(from, to);
      for (const p of [...fs.running]) {
        if (p === fold(from) || p.startsWith(fold(from) + sep)) {
          fs.running.delete(p);
          fs.running.add(fold(to) + p.slice(from.length));
        }
      }
    },
    async unlink(path) {
      enter("unlink", path);
      if (isRunning(path)) refuse("EPERM", "unlink", path);
      await unlink(path);
    },
    async rmdir(path) {
      enter("rmdir", path);
      await rmdir(path);
    },
    async removeTree(path) {
      enter("rm", path);
      const stuck = await removeWhatCanGo(path);
      if (stuck) refuse("EPERM", "unlink", stuck);
    },
    async symlink(target, path, type) {
      enter("symlink", path);
      await symlink(target, path, type);
    },
  };

  function isRunning(path: string): boolean {
    return fs.running.has(fold(path));
  }

  function refuse(code: string, call: string, path: string): never {
    fs.refusals.push(`${code} ${call} ${path}`);
    throw errnoError(code, call, path);
  }

  /** Counts a call: dies at the crash point, refuses a held path while its hold lasts. */
  function enter(call: string, ...paths: string[]): void {
    fs.calls++;
    if (fs.crashAtCall !== undefined && fs.calls >= fs.crashAtCall) throw new SimulatedCrash(fs.crashAtCall);
    for (const path of paths) {
      const left = fs.hold.get(path) ?? 0;
      if (left > 0) {
        fs.hold.set(path, left - 1);
        refuse("EBUSY", call, path);
      }
    }
  }

  /** Deletes `path` and what is under it except running programs; the first running program left, if any. */
  async function removeWhatCanGo(path: string): Promise<string | undefined> {
    const info = await lstat(path).catch(() => undefined);
    if (!info) return undefined;
    if (!info.isDirectory()) {
      if (isRunning(path)) return path;
      await unlink(path);
      return undefined;
    }
    let stuck: string | undefined;
    for (const name of await readdir(path)) {
      const left = await removeWhatCanGo(join(path, name));
      stuck ??= left;
    }
    if (stuck === undefined) await rmdir(path);
    return stuck;
  }

  return fs;
}

async function isFolder(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

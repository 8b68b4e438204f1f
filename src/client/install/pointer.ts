/**
 * The `current` pointer: which version folder is in use, behind one interface with two designs
 * (see docs/install-layout.md):
 *
 * - POSIX: `current` is a relative symlink, switched atomically by creating a new link and
 *   renaming it over the old one.
 * - Windows: a link cannot be renamed over a folder link atomically, so the truth is a small text
 *   file, `.updraft/current`, replaced by rename (atomic on NTFS); `current` is a junction to the
 *   folder it names, made again from the file whenever it is missing or stale (a crash between
 *   removing the old junction and making the new one leaves the file right and the junction
 *   repaired by the next recovery).
 *
 * Which design applies follows the platform of the install folder's file operations, so the
 * Windows design runs on Linux in the tests, also over a file system that refuses what Windows refuses.
 */
import { readFile, readlink } from "node:fs/promises";
import { basename, join } from "node:path";
import { randomSuffix } from "../../core/fs.js";
import { isValidVersion } from "../../core/version.js";
import { type InstallLayout, VERSION_DIR_PREFIX } from "./layout.js";

/** One design of the `current` pointer. */
export interface CurrentPointer {
  /** The version folder name the pointer names (unchecked), or undefined if there is none. */
  readTarget(layout: InstallLayout): Promise<string | undefined>;
  /** Points at `folderName`, atomically and durably. */
  write(layout: InstallLayout, folderName: string): Promise<void>;
  /** Makes what the app follows agree with the truth again after a crash (nothing to do for a symlink). */
  repair(layout: InstallLayout): Promise<void>;
}

/** POSIX: a relative symlink renamed into place. */
export const symlinkPointer: CurrentPointer = {
  readTarget: (layout) => readlink(layout.currentLink).catch(() => undefined),
  async write(layout, folderName) {
    const tmp = join(layout.dir, `.current-${randomSuffix()}`);
    await layout.files.symlink(folderName, tmp);
    try {
      await layout.files.rename(tmp, layout.currentLink);
    } catch (err) {
      await layout.files.calls.unlink(tmp).catch(() => {});
      throw err;
    }
  },
  repair: async () => {},
};

/** Windows: the pointer file is the truth, the `current` junction follows it. */
export const junctionPointer: CurrentPointer = {
  readTarget: (layout) =>
    readFile(layout.currentPointerFile, "utf8").then(
      (text) => text.trim(),
      () => undefined,
    ),
  async write(layout, folderName) {
    await layout.files.writeFileAtomic(layout.currentPointerFile, `${folderName}\n`);
    await refreshJunction(layout, folderName);
  },
  async repair(layout) {
    const target = await junctionPointer.readTarget(layout);
    if (target === undefined || !isVersionFolderName(target)) return;
    const link = await readlink(layout.currentLink).catch(() => undefined);
    if (link === undefined || basename(link) !== target) await refreshJunction(layout, target);
  },
};

/** Replaces the `current` junction by one to `folderName` (a junction takes an absolute target). */
async function refreshJunction(layout: InstallLayout, folderName: string): Promise<void> {
  await layout.files.remove(layout.currentLink);
  await layout.files.symlink(join(layout.dir, folderName), layout.currentLink, "junction");
}

/** The pointer design of an install folder. */
export function currentPointer(layout: InstallLayout): CurrentPointer {
  return layout.files.calls.platform === "win32" ? junctionPointer : symlinkPointer;
}

function isVersionFolderName(name: string): boolean {
  return name.startsWith(VERSION_DIR_PREFIX) && isValidVersion(name.slice(VERSION_DIR_PREFIX.length));
}

/** The version `current` points at, or undefined if none. */
export async function readCurrentVersion(layout: InstallLayout): Promise<string | undefined> {
  const target = await currentPointer(layout).readTarget(layout);
  if (target === undefined) return undefined;
  const name = basename(target);
  // The pointer is on disk, so untrusted: only a version names a version folder.
  return isVersionFolderName(name) ? name.slice(VERSION_DIR_PREFIX.length) : undefined;
}

/** Points `current` at the folder of `version`, atomically and durably. */
export async function switchCurrent(layout: InstallLayout, version: string): Promise<void> {
  await currentPointer(layout).write(layout, basename(layout.versionDir(version)));
  await layout.files.syncFolder(layout.dir);
}

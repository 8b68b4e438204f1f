/**
 * The `current` pointer: which version folder is in use. On POSIX it is a relative symlink,
 * switched atomically by creating a new link and renaming it over the old one. Windows cannot
 * rename a link over a folder link atomically, so there the truth is a small text file in
 * `.updraft/current`, replaced by rename (atomic on NTFS), and `current` is a junction refreshed
 * from it (see docs/install-layout.md; the Windows branch is not exercised by the Linux tests).
 */
import { readFile, readlink, rename, rm, symlink } from "node:fs/promises";
import { basename, join } from "node:path";
import { fsyncDir, randomSuffix, writeFileAtomic } from "../../core/fs.js";
import { isValidVersion } from "../../core/version.js";
import { type InstallLayout, VERSION_DIR_PREFIX } from "./layout.js";

/** The version `current` points at, or undefined if none. */
export async function readCurrentVersion(layout: InstallLayout): Promise<string | undefined> {
  let target: string;
  try {
    target =
      process.platform === "win32"
        ? (await readFile(layout.currentPointerFile, "utf8")).trim()
        : await readlink(layout.currentLink);
  } catch {
    return undefined;
  }
  const name = basename(target);
  const version = name.startsWith(VERSION_DIR_PREFIX) ? name.slice(VERSION_DIR_PREFIX.length) : "";
  // The pointer is on disk, so untrusted: only a version names a version folder.
  return isValidVersion(version) ? version : undefined;
}

/** Points `current` at the folder of `version`, atomically and durably. */
export async function switchCurrent(layout: InstallLayout, version: string): Promise<void> {
  const folderName = basename(layout.versionDir(version));
  if (process.platform === "win32") {
    await writeFileAtomic(layout.currentPointerFile, `${folderName}\n`);
    await rm(layout.currentLink, { force: true, recursive: false }).catch(() => {});
    await symlink(layout.versionDir(version), layout.currentLink, "junction");
    return;
  }
  const tmp = join(layout.dir, `.current-${randomSuffix()}`);
  await symlink(folderName, tmp);
  try {
    await rename(tmp, layout.currentLink);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(layout.dir);
}

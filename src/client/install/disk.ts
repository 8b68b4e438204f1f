/**
 * Free-space check before staging: an install needs room for the new files it writes (unchanged
 * files are hard-linked) plus a margin; without it the update stops before touching anything.
 */
import { statfs } from "node:fs/promises";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { ensureDir } from "../../core/fs.js";

/** Extra room asked for beyond the bytes to write: 5 % plus 1 MiB (file system overhead, state files). */
export function withMargin(bytes: number): number {
  return Math.ceil(bytes * 1.05) + (1 << 20);
}

/** Bytes available to this user on the file system holding `dir`, or undefined where unknown. */
export async function freeBytes(dir: string): Promise<number | undefined> {
  try {
    await ensureDir(dir);
    const s = await statfs(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined;
  }
}

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

/** Throws `DISK_FULL` naming the space needed unless `dir` has room for `bytes` plus the margin. */
export async function assertFreeSpace(dir: string, bytes: number, what: string): Promise<void> {
  const needed = withMargin(bytes);
  const free = await freeBytes(dir);
  if (free !== undefined && free < needed) {
    throw new UpdraftError(
      ErrorCodes.DISK_FULL,
      `Not enough disk space for ${what}: ${mib(needed)} needed, ${mib(free)} free in ${dir}`,
      { hint: `Free at least ${mib(needed - free)} and try again.`, details: { neededBytes: needed, freeBytes: free } },
    );
  }
}

/** Turns an ENOSPC hit while staging into a `DISK_FULL` error that says how much is needed. */
export function diskFullWhileStaging(err: unknown, dir: string, bytes: number): UpdraftError | undefined {
  if (
    (err as NodeJS.ErrnoException | undefined)?.code !== "ENOSPC" &&
    !(err instanceof UpdraftError && err.code === ErrorCodes.DISK_FULL)
  ) {
    return undefined;
  }
  return new UpdraftError(
    ErrorCodes.DISK_FULL,
    `The disk filled up while staging the update in ${dir}; ${mib(withMargin(bytes))} are needed. The installed version is untouched.`,
    { cause: err, hint: "Free some disk space and run the update again.", details: { neededBytes: withMargin(bytes) } },
  );
}

/**
 * One updater at a time per install folder: a lock file created exclusively, holding the owner's
 * PID. A lock whose PID no longer runs is stale and taken over.
 */
import { mkdir, open, readFile, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { ErrorCodes, UpdraftError } from "../core/errors.js";

/** True if a process with this PID exists. */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The live process holding the lock at `path`, if any. */
export async function lockHolder(path: string): Promise<{ pid: number } | undefined> {
  try {
    const holder = JSON.parse(await readFile(path, "utf8")) as { pid?: number };
    return holder.pid !== undefined && processAlive(holder.pid) ? { pid: holder.pid } : undefined;
  } catch {
    return undefined;
  }
}

/** A held lock; call `release()` when done. */
export interface HeldLock {
  release(): Promise<void>;
}

/** Takes the lock at `path` or throws `LOCKED` naming the holder. */
export async function acquireLock(path: string, purpose: string): Promise<HeldLock> {
  await mkdir(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, "wx", 0o644);
      await handle.writeFile(JSON.stringify({ pid: process.pid, purpose, since: new Date().toISOString() }));
      await handle.sync();
      await handle.close();
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          await rm(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let holder: { pid?: number; purpose?: string; since?: string } = {};
    try {
      holder = JSON.parse(await readFile(path, "utf8")) as typeof holder;
    } catch {
      // An empty or torn lock file comes from a crash between create and write: treat as stale.
    }
    if (holder.pid !== undefined && processAlive(holder.pid) && holder.pid !== process.pid) {
      throw new UpdraftError(
        ErrorCodes.LOCKED,
        `Another updater (PID ${holder.pid}, ${holder.purpose ?? "working"} since ${holder.since ?? "?"}) holds ${path}`,
        { hint: "Wait for it to finish and try again.", details: { pid: holder.pid } },
      );
    }
    await rm(path, { force: true });
  }
  throw new UpdraftError(ErrorCodes.LOCKED, `Could not take the lock ${path}`, { hint: "Try again." });
}

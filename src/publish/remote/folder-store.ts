/**
 * A local folder as a {@link RepositoryStore}: what a mirror synced to a folder is written
 * through, so the one upload order of ./push.ts serves folders and buckets alike. Every write
 * lands whole (a hidden temporary file in the same folder, flushed, then renamed over the name),
 * so a static server in front never serves half a file. The ETag is the file's inode, size and
 * modification time: a rename gives a new one, which is what the write conditions compare.
 */
import { copyFile, open, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ensureDir, fsyncDir, randomSuffix, safeJoin } from "../../core/fs.js";
import { conflictError } from "./s3-store.js";
import type { RepositoryStore, StoredObject, WriteCondition } from "./store.js";

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/** A folder holding a repository (or a mirror of one). */
export class FolderStore implements RepositoryStore {
  readonly description: string;
  private count = 0;

  constructor(private readonly root: string) {
    this.description = root;
  }

  get requests(): number {
    return this.count;
  }

  private path(key: string): string {
    return safeJoin(this.root, key);
  }

  async list(prefix: string): Promise<Map<string, StoredObject>> {
    this.count++;
    const out = new Map<string, StoredObject>();
    const slash = prefix.lastIndexOf("/");
    const start = slash < 0 ? "" : prefix.slice(0, slash);
    const walk = async (dirKey: string): Promise<void> => {
      const entries = await readdir(dirKey === "" ? this.root : this.path(dirKey), { withFileTypes: true }).catch(
        (err: unknown) => (isMissing(err) ? [] : Promise.reject(err)),
      );
      for (const entry of entries) {
        if (entry.name.startsWith(".")) continue; // temporary files of writes in progress
        const key = dirKey === "" ? entry.name : `${dirKey}/${entry.name}`;
        if (entry.isDirectory()) await walk(key);
        else if (entry.isFile() && key.startsWith(prefix)) {
          const object = await this.head(key);
          if (object) out.set(key, object);
        }
      }
    };
    await walk(start);
    return out;
  }

  async head(key: string): Promise<StoredObject | undefined> {
    this.count++;
    try {
      const st = await stat(this.path(key), { bigint: true });
      return st.isFile() ? { size: Number(st.size), etag: `"${st.ino}-${st.size}-${st.mtimeNs}"` } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async download(key: string, file: string): Promise<boolean> {
    this.count++;
    try {
      await copyFile(this.path(key), file);
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  async upload(key: string, file: string, condition?: WriteCondition): Promise<void> {
    const dest = this.path(key);
    if (condition !== undefined) {
      const now = await this.head(key);
      const holds = "ifNoneMatch" in condition ? now === undefined : now?.etag === condition.ifMatch;
      if (!holds) throw conflictError(this.description, `${key} changed while this command ran`);
    }
    this.count++;
    const dir = dirname(dest);
    await ensureDir(dir);
    const tmp = join(dir, `.${randomSuffix()}.tmp`);
    try {
      await copyFile(file, tmp);
      const handle = await open(tmp, "r+");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    await fsyncDir(dir);
  }

  async remove(key: string): Promise<void> {
    this.count++;
    await rm(this.path(key), { force: true });
  }
}

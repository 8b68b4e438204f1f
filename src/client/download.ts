/**
 * Downloads one signed artifact to disk: streamed, capped at its signed length, hashed on the fly,
 * resumed with `Range` + `If-Range` when a previous attempt left a partial file, and renamed into
 * place only once its length and sha256 match the signed metadata.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { ErrorCodes, toUpdraftError, UpdraftError } from "../core/errors.js";
import { writeJsonAtomic } from "../core/fs.js";
import type { HttpClient } from "./http.js";

/** Progress of a download. */
export interface DownloadProgress {
  /** Bytes of the artifact on disk so far (resumed bytes included). */
  transferred: number;
  total: number;
  /** 0–100. */
  percent: number;
  /** Average speed of this attempt, bytes per second. */
  bytesPerSecond: number;
  /** True on the first event after the download had to start over from byte 0. */
  restarted?: boolean;
}

/** What to download and how to check it. */
export interface ArtifactDownload {
  url: string;
  dest: string;
  length: number;
  sha256: string;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
}

interface PartialInfo {
  url: string;
  validator: string;
}

async function hashPrefix(path: string, hash: ReturnType<typeof createHash>): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
}

/** Downloads and verifies an artifact; returns the number of bytes fetched from the network. */
export async function downloadArtifact(http: HttpClient, job: ArtifactDownload): Promise<{ fetched: number }> {
  await mkdir(dirname(job.dest), { recursive: true });
  const part = `${job.dest}.part`;
  const partInfoFile = `${job.dest}.part.json`;
  const hash = createHash("sha256");
  let offset = 0;
  let validator: string | undefined;
  try {
    const info = JSON.parse(await readFile(partInfoFile, "utf8")) as PartialInfo;
    const size = (await stat(part)).size;
    if (info.url === job.url && info.validator && size > 0 && size < job.length) {
      offset = size;
      validator = info.validator;
    }
  } catch {
    // No usable partial download: start from zero.
  }
  if (offset === 0) await rm(part, { force: true });
  else await hashPrefix(part, hash);

  const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-`, "if-range": validator! } : {};
  const res = await http.get(job.url, { headers, ...(job.signal ? { signal: job.signal } : {}) });
  let restarted = false;
  if (offset > 0 && res.status !== 206) {
    // The server ignored the range, or the file changed: start over cleanly.
    offset = 0;
    restarted = true;
    hash.destroy();
    return downloadFresh();
  }
  return writeBody(offset, hash);

  async function downloadFresh(): Promise<{ fetched: number }> {
    await rm(part, { force: true });
    return writeBody(0, createHash("sha256"));
  }

  async function writeBody(start: number, h: ReturnType<typeof createHash>): Promise<{ fetched: number }> {
    const newValidator = res.headers.get("etag") ?? res.headers.get("last-modified");
    if (newValidator && !/^W\//.test(newValidator)) {
      await writeJsonAtomic(partInfoFile, { url: job.url, validator: newValidator } satisfies PartialInfo);
    }
    const handle = await open(part, start > 0 ? "a" : "w");
    const began = Date.now();
    let written = start;
    let fetched = 0;
    try {
      for await (const chunk of res.body) {
        if (written + chunk.length > job.length) {
          throw new UpdraftError(
            ErrorCodes.TARGET_MISMATCH,
            `${job.url} sent more than its signed length of ${job.length} bytes`,
            { hint: "The server or a mirror is sending altered data. Nothing was installed." },
          );
        }
        h.update(chunk);
        await handle.write(chunk);
        written += chunk.length;
        fetched += chunk.length;
        const seconds = Math.max((Date.now() - began) / 1000, 0.001);
        job.onProgress?.({
          transferred: written,
          total: job.length,
          percent: job.length === 0 ? 100 : (written / job.length) * 100,
          bytesPerSecond: fetched / seconds,
          ...(restarted ? { restarted: true } : {}),
        });
        restarted = false;
      }
      await handle.sync();
    } catch (err) {
      const e = toUpdraftError(err, ErrorCodes.NETWORK, `Downloading ${job.url}`);
      if (e.code === ErrorCodes.TARGET_MISMATCH) await rm(part, { force: true });
      throw e;
    } finally {
      await handle.close();
    }
    if (written !== job.length) {
      throw new UpdraftError(ErrorCodes.NETWORK, `${job.url} ended after ${written} of ${job.length} bytes`, {
        hint: "The connection was cut; run the update again to resume.",
      });
    }
    const digest = h.digest("hex");
    if (digest !== job.sha256) {
      await rm(part, { force: true });
      await rm(partInfoFile, { force: true });
      throw new UpdraftError(
        ErrorCodes.TARGET_MISMATCH,
        `${job.url} does not match its signed sha256 (got ${digest.slice(0, 16)}…, expected ${job.sha256.slice(0, 16)}…)`,
        { hint: "The repository or a mirror is serving altered files. Nothing was installed." },
      );
    }
    await rename(part, job.dest);
    await rm(partInfoFile, { force: true });
    return { fetched };
  }
}

/**
 * Downloads a file whose length is not signed (a SAAU zip, an `update.json` archive): streamed to
 * disk, capped at `maxBytes`, hashed on the way, checked against an expected sha256 when the
 * format gives one, and renamed into place only when complete.
 */
import { createHash } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { ErrorCodes, toUpdraftError, UpdraftError } from "../../../core/errors.js";
import { ensureDir } from "../../../core/fs.js";
import type { HttpClient } from "../../net/http.js";

/** What to fetch and how to check it. */
export interface FileFetch {
  url: string;
  dest: string;
  /** Refuse a body larger than this. */
  maxBytes: number;
  /** Expected lower-case hex sha256, when the format gives one. */
  sha256?: string;
  signal?: AbortSignal;
}

/** Fetches `job.url` to `job.dest`; returns its size and sha256. */
export async function fetchFile(http: HttpClient, job: FileFetch): Promise<{ size: number; sha256: string }> {
  await ensureDir(dirname(job.dest));
  const part = `${job.dest}.part`;
  const hash = createHash("sha256");
  let size = 0;
  const res = await http.get(job.url, job.signal ? { signal: job.signal } : {});
  const handle = await open(part, "w");
  try {
    for await (const chunk of res.body) {
      size += chunk.length;
      if (size > job.maxBytes) {
        throw new UpdraftError(
          ErrorCodes.TARGET_MISMATCH,
          `${job.url} is larger than the ${job.maxBytes} bytes allowed`,
          {
            hint: "The server sends far more than an update should; nothing was installed.",
          },
        );
      }
      hash.update(chunk);
      await handle.write(chunk);
    }
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(part, { force: true });
    throw toUpdraftError(err, ErrorCodes.NETWORK, `Downloading ${job.url}`);
  }
  await handle.close();
  const sha256 = hash.digest("hex");
  if (job.sha256 !== undefined && sha256 !== job.sha256) {
    await rm(part, { force: true });
    throw new UpdraftError(
      ErrorCodes.TARGET_MISMATCH,
      `${job.url} does not match its published sha256 (got ${sha256.slice(0, 16)}…, expected ${job.sha256.slice(0, 16)}…)`,
      { hint: "The file was altered or is still being uploaded; nothing was installed." },
    );
  }
  await rename(part, job.dest);
  return { size, sha256 };
}

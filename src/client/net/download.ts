/**
 * Downloads one signed artifact to disk: streamed, capped at its signed length, hashed on the fly,
 * resumed with `Range` + `If-Range` after a cut (in this run, after a retry with back-off, or in a
 * later run from the `.part` file), restarted cleanly when the server ignores the range or the
 * file changed, and renamed into place only once its length and sha256 match the signed metadata.
 * The bytes already on disk are hashed before the request is sent, so a response body never waits
 * unread (an unread body may be dropped by the runtime, or cut by the server).
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { type FileHandle, open, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { ErrorCodes, toUpdraftError, UpdraftError } from "../../core/errors.js";
import { FaultSteps, faultPoint } from "../../core/fault.js";
import { ensureDir, writeJsonAtomic } from "../../core/fs.js";
import { isJsonObject, parseJson } from "../../core/json.js";
import type { Deadline } from "./deadline.js";
import type { HttpClient, OpenedResponse } from "./http.js";
import { redactUrl } from "./url-policy.js";

/** Progress of a download. */
export interface DownloadProgress {
  /** Bytes of the artifact on disk so far (resumed bytes included). Never decreases, except on an event with `restarted`. */
  transferred: number;
  /** Size of the artifact in bytes (its signed length). */
  total: number;
  /** Share of `total` on disk, from 0 to 100, with decimals (round it for display). */
  percent: number;
  /** Average speed of this attempt, bytes per second. */
  bytesPerSecond: number;
  /** True on the first event after the download had to start over below what was already reported. */
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

/** What a download did. */
export interface DownloadOutcome {
  /** Bytes received from the network by this call (all attempts). */
  fetched: number;
  /** HTTP responses used (1 when nothing went wrong). */
  attempts: number;
}

interface PartialInfo {
  url: string;
  validator: string;
}

/** Shared across the attempts of one call. */
interface RunState {
  fetched: number;
  /** Highest `transferred` reported so far (-1 before the first event). */
  reported: number;
  attempts: number;
  /** Set once the file was rebuilt from zero after a hash mismatch of a resumed file. */
  rebuiltAfterMismatch: boolean;
  /** True when the current `.part` was assembled from more than one response. */
  assembled: boolean;
  /** The sha256 state of the `.part` file's first `hashedLength` bytes, kept between attempts. */
  hashed?: { hash: Hash; length: number } | undefined;
}

/** Bytes the file writer may hold before the network reader waits for the disk. */
const WRITE_BUFFER_BYTES = 8 << 20;

/** The sha256 state of the first `length` bytes of `path`, reusing what an earlier attempt hashed. */
async function hashPrefix(path: string, length: number, state: RunState): Promise<Hash> {
  if (state.hashed?.length === length) return state.hashed.hash.copy();
  const hash = createHash("sha256");
  let seen = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, end: length - 1 })) {
    hash.update(chunk as Buffer);
    seen += (chunk as Buffer).length;
  }
  if (seen !== length) throw new UpdraftError(ErrorCodes.NETWORK, `${path} changed while it was read; starting over`);
  return hash;
}

/**
 * Writes a download's chunks in order while the next ones arrive: chunks are queued and written in
 * batches (one `writev` at a time), and the writer waits only when {@link WRITE_BUFFER_BYTES} are
 * queued, so the network is read at full speed and the disk sees few large writes.
 */
class FileSink {
  private queue: Buffer[] = [];
  private queued = 0;
  private flushing: Promise<void> | undefined;
  private failure: unknown;

  constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    /** File offset up to which bytes are written. */
    public position: number,
    /**
     * Settles once the record that makes these bytes resumable (`.part.json`) is on disk: no byte
     * reaches the `.part` before it, or a kill in between would leave bytes no run can resume.
     */
    private readonly resumable: Promise<void>,
  ) {}

  /**
   * Queues `chunk`. Returns nothing when the caller may go on at once, or a promise to wait for
   * when the queue is full (settled once the disk caught up; rejected if a write failed).
   */
  write(chunk: Uint8Array): Promise<void> | undefined {
    if (this.failure !== undefined) throw this.failure;
    this.queue.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.queued += chunk.byteLength;
    this.flushing ??= this.drain();
    return this.queued >= WRITE_BUFFER_BYTES ? this.finish() : undefined;
  }

  /** Waits until every queued byte is written; throws the first write error. */
  async finish(): Promise<void> {
    await this.flushing;
    if (this.failure !== undefined) throw this.failure;
  }

  private async drain(): Promise<void> {
    try {
      await this.resumable;
      while (this.queue.length > 0) {
        let batch = this.queue;
        this.queue = [];
        this.queued = 0;
        while (batch.length > 0) {
          const first = this.position === 0;
          const { bytesWritten } = await this.handle.writev(batch, this.position);
          if (bytesWritten === 0) throw new Error("the disk accepted no bytes");
          this.position += bytesWritten;
          if (first) await faultPoint(FaultSteps.DOWNLOAD_FIRST_BYTES);
          batch = rest(batch, bytesWritten);
        }
      }
    } catch (err) {
      this.failure = toUpdraftError(err, ErrorCodes.INSTALL_FAILED, `Writing ${this.path}`);
    } finally {
      this.flushing = undefined;
    }
  }
}

/** The part of `buffers` after its first `n` bytes (a short write leaves the rest to write). */
function rest(buffers: Buffer[], n: number): Buffer[] {
  let skip = n;
  let i = 0;
  while (i < buffers.length && skip >= buffers[i]!.length) skip -= buffers[i++]!.length;
  if (i === buffers.length) return [];
  return [buffers[i]!.subarray(skip), ...buffers.slice(i + 1)];
}

/** Longest `.part.json` read; it holds a URL and a validator. */
const PARTIAL_INFO_MAX_BYTES = 16 * 1024;

/**
 * The `.part.json` next to a partial download, or undefined when absent or unusable (files on
 * disk are untrusted: size-capped, and the validator must be a valid header value).
 */
async function readPartialInfo(file: string): Promise<PartialInfo | undefined> {
  try {
    if ((await stat(file)).size > PARTIAL_INFO_MAX_BYTES) return undefined;
    const info = parseJson(await readFile(file, "utf8"));
    if (!isJsonObject(info) || typeof info.url !== "string" || typeof info.validator !== "string") return undefined;
    if (!/^[\x21-\x7e][\x20-\x7e]{0,1023}$/.test(info.validator)) return undefined;
    return { url: info.url, validator: info.validator };
  } catch {
    return undefined;
  }
}

/** Parses `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`). */
export function parseContentRange(value: string | null): { start: number; end: number; total?: number } | undefined {
  const m = value?.match(/^bytes (\d+)-(\d+)\/(\d+|\*)$/);
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), ...(m[3] !== "*" ? { total: Number(m[3]) } : {}) };
}

/** Downloads and verifies an artifact, retrying within the client's policy. */
export async function downloadArtifact(http: HttpClient, job: ArtifactDownload): Promise<DownloadOutcome> {
  http.checkUrl(job.url);
  await ensureDir(dirname(job.dest));
  const deadline = http.newDeadline();
  const state: RunState = { fetched: 0, reported: -1, attempts: 0, rebuiltAfterMismatch: false, assembled: false };
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await attemptOnce(http, job, deadline, state);
        return { fetched: state.fetched, attempts: state.attempts };
      } catch (err) {
        const e = toUpdraftError(err, ErrorCodes.NETWORK, `Downloading ${redactUrl(job.url)}`);
        if (e.code === ErrorCodes.TARGET_MISMATCH && e.internal.rebuildable === true && !state.rebuiltAfterMismatch) {
          // A resumed file can hide a bad piece from an earlier response: rebuild once from zero.
          state.rebuiltAfterMismatch = true;
          continue;
        }
        if (!(await http.backoff(e, attempt, job.url, job.signal, deadline))) throw e;
      }
    }
  } finally {
    deadline.dispose();
  }
}

/** One HTTP response's worth of work: resume or start, stream to `.part`, verify when complete. */
async function attemptOnce(
  http: HttpClient,
  job: ArtifactDownload,
  deadline: Deadline,
  state: RunState,
): Promise<void> {
  const part = `${job.dest}.part`;
  const partInfoFile = `${job.dest}.part.json`;
  const discard = async () => {
    await rm(part, { force: true });
    await rm(partInfoFile, { force: true });
  };
  let offset = 0;
  const info = await readPartialInfo(partInfoFile);
  const validator = info?.url === job.url ? info.validator : undefined;
  if (validator !== undefined) {
    const size = await stat(part).then(
      (st) => st.size,
      () => 0,
    );
    if (size > 0 && size < job.length) offset = size;
    // Killed after the last byte but before the rename: the file may be whole already.
    if (
      size === job.length &&
      (await hashPrefix(part, size, state).catch(() => undefined))?.digest("hex") === job.sha256
    ) {
      await rename(part, job.dest);
      await rm(partInfoFile, { force: true });
      return;
    }
  }
  if (offset === 0) await rm(part, { force: true });
  // Bytes already on disk were reported by an earlier attempt or call: going below them is a restart.
  state.reported = Math.max(state.reported, offset);
  // Hash what is on disk before asking for the rest: the body must be read as soon as it comes.
  let prefixHash: Hash | undefined;
  if (offset > 0) {
    try {
      prefixHash = await hashPrefix(part, offset, state);
    } catch (err) {
      await discard();
      throw toUpdraftError(err, ErrorCodes.NETWORK, `Reading the partial download ${part}`);
    }
  }

  const headers: Record<string, string> =
    offset > 0 && validator ? { range: `bytes=${offset}-`, "if-range": validator } : {};
  let res: OpenedResponse;
  try {
    res = await http.get(job.url, {
      headers,
      deadline,
      retry: false,
      ...(job.signal ? { signal: job.signal } : {}),
    });
  } catch (err) {
    if (err instanceof UpdraftError && err.code === ErrorCodes.HTTP_STATUS && err.details?.status === 416) {
      await discard();
      throw new UpdraftError(ErrorCodes.NETWORK, `${redactUrl(job.url)} refused the resume range; starting over`, {
        cause: err,
        details: { reason: "range-refused" },
      });
    }
    throw err;
  }
  state.attempts++;

  let start = offset;
  if (res.status === 206) {
    const range = parseContentRange(res.headers.get("content-range"));
    if (offset === 0 || !range || range.start !== offset || (range.total !== undefined && range.total !== job.length)) {
      res.cancel();
      await discard();
      throw new UpdraftError(
        ErrorCodes.NETWORK,
        `${redactUrl(job.url)} answered with an unexpected range; starting over`,
        {
          details: { reason: "bad-range", contentRange: res.headers.get("content-range") },
        },
      );
    }
  } else {
    // 200: the whole file (the server ignored the range, or the file changed since the cut).
    start = 0;
    const type = res.headers.get("content-type") ?? "";
    const announced = res.headers.get("content-length");
    const wrongLength = announced !== null && /^\d+$/.test(announced) && Number(announced) !== job.length;
    if (/^text\/html/i.test(type) || wrongLength) {
      res.cancel();
      await discard();
      throw new UpdraftError(
        ErrorCodes.TARGET_MISMATCH,
        `${redactUrl(job.url)} answered with ${/^text\/html/i.test(type) ? "an HTML page" : `${announced} bytes`} instead of the signed ${job.length}-byte file`,
        {
          hint: "A CDN, proxy or captive portal is serving an error page instead of the update. Nothing was installed; try again later.",
          details: { contentType: type, contentLength: announced },
        },
      );
    }
  }
  state.assembled = start > 0;

  const hash = start > 0 ? prefixHash! : createHash("sha256");
  const newValidator = res.headers.get("etag") ?? res.headers.get("last-modified");
  // Recorded while the body streams (never awaited before reading it), and awaited before the end.
  const recorded =
    start > 0
      ? Promise.resolve()
      : newValidator && !/^W\//.test(newValidator)
        ? writeJsonAtomic(partInfoFile, { url: job.url, validator: newValidator } satisfies PartialInfo)
        : rm(partInfoFile, { force: true });
  recorded.catch(() => {});

  // Starting below what was already reported: the first event of this response says so.
  let restartPending = start < state.reported;
  let handle: FileHandle;
  try {
    // Positional writes from `start`: "r+" rather than append mode, whose offsets differ by OS.
    handle = await open(part, start > 0 ? "r+" : "w", 0o644);
  } catch (err) {
    res.cancel();
    throw toUpdraftError(err, ErrorCodes.INSTALL_FAILED, `Opening ${part}`);
  }
  const sink = new FileSink(handle, part, start, recorded);
  const began = Date.now();
  let written = start;
  let fetchedNow = 0;
  state.hashed = undefined;
  try {
    await res.read((chunk) => {
      if (written + chunk.length > job.length) {
        throw new UpdraftError(
          ErrorCodes.TARGET_MISMATCH,
          `${redactUrl(job.url)} sent more than its signed length of ${job.length} bytes`,
          { hint: "The server or a mirror is sending altered or endless data. Nothing was installed." },
        );
      }
      hash.update(chunk);
      const waitForDisk = sink.write(chunk);
      written += chunk.length;
      fetchedNow += chunk.length;
      state.fetched += chunk.length;
      const restarted = restartPending;
      restartPending = false;
      state.reported = written;
      if (job.onProgress) {
        const seconds = Math.max((Date.now() - began) / 1000, 0.001);
        job.onProgress({
          transferred: written,
          total: job.length,
          percent: job.length === 0 ? 100 : (written / job.length) * 100,
          bytesPerSecond: fetchedNow / seconds,
          ...(restarted ? { restarted: true } : {}),
        });
      }
      return waitForDisk;
    });
    await sink.finish();
    // No fsync: the artifact is hashed again before any later use (a torn file after a power
    // loss is downloaded again), so forcing 200 MB to the disk here would only cost time.
    await recorded;
  } catch (err) {
    const e = toUpdraftError(err, ErrorCodes.NETWORK, `Downloading ${redactUrl(job.url)}`);
    await sink.finish().catch(() => {});
    await recorded.catch(() => {});
    await handle.close().catch(() => {});
    if (e.code === ErrorCodes.TARGET_MISMATCH) await discard();
    // What reached the disk is hashed already: the next attempt of this run resumes without re-reading it.
    else if (written < job.length && sink.position === written) state.hashed = { hash: hash.copy(), length: written };
    throw e;
  } finally {
    await handle.close().catch(() => {});
  }
  if (written !== job.length) {
    throw new UpdraftError(ErrorCodes.NETWORK, `${redactUrl(job.url)} ended after ${written} of ${job.length} bytes`, {
      hint: "The connection was cut; run the update again to resume.",
      details: { reason: "short", received: written, length: job.length },
    });
  }
  const digest = hash.digest("hex");
  if (digest !== job.sha256) {
    await discard();
    throw new UpdraftError(
      ErrorCodes.TARGET_MISMATCH,
      `${redactUrl(job.url)} does not match its signed sha256 (got ${digest.slice(0, 16)}…, expected ${job.sha256.slice(0, 16)}…)`,
      {
        hint: "The repository or a mirror is serving altered files. Nothing was installed.",
        internal: { rebuildable: state.assembled },
      },
    );
  }
  await rename(part, job.dest);
  await rm(partInfoFile, { force: true });
}

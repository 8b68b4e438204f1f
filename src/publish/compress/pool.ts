/**
 * A pool of worker threads that compress independent sections into zstd frames, one core each.
 * node:zlib's streaming compressor is single-threaded (and its `ZSTD_c_nbWorkers` mode fails at
 * the end of a stream), so the archive writer cuts its tar stream into sections and compresses
 * them here in parallel; the frames, concatenated in order, are one valid zstd stream.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

/** A section sent to a worker. */
export interface CompressRequest {
  id: number;
  data: Uint8Array;
  level: number;
  windowLog: number;
}

/** A worker's answer: the frame, or why it failed. */
export type CompressReply = { id: number; frame: Uint8Array } | { id: number; error: string };

const WORKER_URL = new URL("./worker.js", import.meta.url);

/** zstd's largest window a client accepts without raising its decoder limit (2^27). */
const MAX_WINDOW_LOG = 27;

/** The smallest zstd window that covers `bytes` (a frame never needs more than its content). */
export function windowLogFor(bytes: number): number {
  return Math.max(10, Math.min(MAX_WINDOW_LOG, Math.ceil(Math.log2(Math.max(1, bytes)))));
}

/** Worker threads that compress sections; {@link CompressPool.close} ends them. */
export class CompressPool {
  readonly size: number;
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly waiting = new Map<number, { resolve: (frame: Buffer) => void; reject: (err: Error) => void }>();
  private readonly queue: CompressRequest[] = [];
  private nextId = 0;
  private failure: Error | undefined;

  /** Starts `size` workers (default: one per core). */
  constructor(size = availableParallelism()) {
    this.size = Math.max(1, size);
    for (let i = 0; i < this.size; i++) {
      const worker = new Worker(WORKER_URL);
      worker.on("message", (reply: CompressReply) => this.settle(worker, reply));
      worker.on("error", (err) => this.fail(err));
      worker.on("exit", (code) => {
        if (code !== 0) this.fail(new Error(`a compression worker exited with code ${code}`));
      });
      this.all.push(worker);
      this.idle.push(worker);
    }
  }

  /** Compresses `data` into one frame at `level`; `data` is transferred and unusable afterwards. */
  compress(data: Uint8Array, level: number): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    const request: CompressRequest = { id: this.nextId++, data, level, windowLog: windowLogFor(data.length) };
    const result = new Promise<Buffer>((resolve, reject) => this.waiting.set(request.id, { resolve, reject }));
    this.queue.push(request);
    this.dispatch();
    return result;
  }

  /** Ends every worker. */
  async close(): Promise<void> {
    await Promise.all(this.all.map((w) => w.terminate()));
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const request = this.queue.shift()!;
      const worker = this.idle.pop()!;
      const owned = request.data.byteOffset === 0 && request.data.byteLength === request.data.buffer.byteLength;
      const data = owned ? request.data : request.data.slice();
      worker.postMessage({ ...request, data }, [data.buffer as ArrayBuffer]);
    }
  }

  private settle(worker: Worker, reply: CompressReply): void {
    const waiter = this.waiting.get(reply.id);
    this.waiting.delete(reply.id);
    this.idle.push(worker);
    if ("error" in reply) waiter?.reject(new Error(reply.error));
    else waiter?.resolve(Buffer.from(reply.frame.buffer, reply.frame.byteOffset, reply.frame.byteLength));
    this.dispatch();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const waiter of this.waiting.values()) waiter.reject(err);
    this.waiting.clear();
    this.queue.length = 0;
  }
}

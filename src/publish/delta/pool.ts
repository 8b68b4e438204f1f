/**
 * Runs delta jobs in worker threads, one per core by default (each worker may use up to about
 * 1 GiB for zstd's tables at level 19 with a large reference), relaying progress.
 */

import { availableParallelism, totalmem } from "node:os";
import { Worker } from "node:worker_threads";
import type { BuiltDelta, DeltaEstimate, DeltaJob } from "./build-one.js";

/** Messages a worker posts. */
export type WorkerMessage =
  | { type: "progress"; done: number; total: number }
  | { type: "done"; result: BuiltDelta }
  | { type: "estimated"; estimate: DeltaEstimate }
  | { type: "gave-up"; reason: string }
  | { type: "error"; message: string };

/** The outcome of one job: built, estimated, given up (it could not win), or failed. */
export type JobOutcome =
  | { job: DeltaJob; result: BuiltDelta }
  | { job: DeltaJob; estimate: DeltaEstimate }
  | { job: DeltaJob; gaveUp: string }
  | { job: DeltaJob; error: string };

/** Progress across all jobs: needed-stream bytes done and in all, and jobs finished. */
export interface PoolProgress {
  bytesDone: number;
  bytesTotal: number;
  jobsDone: number;
  jobsTotal: number;
}

/** Options of {@link runDeltaJobs}. */
export interface PoolOptions {
  /** Workers at once; default: one per core, at most one per GiB of memory. */
  concurrency?: number;
  onProgress?: (progress: PoolProgress) => void;
}

/** One worker per core, at most one per GiB of memory (level 19 with a large reference needs about that). */
export function defaultConcurrency(): number {
  return Math.max(1, Math.min(availableParallelism(), Math.floor(totalmem() / 2 ** 30)));
}

const WORKER_URL = new URL("./worker.js", import.meta.url);

function runOne(job: DeltaJob, onProgress: (done: number, total: number) => void): Promise<JobOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: JobOutcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const worker = new Worker(WORKER_URL, { workerData: job });
    worker.on("message", (message: WorkerMessage) => {
      if (message.type === "progress") onProgress(message.done, message.total);
      else if (message.type === "done") finish({ job, result: message.result });
      else if (message.type === "estimated") finish({ job, estimate: message.estimate });
      else if (message.type === "gave-up") finish({ job, gaveUp: message.reason });
      else finish({ job, error: message.message });
    });
    worker.on("error", (err) => finish({ job, error: err.stack ?? err.message }));
    worker.on("exit", (code) => finish({ job, error: `the delta worker exited with code ${code}` }));
  });
}

/** Runs every job (never rejects: failures are returned per job). */
export async function runDeltaJobs(jobs: readonly DeltaJob[], options: PoolOptions = {}): Promise<JobOutcome[]> {
  const concurrency = Math.max(1, options.concurrency ?? defaultConcurrency());
  const done = new Array<number>(jobs.length).fill(0);
  const totals = new Array<number>(jobs.length).fill(0);
  const outcomes: JobOutcome[] = new Array(jobs.length);
  let next = 0;
  let jobsDone = 0;
  const report = () =>
    options.onProgress?.({
      bytesDone: done.reduce((a, b) => a + b, 0),
      bytesTotal: totals.reduce((a, b) => a + b, 0),
      jobsDone,
      jobsTotal: jobs.length,
    });
  const lane = async () => {
    while (next < jobs.length) {
      const index = next++;
      outcomes[index] = await runOne(jobs[index]!, (d, t) => {
        done[index] = d;
        totals[index] = t;
        report();
      });
      jobsDone++;
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, lane));
  return outcomes;
}

/**
 * Runs delta jobs in worker threads, a few at a time (one per core by default; each worker may
 * use up to about 1 GiB for zstd's tables at level 19 with a large reference), relaying progress.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { BuiltDelta, DeltaJob } from "./build-one.js";

/** Messages a worker posts. */
export type WorkerMessage =
  | { type: "progress"; done: number; total: number }
  | { type: "done"; result: BuiltDelta }
  | { type: "error"; message: string };

/** The outcome of one job. */
export type JobOutcome = { job: DeltaJob; result: BuiltDelta } | { job: DeltaJob; error: string };

/** Progress across all jobs: needed-stream bytes done and in all, and jobs finished. */
export interface PoolProgress {
  bytesDone: number;
  bytesTotal: number;
  jobsDone: number;
  jobsTotal: number;
}

/** Options of {@link runDeltaJobs}. */
export interface PoolOptions {
  /** Workers at once; default: the number of cores, at most 4. */
  concurrency?: number;
  onProgress?: (progress: PoolProgress) => void;
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
      else finish({ job, error: message.message });
    });
    worker.on("error", (err) => finish({ job, error: err.stack ?? err.message }));
    worker.on("exit", (code) => finish({ job, error: `the delta worker exited with code ${code}` }));
  });
}

/** Runs every job (never rejects: failures are returned per job). */
export async function runDeltaJobs(jobs: readonly DeltaJob[], options: PoolOptions = {}): Promise<JobOutcome[]> {
  const concurrency = Math.max(1, options.concurrency ?? Math.min(4, availableParallelism()));
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

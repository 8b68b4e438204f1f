/**
 * Worker thread entry: builds (or only estimates) the one delta it is given (see build-one.ts)
 * and reports progress, then the result, the reason it gave up, or the error, to its parent.
 */
import { parentPort, workerData } from "node:worker_threads";
import { buildDelta, DeltaCannotWin, type DeltaJob, estimateDelta } from "./build-one.js";
import type { WorkerMessage } from "./pool.js";

const port = parentPort;
if (port) {
  const job = workerData as DeltaJob;
  const post = (message: WorkerMessage) => port.postMessage(message);
  let last = 0;
  try {
    const progress = (done: number, total: number) => {
      const now = Date.now();
      if (done === total || now - last > 200) {
        last = now;
        post({ type: "progress", done, total });
      }
    };
    if (job.estimateOnly) post({ type: "estimated", estimate: estimateDelta(job, progress) });
    else post({ type: "done", result: buildDelta(job, progress) });
  } catch (err) {
    if (err instanceof DeltaCannotWin) post({ type: "gave-up", reason: err.message });
    else post({ type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
}

/**
 * Worker thread entry: builds the one delta it is given (see build-one.ts) and reports progress,
 * then the result or the error, to its parent.
 */
import { parentPort, workerData } from "node:worker_threads";
import { buildDelta, type DeltaJob } from "./build-one.js";
import type { WorkerMessage } from "./pool.js";

const port = parentPort;
if (port) {
  const job = workerData as DeltaJob;
  const post = (message: WorkerMessage) => port.postMessage(message);
  let last = 0;
  try {
    const result = buildDelta(job, (done, total) => {
      const now = Date.now();
      if (done === total || now - last > 200) {
        last = now;
        post({ type: "progress", done, total });
      }
    });
    post({ type: "done", result });
  } catch (err) {
    post({ type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
}

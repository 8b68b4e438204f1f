/**
 * Sends the body a {@link ResponsePlan} calls for, from a cached copy or from an open file:
 * read at once when small, streamed with backpressure otherwise. Closes the descriptor in every
 * case, including when the client goes away mid-download.
 */
import { read } from "node:fs";
import type { ServerResponse } from "node:http";
import { pumpFile } from "./file-pump.js";
import { closeQuietly, type OpenedFile } from "./open-file.js";
import type { ResponsePlan } from "./response-plan.js";
import type { SmallFileCache } from "./small-file-cache.js";
import type { Validators } from "./validators.js";

/**
 * Writes `bytes` and ends `res` only once the socket has taken them. Node's `server.close()`
 * destroys every connection whose response has been ended (`res.finished`), flushed or not, so
 * ending after the flush keeps a graceful shutdown from cutting a response still being sent.
 */
export function writeThenEnd(res: ServerResponse, bytes: Buffer): void {
  res.write(bytes, () => res.end());
}

/** Sends `plan` with bytes from a cached copy of the whole file. */
export function sendFromMemory(res: ServerResponse, plan: ResponsePlan, body: Buffer): void {
  res.writeHead(plan.status, plan.headers);
  if (!plan.withBody) res.end();
  else if (plan.start === 0 && plan.end === body.length - 1) writeThenEnd(res, body);
  else writeThenEnd(res, body.subarray(plan.start, plan.end + 1));
}

/**
 * Sends `plan` with bytes from `file`, then closes it. Files the cache accepts are read whole
 * (and kept in `cache` when the plan sends all of them); larger ones are streamed.
 */
export function sendFromFile(
  res: ServerResponse,
  plan: ResponsePlan,
  file: OpenedFile,
  validators: Validators,
  cache: SmallFileCache,
  onError: (err: Error) => void,
): void {
  if (!plan.withBody) {
    closeQuietly(file.fd);
    res.writeHead(plan.status, plan.headers).end();
    return;
  }
  const size = Number(file.stats.size);
  if (cache.fits(size)) readWhole(res, plan, file, validators, cache, onError);
  else streamRange(res, plan, file, onError);
}

function readWhole(
  res: ServerResponse,
  plan: ResponsePlan,
  file: OpenedFile,
  validators: Validators,
  cache: SmallFileCache,
  onError: (err: Error) => void,
): void {
  const size = Number(file.stats.size);
  const body = Buffer.allocUnsafe(size);
  read(file.fd, body, 0, size, 0, (err, bytesRead) => {
    closeQuietly(file.fd);
    if (err) {
      onError(err);
      return;
    }
    if (bytesRead !== size) {
      // The file shrank in place after fstat (publish never does this: it renames). Better a
      // broken connection the client retries than a body that does not match Content-Length.
      res.destroy();
      return;
    }
    cache.set(file.stats, body, validators);
    sendFromMemory(res, plan, body);
  });
}

function streamRange(res: ServerResponse, plan: ResponsePlan, file: OpenedFile, onError: (err: Error) => void): void {
  res.writeHead(plan.status, plan.headers);
  pumpFile(res, file.fd, plan.start, plan.end, onError);
}

/**
 * The health reports endpoint of `updraft serve --events DB`: `POST /_events` with one JSON
 * report (see formats/health-report.ts). Bodies over 2 KiB, other content types, invalid reports
 * and clients over their rate are refused; an accepted report is handed to the sink and answered
 * `202` with no body. The endpoint never says more than a status: installs do not read the answer.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type HealthReport, MAX_HEALTH_REPORT_BYTES, parseHealthReport } from "../formats/health-report.js";

/** The request path of the endpoint. App names cannot start with `_`, so it never shadows a file. */
export const HEALTH_EVENTS_PATH = "/_events";

/** Where accepted reports go, and how many a client may send. */
export interface HealthEventsOptions {
  /** Stores one validated report (e.g. `EventStore.record`). */
  record(report: HealthReport): void;
  /** Reports one client address may send per minute (default 60); more are answered 429. */
  perMinute?: number;
}

/** Addresses whose rate is tracked at once; the oldest is forgotten past this. */
const MAX_TRACKED_CLIENTS = 10_000;

/** A per-address token bucket: `perMinute` tokens, refilled continuously. */
class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly perMinute: number) {}

  take(address: string, now = Date.now()): boolean {
    const bucket = this.buckets.get(address) ?? { tokens: this.perMinute, at: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + ((now - bucket.at) * this.perMinute) / 60_000);
    bucket.at = now;
    this.buckets.delete(address);
    this.buckets.set(address, bucket);
    if (this.buckets.size > MAX_TRACKED_CLIENTS) this.buckets.delete(this.buckets.keys().next().value!);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

function answer(res: ServerResponse, status: number): void {
  res.shouldKeepAlive = false;
  res.writeHead(status, { "cache-control": "no-store", "content-length": 0 }).end();
}

/** Creates the handler of `POST /_events`; it answers every request it is given. */
export function createHealthEventsHandler(
  options: HealthEventsOptions,
  onError?: (message: string) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  const limiter = new RateLimiter(options.perMinute ?? 60);
  return (req, res) => {
    if (req.method !== "POST") return answer(res, 405);
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/json") return answer(res, 415);
    const declared = Number(req.headers["content-length"] ?? Number.NaN);
    if (!(declared <= MAX_HEALTH_REPORT_BYTES)) return answer(res, declared > 0 ? 413 : 411);
    if (!limiter.take(req.socket.remoteAddress ?? "")) return answer(res, 429);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_HEALTH_REPORT_BYTES) {
        answer(res, 413);
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => {
      if (res.headersSent) return;
      let parsed: HealthReport | string;
      try {
        parsed = parseHealthReport(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch {
        parsed = "not JSON";
      }
      if (typeof parsed === "string") return answer(res, 400);
      try {
        options.record(parsed);
      } catch (err) {
        onError?.(`cannot store a health report: ${(err as Error).message}`);
        return answer(res, 503);
      }
      answer(res, 202);
    });
    req.on("error", () => res.destroy());
  };
}

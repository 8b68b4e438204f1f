/**
 * When and how long to wait before trying a request again: bounded attempts, exponential back-off
 * with random jitter, and the server's `Retry-After` honoured (up to a cap). Pure decisions plus
 * an abortable sleep; the HTTP client and the downloader run the loops.
 */
import { ErrorCodes, isRetryableCode, UpdraftError } from "../../core/errors.js";

/** What a retry is about to do, for logs and tests (never carries headers or tokens). */
export interface RetryInfo {
  /** The attempt that just failed (1 = the first try). */
  attempt: number;
  /** How long the client waits before the next attempt (ms). */
  delayMs: number;
  /** True when the delay comes from the server's `Retry-After`. */
  fromRetryAfter: boolean;
  /** The error that caused the retry. */
  error: UpdraftError;
}

/** Retry settings. Every field has a default. */
export interface RetryOptions {
  /** Total attempts, the first included (default 4; 1 disables retries). */
  attempts?: number;
  /** First back-off delay (default 500 ms); doubles on each retry. */
  baseDelayMs?: number;
  /** Longest back-off delay (default 15 s). */
  maxDelayMs?: number;
  /** Longest `Retry-After` the client is willing to wait (default 120 s); longer ones fail at once. */
  maxRetryAfterMs?: number;
  /** Called before each wait. */
  onRetry?: (info: RetryInfo) => void;
}

/** {@link RetryOptions} with every default filled in. */
export type RetryPolicy = Required<Omit<RetryOptions, "onRetry">> & Pick<RetryOptions, "onRetry">;

/** Defaults of {@link RetryOptions}. */
export const DEFAULT_RETRY: Readonly<RetryPolicy> = {
  attempts: 4,
  baseDelayMs: 500,
  maxDelayMs: 15_000,
  maxRetryAfterMs: 120_000,
};

/** Fills in defaults and checks the numbers. */
export function retryPolicy(options: RetryOptions = {}): RetryPolicy {
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options };
  for (const key of ["attempts", "baseDelayMs", "maxDelayMs", "maxRetryAfterMs"] as const) {
    const v = policy[key];
    if (!Number.isFinite(v) || v < 0 || (key === "attempts" && (v < 1 || !Number.isInteger(v)))) {
      throw new UpdraftError(ErrorCodes.USAGE, `Invalid retry option ${key}: ${v}`, {
        hint: "attempts is a whole number from 1; delays are non-negative milliseconds.",
      });
    }
  }
  policy.attempts = Math.min(policy.attempts, 100);
  return policy;
}

/** HTTP statuses worth trying again: timeouts, rate limits and server-side failures. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * True if another attempt may succeed where this error failed: the code's row of the error table
 * decides (for `HTTP_STATUS`, by {@link RETRYABLE_STATUSES}), unless this one error opted out.
 */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof UpdraftError)) return false;
  if (err.internal.retryable !== undefined) return err.internal.retryable;
  return isRetryableCode(err.code, RETRYABLE_STATUSES.has(Number(err.details?.status)));
}

/**
 * Connection failures that mean nothing answers at that address (refused, no route, no such host,
 * no answer to the connection attempt), as opposed to a transfer cut mid-way.
 */
const UNREACHABLE_REASONS: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** True when `err` says the server could not be reached at all (see {@link UNREACHABLE_REASONS}). */
export function isUnreachable(err: unknown): boolean {
  if (!(err instanceof UpdraftError) || err.code !== ErrorCodes.NETWORK) return false;
  const reason = err.details?.reason;
  return typeof reason === "string" && UNREACHABLE_REASONS.has(reason);
}

/**
 * Parses a `Retry-After` value (delay in seconds, or an HTTP date) into milliseconds from `now`.
 * Returns undefined when absent or unreadable; never negative.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  if (!/^[A-Za-z]{3},? /.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * Back-off before attempt `attempt + 1`: `baseDelayMs · 2^(attempt-1)`, capped at `maxDelayMs`,
 * then a random point in its upper half ("equal jitter"), so a fleet of clients never retries in step.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(exp / 2 + (exp / 2) * random());
}

/**
 * Decides what follows a failed attempt: `undefined` to give up (not retryable, out of attempts, or
 * the server asks to wait longer than allowed), else the delay before the next attempt.
 */
export function nextRetry(
  err: unknown,
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): { delayMs: number; fromRetryAfter: boolean } | undefined {
  if (attempt >= policy.attempts || !isRetryable(err)) return undefined;
  const retryAfter = (err as UpdraftError).details?.retryAfterMs;
  if (typeof retryAfter === "number") {
    if (retryAfter > policy.maxRetryAfterMs) return undefined;
    return { delayMs: retryAfter, fromRetryAfter: true };
  }
  return { delayMs: backoffDelay(attempt, policy, random), fromRetryAfter: false };
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

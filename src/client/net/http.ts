/**
 * The client's only door to the network. Every request goes through one {@link Transport} (by
 * default the pinned `undici` package through our own dispatchers, with a proxy and extra CAs when
 * configured; or an injected {@link FetchFunction}) and gets: a stall timeout (no byte for a
 * while) separate from an overall deadline (by default bounded for small documents), redirects
 * followed by hand up to a limit (custom headers and tokens stay with the origin they were meant
 * for, https is never downgraded), plain `http://` refused for non-loopback hosts unless opted in,
 * bounded retries with back-off, jitter and `Retry-After`, and errors mapped to stable codes.
 */
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { Deadline } from "./deadline.js";
import type { DispatchOptions } from "./proxy.js";
import {
  isUnreachable,
  nextRetry,
  parseRetryAfter,
  type RetryOptions,
  type RetryPolicy,
  retryPolicy,
  sleep,
} from "./retry.js";
import {
  type ChunkHandler,
  type FetchFunction,
  fetchTransport,
  type Transport,
  type TransportResponse,
  undiciTransport,
} from "./transport.js";
import { assertTransportAllowed, parseHttpUrl, redactUrl, sameOrigin } from "./url-policy.js";

export type { ChunkHandler, FetchFunction } from "./transport.js";

/** Network settings shared by the library (`Updater`, `installFromRepository`) and the CLI. */
export interface NetworkOptions extends DispatchOptions {
  /** Inject a fetch (tests, exotic transports). When given, `proxy`, `ca` and `caFile` are not applied (the fetch owns transport). */
  fetch?: FetchFunction;
  /** Extra request headers (e.g. authorization). Never logged; sent only to the origin of each request, not after a redirect to another host. */
  headers?: Record<string, string>;
  /** Bearer token for a private repository: sent as `authorization: Bearer …`, with the same rules as `headers`. */
  token?: string;
  /** Abort a response when no byte arrived for this long (ms). Default 30 s. */
  stallTimeoutMs?: number;
  /**
   * Overall limit of one operation (a metadata file, an artifact with its retries), in ms.
   * Default: none for artifacts (the stall timeout bounds them); small documents get
   * `metadataDeadlineMs`.
   */
  deadlineMs?: number;
  /**
   * Overall limit of fetching one small document (TUF metadata, a label), retries included, in
   * ms. Default: `deadlineMs` if given, else 15 s plus the document's size limit at 8 KiB/s (17 s
   * for a timestamp, 78 s for a root), so a server dripping bytes cannot hold the client, while a
   * large targets file on a slow mobile link still arrives.
   */
  metadataDeadlineMs?: number;
  /** Retry attempts and back-off. */
  retry?: RetryOptions;
  /** Redirects followed per request (default 5). */
  maxRedirects?: number;
  /** Allow plain `http://` to hosts other than loopback (default false). */
  allowInsecureHttp?: boolean;
}

/** Options of {@link HttpClient}. */
export interface HttpClientOptions extends NetworkOptions {
  userAgent?: string;
}

/** Keeps only the network settings of a larger options object (e.g. `UpdaterOptions`). */
export function networkOptionsOf(o: NetworkOptions): NetworkOptions {
  const keys = [
    "fetch",
    "headers",
    "token",
    "stallTimeoutMs",
    "deadlineMs",
    "metadataDeadlineMs",
    "retry",
    "maxRedirects",
    "allowInsecureHttp",
    "proxy",
    "env",
    "ca",
    "caFile",
  ] as const satisfies readonly (keyof NetworkOptions)[];
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out as NetworkOptions;
}

/** Counters of what the client sent and received, for `status` and benchmarks. */
export interface TrafficStats {
  /** HTTP requests sent, each redirect hop and retry counted. */
  requests: number;
  /** Response body bytes received. */
  bytes: number;
}

/** A response body being read, with the request's metadata. */
export interface OpenedResponse {
  status: number;
  headers: Headers;
  /** The URL that answered (after redirects), redacted for messages. */
  url: string;
  /**
   * Reads the body into `onChunk` (see {@link ChunkHandler}: return a promise to pause it); the
   * stall timer restarts on each chunk. Errors of the transfer come as `NETWORK`, `TIMEOUT` or
   * `ABORTED`; an error `onChunk` throws comes as it is. Read once, either this way or `body`.
   */
  read(onChunk: ChunkHandler): Promise<void>;
  /** The body as an async iterable (one chunk at a time; `read` is faster for large files). */
  body: AsyncIterable<Uint8Array>;
  /** Drops the body unread and closes the connection. */
  cancel(): void;
}

/** Per-request options of {@link HttpClient.get}. */
export interface RequestOptions {
  headers?: Record<string, string>;
  /** Cancels the request (code `ABORTED`). */
  signal?: AbortSignal;
  /** Shared deadline of a larger operation; by default each call gets one of `deadlineMs`. */
  deadline?: Deadline;
  /** Retry failures to open the response (default true). */
  retry?: boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const DEFAULT_STALL_MS = 30_000;
const DEFAULT_MAX_REDIRECTS = 5;
/** Grace of a small document's default deadline: connecting, TLS, a retry or two. */
const SMALL_DOCUMENT_GRACE_MS = 15_000;
/** Slowest average rate a small document may arrive at by default (a poor mobile link). */
const SMALL_DOCUMENT_MIN_BYTES_PER_S = 8 * 1024;

/** The default overall deadline of a small document of at most `maxBytes` (see `metadataDeadlineMs`). */
export function smallDocumentDeadlineMs(maxBytes: number): number {
  return SMALL_DOCUMENT_GRACE_MS + Math.ceil((maxBytes / SMALL_DOCUMENT_MIN_BYTES_PER_S) * 1000);
}

/**
 * An async iterable over a push-style `read`: each chunk is handed over when the consumer asks for
 * the next one, and the body waits meanwhile.
 */
async function* pull(read: (onChunk: ChunkHandler) => Promise<void>, cancel: () => void): AsyncGenerator<Uint8Array> {
  const ready: Uint8Array[] = [];
  let finished = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  let taken: (() => void) | undefined;
  const reading = read((chunk) => {
    ready.push(chunk);
    wake?.();
    return new Promise<void>((resolve) => {
      taken = resolve;
    });
  });
  reading.then(
    () => {
      finished = true;
      wake?.();
    },
    (error: unknown) => {
      failure = { error };
      finished = true;
      wake?.();
    },
  );
  try {
    while (true) {
      const chunk = ready.shift();
      if (chunk) {
        yield chunk;
        const next = taken;
        taken = undefined;
        next?.();
        continue;
      }
      if (failure) throw failure.error;
      if (finished) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  } finally {
    if (!finished) cancel();
  }
}

function statusHint(status: number): string {
  if (status === 404) return "Check the repository URL and the app name.";
  if (status === 401 || status === 403)
    return "The repository refused access: give a token (--token, token) or headers if it is private.";
  if (status === 407) return "The proxy needs credentials: put them in the proxy URL (http://user:pass@host:port).";
  return "The server is failing; try again later.";
}

/** HTTP GETs with stall detection, deadlines, redirects, retries and clear errors. */
export class HttpClient {
  readonly stats: TrafficStats = { requests: 0, bytes: 0 };
  /** The retry policy every operation of this client follows. */
  readonly retryPolicy: RetryPolicy;
  private readonly transport: Transport;
  private readonly secretHeaders: Record<string, string>;
  private readonly userAgent: string;
  private readonly stallTimeoutMs: number;
  private readonly deadlineMs: number | undefined;
  private readonly metadataDeadlineMs: number | undefined;
  private readonly maxRedirects: number;
  private readonly allowInsecureHttp: boolean;
  /** False in a {@link HttpClient.failingFastWhenUnreachable} view. */
  private retryUnreachable = true;

  constructor(options: HttpClientOptions = {}) {
    this.transport = options.fetch ? fetchTransport(options.fetch) : undiciTransport(options);
    this.secretHeaders = { ...options.headers };
    if (options.token !== undefined) this.secretHeaders.authorization = `Bearer ${options.token}`;
    this.userAgent = options.userAgent ?? "updraft";
    this.stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STALL_MS;
    this.deadlineMs = options.deadlineMs;
    this.metadataDeadlineMs = options.metadataDeadlineMs ?? options.deadlineMs;
    this.maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
    this.allowInsecureHttp = options.allowInsecureHttp === true;
    this.retryPolicy = retryPolicy(options.retry);
  }

  /** A new deadline of this client's `deadlineMs` (never expiring when unset). */
  newDeadline(): Deadline {
    return new Deadline(this.deadlineMs);
  }

  /**
   * This client (same transport, settings and counters) giving up at once, without retries, on a
   * server it cannot reach at all (refused, no route, no such host): for a base URL with another
   * one after it, where waiting out the retry budget only delays the next. Transfers cut mid-way
   * and server errors are retried as usual.
   */
  failingFastWhenUnreachable(): HttpClient {
    const view = Object.create(HttpClient.prototype) as HttpClient;
    return Object.assign(view, this, { retryUnreachable: false });
  }

  /** Throws `INSECURE_TRANSPORT` / `USAGE` if this client would refuse `url`; use before any work. */
  checkUrl(url: string): void {
    assertTransportAllowed(parseHttpUrl(url), this.allowInsecureHttp);
  }

  /**
   * Waits before the next attempt after `err` failed attempt `attempt`; returns false (no wait)
   * when the error is final. Cancellation and the deadline interrupt the wait with their codes.
   */
  async backoff(
    err: unknown,
    attempt: number,
    url: string,
    signal?: AbortSignal,
    deadline?: Deadline,
  ): Promise<boolean> {
    if (!this.retryUnreachable && isUnreachable(err)) return false;
    const next = nextRetry(err, attempt, this.retryPolicy);
    if (!next) return false;
    this.retryPolicy.onRetry?.({ attempt, ...next, error: err as UpdraftError });
    const signals = [signal, deadline?.signal].filter((s): s is AbortSignal => s !== undefined);
    try {
      await sleep(next.delayMs, signals.length > 0 ? AbortSignal.any(signals) : undefined);
    } catch (cause) {
      throw this.abortError(url, signal, deadline, cause);
    }
    return true;
  }

  /**
   * GETs `url`. Resolves once headers arrived; the caller must consume or cancel `body`.
   * Statuses outside 2xx throw `HTTP_STATUS` with `details.status` (after retries for 5xx/429).
   */
  async get(url: string, options: RequestOptions = {}): Promise<OpenedResponse> {
    const own = options.deadline ? undefined : this.newDeadline();
    const deadline = options.deadline ?? own!;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.open(url, options, deadline, () => own?.dispose());
      } catch (err) {
        if (options.retry === false || !(await this.backoff(err, attempt, url, options.signal, deadline))) {
          own?.dispose();
          throw err;
        }
      }
    }
  }

  /**
   * GETs a small document whole, refusing more than `maxBytes` (throws `tooLarge()` if given, else
   * `TARGET_MISMATCH`). A body cut mid-way is fetched again within the retry policy, all within
   * `metadataDeadlineMs` (by default sized on `maxBytes`), so no trickle holds the client.
   */
  async getBytes(
    url: string,
    maxBytes: number,
    signal?: AbortSignal,
    options: { tooLarge?: () => Error } = {},
  ): Promise<Buffer> {
    const deadline = new Deadline(this.metadataDeadlineMs ?? smallDocumentDeadlineMs(maxBytes));
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          const res = await this.get(url, { deadline, retry: false, ...(signal ? { signal } : {}) });
          const chunks: Uint8Array[] = [];
          let total = 0;
          await res.read((chunk) => {
            total += chunk.length;
            if (total > maxBytes) {
              throw (
                options.tooLarge?.() ??
                new UpdraftError(
                  ErrorCodes.TARGET_MISMATCH,
                  `${redactUrl(url)} is larger than the allowed ${maxBytes} bytes`,
                  {
                    hint: "The server sent more data than expected; it may be misbehaving or hostile.",
                  },
                )
              );
            }
            chunks.push(chunk);
          });
          return Buffer.concat(chunks);
        } catch (err) {
          if (!(await this.backoff(err, attempt, url, signal, deadline))) throw err;
        }
      }
    } finally {
      deadline.dispose();
    }
  }

  private abortError(url: string, signal: AbortSignal | undefined, deadline: Deadline | undefined, cause: unknown) {
    if (signal?.aborted) {
      return new UpdraftError(ErrorCodes.ABORTED, `Download of ${redactUrl(url)} cancelled`, { cause });
    }
    if (deadline?.expired) {
      return new UpdraftError(
        ErrorCodes.TIMEOUT,
        `${redactUrl(url)} did not finish within ${(deadline.ms ?? 0) / 1000} s`,
        {
          cause,
          hint: "The network or the server is too slow for the deadline; try again, or raise it (--timeout, deadlineMs, metadataDeadlineMs).",
          details: { url: redactUrl(url), deadlineMs: deadline.ms },
        },
      );
    }
    return undefined;
  }

  private headersFor(origin: URL, target: URL, perRequest: Record<string, string> | undefined): Record<string, string> {
    return {
      "user-agent": this.userAgent,
      ...(sameOrigin(origin, target) ? this.secretHeaders : {}),
      ...perRequest,
    };
  }

  /** One attempt: follows redirects by hand, checks the status, returns the body being read. */
  private async open(
    url: string,
    options: RequestOptions,
    deadline: Deadline,
    onFinished: () => void,
  ): Promise<OpenedResponse> {
    const start = parseHttpUrl(url);
    const outer = options.signal;
    const early = this.abortError(url, outer, deadline, undefined);
    if (early) throw early;
    const controller = new AbortController();
    const onAbort = () => controller.abort(new Error("aborted"));
    outer?.addEventListener("abort", onAbort, { once: true });
    deadline.signal.addEventListener("abort", onAbort, { once: true });
    let stalled = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      if (timer) {
        timer.refresh();
        return;
      }
      timer = setTimeout(() => {
        stalled = true;
        controller.abort(new Error("stalled"));
      }, this.stallTimeoutMs);
      timer.unref?.();
    };
    let cleaned = false;
    const cleanup = () => {
      if (cleaned) return;
      cleaned = true;
      clearTimeout(timer);
      outer?.removeEventListener("abort", onAbort);
      deadline.signal.removeEventListener("abort", onAbort);
      onFinished();
    };
    /** Maps a failure while connecting (`reading` false) or reading the body to a stable code. */
    const convert = (err: unknown, at: URL, reading: boolean): UpdraftError => {
      cleanup();
      const aborted = this.abortError(at.href, outer, deadline, err);
      if (aborted) return aborted;
      if (err instanceof UpdraftError) return err;
      if (stalled) {
        return new UpdraftError(
          ErrorCodes.NETWORK,
          `No data from ${redactUrl(at)} for ${this.stallTimeoutMs / 1000} s`,
          {
            cause: err,
            hint: "The connection stalled; check the network and try again.",
            details: { reason: "stalled", url: redactUrl(at) },
          },
        );
      }
      const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
      const code = e.cause?.code ?? e.code ?? "connection";
      const what = e.cause?.code ?? e.cause?.message ?? e.code ?? e.message ?? String(err);
      if (reading) {
        return new UpdraftError(ErrorCodes.NETWORK, `The transfer from ${redactUrl(at)} broke off: ${what}`, {
          cause: err,
          hint: "The connection was cut; run the same command again to resume.",
          details: { reason: code, url: redactUrl(at) },
        });
      }
      // Certificate problems do not go away by retrying; they need a CA bundle or a fixed server.
      const tls = /CERT|SELF_SIGNED|TLS|SSL|ALTNAME/i.test(code);
      return new UpdraftError(ErrorCodes.NETWORK, `Cannot reach ${redactUrl(at)}: ${what}`, {
        cause: err,
        hint: tls
          ? "The server's TLS certificate is not trusted: if the repository uses a private CA, pass --ca-file (caFile)."
          : "Check the repository URL, the proxy settings and the network connection.",
        details: { reason: code, url: redactUrl(at) },
        ...(tls ? { internal: { retryable: false } } : {}),
      });
    };

    let current = start;
    let response: TransportResponse;
    const visited = new Set([start.href]);
    try {
      arm();
      for (let hops = 0; ; hops++) {
        assertTransportAllowed(current, this.allowInsecureHttp);
        this.stats.requests++;
        response = await this.transport.request(current.href, {
          headers: this.headersFor(start, current, options.headers),
          signal: controller.signal,
        });
        if (!REDIRECTS.has(response.status)) break;
        // Never leave a body waiting: a paused body holds its connection.
        response.cancel();
        const location = response.headers.get("location");
        if (!location) {
          throw new UpdraftError(ErrorCodes.HTTP_STATUS, `${redactUrl(current)} redirected without a Location`, {
            details: { status: response.status, url: redactUrl(current) },
            hint: "The server is misconfigured; tell the repository's operator.",
          });
        }
        const next = parseHttpUrl(new URL(location, current).href);
        if (hops + 1 > this.maxRedirects || visited.has(next.href)) {
          throw new UpdraftError(
            ErrorCodes.TOO_MANY_REDIRECTS,
            `${redactUrl(start)} redirected ${visited.has(next.href) ? "in a loop" : `more than ${this.maxRedirects} times`}`,
            {
              hint: "The server or a CDN in front of it is misconfigured; tell the repository's operator.",
              details: { url: redactUrl(start), redirects: hops + 1 },
            },
          );
        }
        if (current.protocol === "https:" && next.protocol !== "https:" && !this.allowInsecureHttp) {
          throw new UpdraftError(
            ErrorCodes.INSECURE_TRANSPORT,
            `${redactUrl(current)} redirected to plain http:// (${redactUrl(next)}); refusing the downgrade`,
            { hint: "Fix the server's redirect, or pass --allow-insecure-http to accept the risk." },
          );
        }
        visited.add(next.href);
        current = next;
        arm();
      }
    } catch (err) {
      if (!controller.signal.aborted) controller.abort();
      throw convert(err, current, false);
    }

    if (response.status < 200 || response.status > 299) {
      cleanup();
      response.cancel();
      const retryAfterMs =
        response.status === 429 || response.status >= 500
          ? parseRetryAfter(response.headers.get("retry-after"))
          : undefined;
      throw new UpdraftError(ErrorCodes.HTTP_STATUS, `${redactUrl(current)} answered HTTP ${response.status}`, {
        details: {
          status: response.status,
          url: redactUrl(current),
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        },
        hint: statusHint(response.status),
      });
    }
    const stats = this.stats;
    const opened = response;
    const at = current;
    const cancel = () => {
      cleanup();
      if (!controller.signal.aborted) controller.abort();
      opened.cancel();
    };
    let used = false;
    const read = async (onChunk: ChunkHandler): Promise<void> => {
      if (used) throw new UpdraftError(ErrorCodes.INTERNAL, `The body of ${redactUrl(at)} was read twice`);
      used = true;
      // The consumer's own failure (a size cap, a full disk) is not a network error: kept apart.
      let own: { error: unknown } | undefined;
      let complete = false;
      try {
        await opened.read((chunk) => {
          arm();
          stats.bytes += chunk.length;
          try {
            const result = onChunk(chunk);
            return result?.catch((error: unknown) => {
              own = { error };
              throw error;
            });
          } catch (error) {
            own = { error };
            throw error;
          }
        });
        complete = true;
      } catch (err) {
        if (own) throw own.error;
        throw convert(err, at, true);
      } finally {
        cleanup();
        // A body left early (an error, a consumer that stopped) must not keep its connection.
        if (!complete) cancel();
      }
    };
    return {
      status: opened.status,
      headers: opened.headers,
      url: redactUrl(at),
      read,
      get body() {
        return pull(read, cancel);
      },
      cancel,
    };
  }
}

/**
 * The client's only door to the network. Every request goes through an injectable
 * {@link FetchFunction} (the global `fetch` by default), with a stall timeout that fires when no
 * byte arrives for a while (separate from any overall deadline) and errors mapped to stable codes.
 */
import { ErrorCodes, UpdraftError } from "../core/errors.js";

/** The subset of the WHATWG `fetch` Updraft needs; inject your own for proxies or custom TLS. */
export type FetchFunction = (url: string, init: RequestInit) => Promise<Response>;

/** Options of {@link HttpClient}. */
export interface HttpClientOptions {
  fetch?: FetchFunction;
  /** Extra request headers (for example an authorization token). Never logged. */
  headers?: Record<string, string>;
  /** Abort a response when no byte arrived for this long (ms). Default 30 s. */
  stallTimeoutMs?: number;
  userAgent?: string;
}

/** Counters of what the client sent and received, for `status` and benchmarks. */
export interface TrafficStats {
  requests: number;
  bytes: number;
}

/** A response body being read, with the request's metadata. */
export interface OpenedResponse {
  status: number;
  headers: Headers;
  /** Body chunks; the stall timer restarts on each one. */
  body: AsyncIterable<Uint8Array>;
}

/** HTTP GETs with stall detection and clear errors. */
export class HttpClient {
  readonly stats: TrafficStats = { requests: 0, bytes: 0 };
  private readonly fetchFn: FetchFunction;
  private readonly headers: Record<string, string>;
  private readonly stallTimeoutMs: number;

  constructor(options: HttpClientOptions = {}) {
    this.fetchFn = options.fetch ?? ((url, init) => fetch(url, init));
    this.headers = { "user-agent": options.userAgent ?? "updraft", ...options.headers };
    this.stallTimeoutMs = options.stallTimeoutMs ?? 30_000;
  }

  /**
   * GETs `url`. Resolves once headers arrived; the caller must consume or cancel `body`.
   * Statuses outside 2xx throw `HTTP_STATUS` with `details.status`.
   */
  async get(
    url: string,
    options: { headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<OpenedResponse> {
    const controller = new AbortController();
    const outer = options.signal;
    const onOuterAbort = () => controller.abort(outer?.reason);
    if (outer?.aborted) throw new UpdraftError(ErrorCodes.ABORTED, `Download of ${url} cancelled`);
    outer?.addEventListener("abort", onOuterAbort, { once: true });
    let stalled = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        stalled = true;
        controller.abort(new Error("stalled"));
      }, this.stallTimeoutMs);
      timer.unref?.();
    };
    const cleanup = () => {
      clearTimeout(timer);
      outer?.removeEventListener("abort", onOuterAbort);
    };
    const fail = (err: unknown): never => {
      cleanup();
      if (err instanceof UpdraftError) throw err;
      if (outer?.aborted) throw new UpdraftError(ErrorCodes.ABORTED, `Download of ${url} cancelled`, { cause: err });
      if (stalled) {
        throw new UpdraftError(ErrorCodes.NETWORK, `No data from ${url} for ${this.stallTimeoutMs / 1000} s`, {
          cause: err,
          hint: "The connection stalled; check the network and try again.",
        });
      }
      const reason = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new UpdraftError(
        ErrorCodes.NETWORK,
        `Cannot reach ${url}: ${reason?.code ?? reason?.message ?? (err as Error).message}`,
        { cause: err, hint: "Check the repository URL and the network connection." },
      );
    };
    arm();
    this.stats.requests++;
    let response: Response;
    try {
      response = await this.fetchFn(url, {
        headers: { ...this.headers, ...options.headers },
        signal: controller.signal,
        redirect: "follow",
      });
    } catch (err) {
      return fail(err);
    }
    if (response.status < 200 || response.status > 299) {
      cleanup();
      await response.body?.cancel().catch(() => {});
      throw new UpdraftError(ErrorCodes.HTTP_STATUS, `${url} answered HTTP ${response.status}`, {
        details: { status: response.status, url },
        hint: response.status === 404 ? "Check the repository URL and the app name." : "Try again later.",
      });
    }
    const stats = this.stats;
    const bodyStream = response.body;
    async function* iterate(): AsyncGenerator<Uint8Array> {
      if (!bodyStream) {
        cleanup();
        return;
      }
      const reader = bodyStream.getReader();
      try {
        while (true) {
          const step = await reader.read().catch(fail);
          if (step.done) break;
          arm();
          stats.bytes += step.value.length;
          yield step.value;
        }
      } finally {
        cleanup();
        reader.releaseLock();
        if (!controller.signal.aborted) controller.abort();
      }
    }
    return { status: response.status, headers: response.headers, body: iterate() };
  }

  /** GETs a small document whole, refusing more than `maxBytes`. */
  async getBytes(url: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
    const res = await this.get(url, signal ? { signal } : {});
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of res.body) {
      total += chunk.length;
      if (total > maxBytes) {
        throw new UpdraftError(ErrorCodes.TARGET_MISMATCH, `${url} is larger than the allowed ${maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }
}

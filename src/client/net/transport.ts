/**
 * How bytes move: one small interface between the HTTP client and whatever carries requests.
 * The default carries them with the `undici` package (pinned) through our own dispatchers (see
 * proxy.ts), never the global `fetch`: the undici bundled with some Node versions kills the whole
 * process (an assertion in its parser, no catchable error) when a server closes the connection
 * while a response body waits for its reader. An injected WHATWG `fetch` is adapted to the same
 * interface. Every request asks for `accept-encoding: identity`; a server that compresses anyway
 * is decoded here, so the bytes handed on are always the file itself.
 */
import type { Readable } from "node:stream";
import { pipeline } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate, createZstdDecompress } from "node:zlib";
import { request as undiciRequest } from "undici";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { createDispatcherPool, type DispatchOptions } from "./proxy.js";
import { redactUrl } from "./url-policy.js";

/** The subset of the WHATWG `fetch` Updraft needs; inject your own for tests or exotic transports. */
export type FetchFunction = (url: string, init: RequestInit) => Promise<Response>;

/** One GET as the transport is asked to make it: no redirect is followed. */
export interface TransportRequest {
  headers: Record<string, string>;
  /** Aborting it drops the request or its body with an error. */
  signal: AbortSignal;
}

/**
 * Receives a body's chunks in order. Returning a promise pauses the body until it settles (the
 * disk is behind); throwing, or a rejected promise, stops the body and fails the read with it.
 */
export type ChunkHandler = (chunk: Uint8Array) => void | Promise<void>;

/** One response as the transport delivers it. */
export interface TransportResponse {
  status: number;
  headers: Headers;
  /**
   * Reads the body into `onChunk`; resolves at its end. Call it without delay, or `cancel()`: a
   * body left unread holds a connection, and a response nobody references may be dropped by the
   * runtime. Chunks are pushed (no promise per chunk), the cheapest way through a large file.
   */
  read(onChunk: ChunkHandler): Promise<void>;
  /** Drops the body unread and closes its connection. */
  cancel(): void;
}

/** Carries GET requests. */
export interface Transport {
  request(url: string, init: TransportRequest): Promise<TransportResponse>;
}

function noop(): void {}

/** Largest rest of a cancelled body read out to keep its connection; larger ones close it. */
const DUMP_LIMIT_BYTES = 64 * 1024;

/** Sent with every request: representations only, so lengths and hashes are those of the file. */
export const ACCEPT_ENCODING = "identity";

/** The body was decoded: its length and encoding headers describe bytes nobody will see. */
function dropEncodingHeaders(headers: Headers): void {
  headers.delete("content-encoding");
  headers.delete("content-length");
}

function encodingOf(headers: Headers): string | undefined {
  const encoding = headers.get("content-encoding")?.trim().toLowerCase();
  return encoding === undefined || encoding === "" || encoding === "identity" ? undefined : encoding;
}

function decoderFor(encoding: string): NodeJS.ReadWriteStream | undefined {
  switch (encoding) {
    case "gzip":
    case "x-gzip":
      return createGunzip();
    case "deflate":
      return createInflate();
    case "br":
      return createBrotliDecompress();
    case "zstd":
      return createZstdDecompress();
    default:
      return undefined;
  }
}

/**
 * The response's body as the file's bytes: decoded when the server compressed it although the
 * request asked for `identity` (then the length and encoding headers no longer describe the body
 * and are dropped). An encoding we cannot decode fails `NETWORK`, not retried.
 */
function decodedBody(url: string, headers: Headers, body: Readable): Readable {
  const encoding = encodingOf(headers);
  if (encoding === undefined) return body;
  const decoder = decoderFor(encoding);
  if (!decoder) {
    body.destroy();
    throw new UpdraftError(ErrorCodes.NETWORK, `${redactUrl(url)} answered in an unsupported encoding "${encoding}"`, {
      hint: "The server or a proxy compresses files it should send as they are; tell the repository's operator.",
      details: { reason: "content-encoding", url: redactUrl(url) },
      internal: { retryable: false },
    });
  }
  dropEncodingHeaders(headers);
  const decoded = pipeline(body, decoder, noop) as unknown as Readable;
  decoded.on("error", noop);
  return decoded;
}

/** Pushes a Node stream's chunks into `onChunk`, pausing it while `onChunk`'s promise is pending. */
function readStream(body: Readable, onChunk: ChunkHandler): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let pending: Promise<void> | undefined;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      body.off("data", onData);
      body.destroy();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      let result: void | Promise<void>;
      try {
        result = onChunk(chunk);
      } catch (err) {
        fail(err);
        return;
      }
      if (result) {
        body.pause();
        pending = result.then(() => {
          pending = undefined;
          if (!settled) body.resume();
        }, fail);
      }
    };
    let ended = false;
    body.on("data", onData);
    body.once("error", fail);
    body.once("close", () => {
      if (!ended) fail(new Error("the body was closed before its end"));
    });
    body.once("end", () => {
      ended = true;
      void Promise.resolve(pending).then(() => {
        if (settled) return;
        settled = true;
        resolve();
      });
    });
  });
}

function toHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}

/**
 * The default transport: undici's `request` through a dispatcher per proxy (or a direct `Agent`),
 * trusting the extra CAs of `options`. Our own stall timer and deadlines govern waiting, so
 * undici's timeouts are off.
 */
export function undiciTransport(options: DispatchOptions): Transport {
  const dispatcherFor = createDispatcherPool(options);
  return {
    async request(url, init) {
      const dispatcher = await dispatcherFor(new URL(url));
      const res = await undiciRequest(url, {
        dispatcher,
        method: "GET",
        headers: { ...init.headers, "accept-encoding": ACCEPT_ENCODING },
        signal: init.signal,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      // Errors reach `read()`; without a listener, one raised before it is called (an abort
      // between two awaits) would be an uncaught exception.
      res.body.on("error", noop);
      const headers = toHeaders(res.headers);
      const body = decodedBody(url, headers, res.body);
      return {
        status: res.statusCode,
        headers,
        read: (onChunk) => readStream(body, onChunk),
        cancel: () => {
          if (body !== res.body) body.destroy();
          // A small rest (an error page) is read out so the connection can serve the next request.
          res.body.dump({ limit: DUMP_LIMIT_BYTES }).catch(noop);
        },
      };
    },
  };
}

/** Adapts an injected `fetch` (which follows no redirect here, and decodes what a server compressed anyway). */
export function fetchTransport(fetchFn: FetchFunction): Transport {
  return {
    async request(url, init) {
      const response = await fetchFn(url, {
        headers: { ...init.headers, "accept-encoding": ACCEPT_ENCODING },
        signal: init.signal,
        redirect: "manual",
      });
      // Lock the body at once: undici's fetch cancels the unlocked body of a Response it sees collected.
      const reader = response.body?.getReader();
      const headers = new Headers(response.headers);
      if (encodingOf(headers) !== undefined) dropEncodingHeaders(headers);
      return {
        status: response.status,
        headers,
        read: async (onChunk) => {
          if (!reader) return;
          try {
            while (true) {
              const step = await reader.read();
              if (step.done) return;
              const result = onChunk(step.value);
              if (result) await result;
            }
          } catch (err) {
            reader.cancel().catch(noop);
            throw err;
          } finally {
            reader.releaseLock();
            // Keeps the Response reachable while its body is read.
            void response.ok;
          }
        },
        cancel: () => {
          reader?.cancel().catch(noop);
        },
      };
    },
  };
}

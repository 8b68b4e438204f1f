/**
 * The embedded HTTP server for an Updraft repository: a folder of static files served with
 * GET/HEAD, validators, single ranges and cache headers, with a graceful shutdown.
 */
import { realpath, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { resolve } from "node:path";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import type { HealthEventsOptions } from "./health-events.js";
import { refuseFolderWithKeys } from "./key-guard.js";
import { repositoryRoot } from "./open-file.js";
import { type AccessLogOptions, createRequestHandler, type ServerLogger } from "./request-handler.js";

/** Options of {@link createRepositoryServer}. */
export interface RepositoryServerOptions {
  /** The repository folder to serve. */
  root: string;
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** TCP port; `0` picks a free one. Default `0`. */
  port?: number;
  /** Request and error reporting. Default: silent. */
  logger?: ServerLogger;
  /** How long {@link RepositoryServer.close} lets responses in progress finish. Default 10 000 ms. */
  closeTimeoutMs?: number;
  /**
   * Most connections open at once; connections beyond it are closed as they arrive, so a flood
   * of clients cannot exhaust file descriptors. Default 1000.
   */
  maxConnections?: number;
  /** Time a client has to send its request headers, in ms. Default 15 000. */
  headersTimeoutMs?: number;
  /** Serve HTTPS (HTTP/1.1 over TLS) with this certificate and key instead of plain HTTP. */
  tls?: TlsOptions;
  /**
   * Let other processes listen on the same address and port (`SO_REUSEPORT`, Linux and BSDs):
   * the kernel spreads connections across them, as nginx's worker processes do. Default false.
   */
  reusePort?: boolean;
  /** Where to record each request for a published name (see `openAccessLog`). Default: nowhere. */
  accessLog?: AccessLogOptions;
  /** Accept installs' health reports at `POST /_events` (`serve --events`). Default: refused (405). */
  healthEvents?: HealthEventsOptions;
}

/** The certificate an HTTPS server presents. */
export interface TlsOptions {
  /** Certificate chain, PEM: the server's certificate first, then any intermediates. */
  cert: string | Buffer;
  /** The certificate's private key, PEM. */
  key: string | Buffer;
}

/** Where a listening server can be reached. */
export interface ListeningAddress {
  /** Base URL, with a trailing slash, e.g. `http://127.0.0.1:8080/`. */
  url: string;
  /** The port actually bound (useful with port 0). */
  port: number;
}

/** Options of {@link RepositoryServer.close}. */
export interface CloseOptions {
  /**
   * Overrides the grace period for responses in progress; `0` cuts them now. Calling `close`
   * again while closing can shorten the grace period, never lengthen it.
   */
  timeoutMs?: number;
}

/** A repository server, created stopped. */
export interface RepositoryServer {
  /**
   * Starts listening. Rejects with `REPO_NOT_FOUND` if the root is not a folder, and with
   * `USAGE` if the root or a folder up to two levels below holds private key files (`*.key`) or
   * if the address cannot be bound (port in use, no permission, unknown host).
   */
  listen(): Promise<ListeningAddress>;
  /**
   * Stops gracefully: no new connections, idle keep-alive connections closed, responses in
   * progress allowed to finish (their connections then close) until the grace period ends,
   * after which the remaining connections are destroyed. Resolves once every connection is gone.
   */
  close(options?: CloseOptions): Promise<void>;
}

/** Time allowed for a client to send the request headers. */
const HEADERS_TIMEOUT_MS = 15_000;
/** Default cap on open connections. */
const DEFAULT_MAX_CONNECTIONS = 1000;
/**
 * How often Node looks for requests past their header or request timeout. Node's default (30 s)
 * let a slow client keep its connection for twice the 15 s documented; checking every second
 * cuts it within a second of the timeout.
 */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
/** Time allowed for a client to send a whole request (GET/HEAD requests have no body). */
const REQUEST_TIMEOUT_MS = 30_000;
/** How long an idle keep-alive connection is kept. */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** A connection on which nothing moves (no byte read or written) for this long is dropped. */
const SOCKET_IDLE_TIMEOUT_MS = 120_000;
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
/** Status lines for request errors Node reports before a request exists. */
const CLIENT_ERROR_STATUS: Readonly<Record<string, string>> = {
  ERR_HTTP_REQUEST_TIMEOUT: "408 Request Timeout",
  HPE_HEADER_OVERFLOW: "431 Request Header Fields Too Large",
};
/** While closing, how often connections whose responses have ended are closed. */
const IDLE_SWEEP_MS = 20;

/** Formats a base URL, bracketing IPv6 literals. */
function baseUrl(scheme: "http" | "https", host: string, port: number): string {
  return `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}/`;
}

/** An HTTP or HTTPS server with the given options; a bad certificate or key is a `USAGE` error. */
function createHttpServer(options: ServerOptions, tls: TlsOptions | undefined): Server {
  if (tls === undefined) return createServer(options);
  try {
    // A handshake gets no longer than the request headers would.
    const handshakeTimeout = options.headersTimeout;
    return createTlsServer({
      ...options,
      cert: tls.cert,
      key: tls.key,
      minVersion: "TLSv1.2",
      ...(handshakeTimeout === undefined ? {} : { handshakeTimeout }),
    });
  } catch (err) {
    throw new UpdraftError(ErrorCodes.USAGE, `The TLS certificate or key cannot be used: ${(err as Error).message}`, {
      hint: "Give a PEM certificate (chain) and the PEM private key that matches it.",
      cause: err,
    });
  }
}

async function resolveRoot(root: string): Promise<string> {
  const notFound = (cause?: unknown): UpdraftError =>
    new UpdraftError(ErrorCodes.REPO_NOT_FOUND, `Repository folder ${root} does not exist or is not a folder`, {
      hint: "Pass the folder that holds your apps (the one `updraft init` created).",
      cause,
    });
  let real: string;
  try {
    real = await realpath(resolve(root));
  } catch (err) {
    throw notFound(err);
  }
  if (!(await stat(real)).isDirectory()) throw notFound();
  return real;
}

function bindError(err: NodeJS.ErrnoException, host: string, port: number): UpdraftError {
  const where = `${host}:${port}`;
  switch (err.code) {
    case "EADDRINUSE":
      return new UpdraftError(ErrorCodes.USAGE, `Port ${port} on ${host} is already in use`, {
        hint: "Stop the other server or pick another --port (0 picks a free one).",
        cause: err,
      });
    case "EACCES":
    case "EPERM":
      return new UpdraftError(ErrorCodes.USAGE, `Not allowed to listen on ${where}`, {
        hint: "Ports below 1024 usually need privileges: pick a port above 1024.",
        cause: err,
      });
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new UpdraftError(ErrorCodes.USAGE, `Cannot listen on ${where}: no such local address`, {
        hint: "Use an address of this machine, such as 127.0.0.1 or 0.0.0.0.",
        cause: err,
      });
    default:
      return new UpdraftError(ErrorCodes.INTERNAL, `Cannot listen on ${where}: ${err.message}`, { cause: err });
  }
}

/**
 * Creates a server for the repository folder `root`. Call {@link RepositoryServer.listen} to
 * start it. Every request stats the file it serves, so newly published files (above all
 * `timestamp.json`) are visible at once.
 */
export function createRepositoryServer(options: RepositoryServerOptions): RepositoryServer {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 0;
  const graceMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const headersTimeout = options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new UpdraftError(ErrorCodes.USAGE, `Invalid connection cap ${maxConnections}: use a whole number from 1`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UpdraftError(ErrorCodes.USAGE, `Invalid port ${port}: use a whole number from 0 to 65535`);
  }

  let server: Server | undefined;
  let closing: Promise<void> | undefined;
  let forceTimer: NodeJS.Timeout | undefined;
  let forceAt = Number.POSITIVE_INFINITY;

  const scheduleForce = (ms: number): void => {
    const at = Date.now() + ms;
    if (at >= forceAt) return;
    forceAt = at;
    clearTimeout(forceTimer);
    forceTimer = setTimeout(() => server?.closeAllConnections(), ms);
    forceTimer.unref();
  };

  return {
    async listen() {
      if (server) throw new UpdraftError(ErrorCodes.USAGE, "This repository server was already started");
      const rootReal = await resolveRoot(options.root);
      await refuseFolderWithKeys(rootReal, options.root);
      const created = createHttpServer(
        {
          keepAlive: true,
          noDelay: true,
          requestTimeout: Math.max(REQUEST_TIMEOUT_MS, headersTimeout),
          headersTimeout,
          connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_INTERVAL_MS, headersTimeout),
        },
        options.tls,
      );
      created.maxConnections = maxConnections;
      const handle = createRequestHandler(
        await repositoryRoot(rootReal),
        options.logger,
        options.accessLog,
        options.healthEvents,
      );
      created.on("request", (req: IncomingMessage, res: ServerResponse) => {
        // While closing, answer requests still arriving on open connections, then close those.
        if (closing) res.shouldKeepAlive = false;
        handle(req, res);
      });
      created.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
      created.timeout = SOCKET_IDLE_TIMEOUT_MS;
      // Malformed or too slow requests: answer with a bare status when possible, never echo anything back.
      created.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
        if (!socket.writable || err.code === "ECONNRESET") {
          socket.destroy();
          return;
        }
        const status = CLIENT_ERROR_STATUS[err.code ?? ""] ?? "400 Bad Request";
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      });
      server = created;
      await new Promise<void>((resolveListen, reject) => {
        const onError = (err: NodeJS.ErrnoException): void => {
          server = undefined;
          reject(bindError(err, host, port));
        };
        created.once("error", onError);
        created.listen({ host, port, ...(options.reusePort ? { reusePort: true } : {}) }, () => {
          created.off("error", onError);
          resolveListen();
        });
      });
      const bound = (created.address() as AddressInfo).port;
      return { url: baseUrl(options.tls === undefined ? "http" : "https", host, bound), port: bound };
    },

    close(closeOptions = {}) {
      const current = server;
      if (!current) return Promise.resolve();
      scheduleForce(closeOptions.timeoutMs ?? graceMs);
      if (!closing) {
        closing = new Promise<void>((resolveClose) => {
          // Connections become idle as their responses end: close them as they do.
          const sweep = setInterval(() => current.closeIdleConnections(), IDLE_SWEEP_MS);
          sweep.unref();
          current.close(() => {
            clearInterval(sweep);
            clearTimeout(forceTimer);
            resolveClose();
          });
          current.closeIdleConnections();
        });
      }
      return closing;
    },
  };
}

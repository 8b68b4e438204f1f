/**
 * The request listener: method check, path check, open, then {@link sendFile}. Error answers
 * carry a fixed text body: never a stack trace, an errno or a local path.
 */
import { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse, STATUS_CODES } from "node:http";
import { closeQuietly, openRepositoryFile } from "./open-file.js";
import { parseRequestPath } from "./request-path.js";
import { sendFile } from "./send-file.js";

/** One finished request, as given to {@link ServerLogger.request}. */
export interface RequestLogEntry {
  /** HTTP method. */
  readonly method: string;
  /** Request target as received (may contain anything the client sent). */
  readonly url: string;
  /** Status code sent (0 if the connection closed before a status was sent). */
  readonly status: number;
  /** Milliseconds from the request's arrival to the end of the response. */
  readonly durationMs: number;
  /** Client address. */
  readonly remoteAddress: string;
  /** True if the response ended before all its bytes were sent (client gone, read error). */
  readonly aborted: boolean;
}

/** Receives what the server has to say; every method is optional. */
export interface ServerLogger {
  /** Called once per request, when its response is over. */
  request?(entry: RequestLogEntry): void;
  /**
   * Called when a request fails on the server's side (an unreadable file, too many open files).
   * The message may name local paths: it is for the operator, the client only gets a 500.
   */
  error?(message: string): void;
}

const ALLOW = "GET, HEAD";

/** Sends a short plain-text error page, never cached. */
export function sendError(res: ServerResponse, status: number, extra?: OutgoingHttpHeaders): void {
  const body = `${status} ${STATUS_CODES[status] ?? "Error"}\n`;
  res
    .writeHead(status, {
      ...extra,
      "cache-control": "no-store",
      "content-type": "text/plain; charset=utf-8",
      "content-length": Buffer.byteLength(body),
      "x-content-type-options": "nosniff",
    })
    .end(body);
}

/** Creates the `request` listener serving files under `rootReal` (the root's realpath). */
export function createRequestHandler(
  rootReal: string,
  logger: ServerLogger | undefined,
): (req: IncomingMessage, res: ServerResponse) => void {
  const logRequest = logger?.request?.bind(logger);
  const logError = logger?.error?.bind(logger);

  const fail = (res: ServerResponse, err: Error): void => {
    logError?.(err.message);
    if (res.headersSent) res.destroy();
    else sendError(res, 500);
  };

  return (req, res) => {
    if (logRequest) {
      const started = performance.now();
      res.once("close", () => {
        logRequest({
          method: req.method ?? "",
          url: req.url ?? "",
          status: res.headersSent ? res.statusCode : 0,
          durationMs: Math.round(performance.now() - started),
          remoteAddress: req.socket.remoteAddress ?? "",
          aborted: !res.writableFinished,
        });
      });
    }
    const method = req.method;
    if (method !== "GET" && method !== "HEAD") {
      // The request may carry a body we will not read: do not keep the connection for another request.
      res.shouldKeepAlive = false;
      sendError(res, 405, { allow: ALLOW });
      return;
    }
    const target = parseRequestPath(req.url ?? "");
    if (target.kind !== "file") {
      sendError(res, target.kind === "bad-request" ? 400 : 404);
      return;
    }
    openRepositoryFile(rootReal, target.relPath).then(
      (file) => {
        if (file === undefined) sendError(res, 404);
        else if (res.destroyed) closeQuietly(file.fd);
        else sendFile(req, res, file, target.segments, (err) => fail(res, err));
      },
      (err: Error) => fail(res, err),
    );
  };
}

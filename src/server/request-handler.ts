/**
 * The request listener: method and path checks, one `stat`, then the answer from a kept copy of
 * a small file or from the file itself. Error answers carry a fixed text body: never a stack
 * trace, an errno or a local path.
 */
import type { BigIntStats } from "node:fs";
import { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse, STATUS_CODES } from "node:http";
import type { ServedFile } from "../formats/served-paths.js";
import type { AccessLogRecord } from "./access-log.js";
import { createHealthEventsHandler, HEALTH_EVENTS_PATH, type HealthEventsOptions } from "./health-events.js";
import { closeQuietly, openRepositoryFile, pathInRoot, type RepositoryRoot, statPath } from "./open-file.js";
import { parseRequestPath, type RepositoryPath } from "./request-path.js";
import { planResponse, type ResponsePlan } from "./response-plan.js";
import { sendFromFile, sendFromMemory } from "./send-file.js";
import { SmallFileCache } from "./small-file-cache.js";
import { validatorsOf } from "./validators.js";

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

/** Small files are kept in memory (see {@link SmallFileCache}) up to this size. */
const SMALL_FILE_BYTES = 64 * 1024;
/** Total memory for small file copies. */
const SMALL_FILES_TOTAL_BYTES = 32 * 1024 * 1024;

/** Where the access log goes (see {@link AccessLogRecord}). */
export interface AccessLogOptions {
  /** Receives one record per request for a published name, once its response is over. */
  write(record: AccessLogRecord): void;
  /** Also record the client's address. Default false: nothing that identifies a person. */
  logIp?: boolean;
}

/** What the handler tells the access log about a response: the body bytes it planned to send. */
interface AccessNote {
  bodyBytes: number;
}

/** Records the response to a request for `served` once it is over. */
function recordAccess(
  req: IncomingMessage,
  res: ServerResponse,
  served: ServedFile,
  log: AccessLogOptions,
): AccessNote {
  const ip = log.logIp ? req.socket.remoteAddress : undefined;
  const note: AccessNote = { bodyBytes: 0 };
  res.once("close", () => {
    const finished = res.writableFinished;
    log.write({
      time: new Date().toISOString(),
      app: served.app,
      kind: served.kind,
      ...(served.version === undefined ? {} : { version: served.version }),
      ...(served.from === undefined ? {} : { from: served.from }),
      ...(served.channel === undefined ? {} : { channel: served.channel }),
      status: res.headersSent ? res.statusCode : 0,
      bytes: finished ? note.bodyBytes : 0,
      ...(finished ? {} : { aborted: true }),
      ...(ip === undefined ? {} : { ip }),
    });
  });
  return note;
}

/** Tells the access log (if any) what a plan sends. */
function notePlan(note: AccessNote | undefined, plan: ResponsePlan): ResponsePlan {
  if (note !== undefined) note.bodyBytes = plan.withBody ? plan.end - plan.start + 1 : 0;
  return plan;
}

/** Creates the `request` listener serving files under `root`. */
export function createRequestHandler(
  root: RepositoryRoot,
  logger: ServerLogger | undefined,
  accessLog?: AccessLogOptions,
  healthEvents?: HealthEventsOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const logRequest = logger?.request?.bind(logger);
  const logError = logger?.error?.bind(logger);
  const handleReport = healthEvents ? createHealthEventsHandler(healthEvents, logError) : undefined;
  const cache = new SmallFileCache({ maxFileBytes: SMALL_FILE_BYTES, maxTotalBytes: SMALL_FILES_TOTAL_BYTES });

  const fail = (res: ServerResponse, err: Error): void => {
    logError?.(err.message);
    if (res.headersSent) res.destroy();
    else sendError(res, 500);
  };

  /** The slow path: check the resolved path, open, fstat, then read or stream. */
  const serveFromDisk = (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    target: RepositoryPath,
    note: AccessNote | undefined,
  ): void => {
    openRepositoryFile(root, path).then(
      (file) => {
        if (file === undefined) sendError(res, 404);
        else if (res.destroyed) closeQuietly(file.fd);
        else {
          const validators = validatorsOf(file.stats);
          const plan = notePlan(note, planResponse(req.method ?? "GET", req.headers, validators, target));
          sendFromFile(res, plan, file, validators, cache, (err) => fail(res, err));
        }
      },
      (err: Error) => fail(res, err),
    );
  };

  return (req, res) => {
    if (logRequest) {
      const started = performance.now();
      // Read now: once the connection is closed, the socket no longer knows its peer.
      const remoteAddress = req.socket.remoteAddress ?? "";
      res.once("close", () => {
        logRequest({
          method: req.method ?? "",
          url: req.url ?? "",
          status: res.headersSent ? res.statusCode : 0,
          durationMs: Math.round(performance.now() - started),
          remoteAddress,
          aborted: !res.writableFinished,
        });
      });
    }
    const method = req.method;
    if (handleReport !== undefined && req.url === HEALTH_EVENTS_PATH) {
      handleReport(req, res);
      return;
    }
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
    const note = accessLog ? recordAccess(req, res, target.served, accessLog) : undefined;
    const path = pathInRoot(root, target.relPath);
    // One stat per request, always: a copy is only used if it is still the same file. Copies are
    // only made of files that passed openRepositoryFile's checks on the opened file itself (inside
    // the root, not hidden); a path that now leads to the same unchanged inode (same ctime: no
    // rename, link or write since) reaches that same file, so the checks need not run again.
    let stats: BigIntStats | undefined;
    try {
      stats = statPath(path);
    } catch (err) {
      fail(res, err as Error);
      return;
    }
    if (stats === undefined) {
      sendError(res, 404);
      return;
    }
    const copy = cache.get(stats);
    if (copy === undefined) serveFromDisk(req, res, path, target, note);
    else sendFromMemory(res, notePlan(note, planResponse(method, req.headers, copy.validators, target)), copy.body);
  };
}

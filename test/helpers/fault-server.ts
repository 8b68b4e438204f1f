/**
 * A static file server on 127.0.0.1 (HTTP, or HTTPS with a given certificate) that misbehaves on
 * request: per matching request it can reset the connection at a byte offset, stall, answer
 * 500/503 with `Retry-After`, truncate the body while claiming the full `Content-Length`, flip a
 * byte, answer 200 with an HTML error page, ignore `Range`, redirect (in a loop, or elsewhere),
 * stream endless data, drip the body a byte at a time, or gzip it whatever the client accepts.
 * Every request is logged with the bytes of body actually sent.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { readFile, stat } from "node:fs/promises";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { join, normalize, sep } from "node:path";
import type { TestContext } from "node:test";
import { gzipSync } from "node:zlib";

/** One kind of misbehaviour. Byte offsets count from the first byte of the response body. */
export type Fault =
  | { kind: "reset"; atByte: number; flipAt?: number }
  | { kind: "stall"; afterBytes?: number }
  | { kind: "status"; status: number; retryAfter?: string }
  | { kind: "truncate"; atByte: number }
  | { kind: "flip"; atByte: number }
  | { kind: "html" }
  | { kind: "ignoreRange" }
  | { kind: "redirectLoop" }
  | { kind: "redirectChain" }
  | { kind: "redirect"; to: string }
  | { kind: "endless" }
  | { kind: "drip"; intervalMs: number }
  | { kind: "gzip" }
  | { kind: "serve"; body: Buffer };

/** A fault applied to requests whose path matches, `times` times (default: every time). */
export interface FaultRule {
  match: RegExp;
  fault: Fault;
  times?: number;
}

/** What the server saw and did for one request. */
export interface RequestRecord {
  path: string;
  status: number;
  range: string | undefined;
  ifRange: string | undefined;
  headers: IncomingHttpHeaders;
  /** Body bytes written to the socket. */
  bytesSent: number;
  fault: Fault["kind"] | undefined;
  /** The response's connection has ended (completed or cut by either side): `bytesSent` is final. */
  closed: boolean;
}

/** A running fault server. */
export interface FaultServer {
  /** Base URL without a trailing slash. */
  url: string;
  log: RequestRecord[];
  /** Adds a rule; rules are tried in order and the first active match applies. */
  addFault(rule: FaultRule): void;
  clearFaults(): void;
  /** Requests whose path matches. */
  requests(match: RegExp): RequestRecord[];
  close(): Promise<void>;
}

/** Options of {@link startFaultServer}. */
export interface FaultServerOptions {
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
}

const ENDLESS_CAP = 1 << 30; // a bound on "endless", so the loop always ends

/** Waits for room in the socket or its end, leaving no listener behind (one wait per chunk). */
function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
const HTML_PAGE = Buffer.from(
  "<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1><p>The origin did not answer. Ray ID: 0000</p></body></html>\n",
);

function writeChunk(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) {
      resolve();
      return;
    }
    res.write(chunk, () => resolve());
  });
}

function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  const m = header?.match(/^bytes=(\d+)-(\d*)$/);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
  return start <= end && start < size ? { start, end } : undefined;
}

/** Starts a fault server over `root`; it is closed when the test ends. */
export async function startFaultServer(
  t: TestContext,
  root: string,
  options: FaultServerOptions = {},
): Promise<FaultServer> {
  const rules: (FaultRule & { left: number })[] = [];
  const log: RequestRecord[] = [];
  const sockets = new Set<Socket>();

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const path = decodeURIComponent(url.pathname);
    const rule = rules.find((r) => r.left > 0 && r.match.test(path));
    if (rule) rule.left--;
    const fault = rule?.fault;
    const record: RequestRecord = {
      path,
      status: 0,
      range: req.headers.range,
      ifRange: req.headers["if-range"] as string | undefined,
      headers: req.headers,
      bytesSent: 0,
      fault: fault?.kind,
      closed: false,
    };
    log.push(record);
    res.on("close", () => {
      record.closed = true;
    });
    const send = async (chunk: Buffer) => {
      await writeChunk(res, chunk);
      record.bytesSent += chunk.length;
    };

    if (fault?.kind === "status") {
      record.status = fault.status;
      res.writeHead(fault.status, {
        "content-type": "text/plain",
        ...(fault.retryAfter !== undefined ? { "retry-after": fault.retryAfter } : {}),
      });
      res.end("try later\n");
      return;
    }
    if (fault?.kind === "redirectLoop" || fault?.kind === "redirectChain" || fault?.kind === "redirect") {
      const hop = Number(url.searchParams.get("hop") ?? 0) + 1;
      const location =
        fault.kind === "redirect"
          ? fault.to
          : fault.kind === "redirectLoop"
            ? url.pathname
            : `${url.pathname}?hop=${hop}`;
      record.status = 302;
      res.writeHead(302, { location });
      res.end();
      return;
    }
    if (fault?.kind === "html") {
      record.status = 200;
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": HTML_PAGE.length });
      await send(HTML_PAGE);
      res.end();
      return;
    }
    if (fault?.kind === "endless") {
      record.status = 200;
      res.writeHead(200, { "content-type": "application/octet-stream" });
      const chunk = Buffer.alloc(64 * 1024, 0x7b);
      let closed = false;
      res.on("close", () => {
        closed = true;
      });
      while (!closed && record.bytesSent < ENDLESS_CAP) {
        const room = res.write(chunk);
        record.bytesSent += chunk.length;
        if (!room) await drainOrClose(res);
      }
      res.end();
      return;
    }
    if (fault?.kind === "serve") {
      record.status = 200;
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": fault.body.length });
      await send(fault.body);
      res.end();
      return;
    }

    const full = normalize(join(root, path));
    let body: Buffer;
    let etag: string;
    let lastModified: string;
    try {
      if (!full.startsWith(root + sep)) throw new Error("outside");
      const st = await stat(full);
      if (!st.isFile()) throw new Error("not a file");
      body = await readFile(full);
      etag = `"${createHash("sha256").update(body).digest("hex").slice(0, 16)}"`;
      lastModified = st.mtime.toUTCString();
    } catch {
      record.status = 404;
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
      return;
    }
    const type = path.endsWith(".json") ? "application/json" : "application/octet-stream";
    const ifRange = req.headers["if-range"];
    const rangeOk = fault?.kind !== "ignoreRange" && (ifRange === undefined || ifRange === etag);
    const range = rangeOk ? parseRange(req.headers.range, body.length) : undefined;
    let payload = body;
    const headers: Record<string, string | number> = {
      "content-type": type,
      etag,
      "last-modified": lastModified,
      "accept-ranges": "bytes",
    };
    if (range) {
      payload = body.subarray(range.start, range.end + 1);
      record.status = 206;
      headers["content-range"] = `bytes ${range.start}-${range.end}/${body.length}`;
    } else record.status = 200;
    if (fault?.kind === "gzip") {
      payload = gzipSync(payload);
      headers["content-encoding"] = "gzip";
    }
    headers["content-length"] = payload.length;
    res.writeHead(record.status, headers);

    const flipAt = fault?.kind === "flip" ? fault.atByte : fault?.kind === "reset" ? fault.flipAt : undefined;
    if (flipAt !== undefined && flipAt < payload.length) {
      payload = Buffer.from(payload);
      payload[flipAt] = payload[flipAt]! ^ 0xff;
    }
    if (fault?.kind === "reset" || fault?.kind === "truncate") {
      await send(payload.subarray(0, Math.min(fault.atByte, payload.length)));
      // A TCP reset makes the receiver drop bytes it has not read yet: give a loaded client time to read them.
      await new Promise((r) => setTimeout(r, 250));
      if (fault.kind === "reset") res.socket?.resetAndDestroy();
      else res.socket?.end();
      return;
    }
    if (fault?.kind === "drip") {
      // One byte per interval: never silent long enough to trip a stall timeout.
      let closed = false;
      res.on("close", () => {
        closed = true;
      });
      for (let i = 0; i < payload.length && !closed; i++) {
        await send(payload.subarray(i, i + 1));
        await new Promise((r) => setTimeout(r, fault.intervalMs));
      }
      res.end();
      return;
    }
    if (fault?.kind === "stall") {
      await send(payload.subarray(0, Math.min(fault.afterBytes ?? 0, payload.length)));
      return; // never finishes; the client gives up, or close() drops the connection
    }
    await send(payload);
    res.end();
  };

  const server: Server = options.tls
    ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler)
    : createServer(handler);
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const close = async () => {
    for (const s of sockets) s.destroy();
    if (server.listening) await new Promise<void>((r) => server.close(() => r()));
  };
  t.after(close);
  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    log,
    addFault: (rule) => rules.push({ ...rule, left: rule.times ?? Number.POSITIVE_INFINITY }),
    clearFaults: () => {
      rules.length = 0;
    },
    requests: (match) => log.filter((r) => match.test(r.path)),
    close,
  };
}

/**
 * Real HTTP servers for tests and benchmarks, all on 127.0.0.1: `updraft serve` as a child
 * process, Python's plain static server (HTTP/1.0, no Range, one connection per request), nginx
 * (the Debian package) with a generated configuration, small raw servers that answer the way
 * odd servers do (chunked bodies without a length, a closed connection after every response, gzip
 * whatever the client asked for), and a TCP proxy that counts the bytes a server sent.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { access, constants, open, readFile, stat, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { join, normalize, sep } from "node:path";
import { gzipSync } from "node:zlib";
import { CLI } from "./cli.js";

/** A running server and its base URL (no trailing slash). */
export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

function waitForLine(child: ChildProcess, pattern: RegExp, what: string): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const onData = (chunk: Buffer) => {
      seen += chunk.toString("utf8");
      const m = seen.match(pattern);
      if (m) {
        child.stdout?.off("data", onData);
        child.stderr?.off("data", onData);
        // Keep draining: a server that logs into a full pipe would block.
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(m);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`${what} exited with ${code} before it was ready: ${seen}`)));
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await once(child, "exit");
  clearTimeout(timer);
}

/** Starts `updraft serve DIR --port 0` and reads its URL from stdout. */
export async function startUpdraftServe(dir: string, extraArgs: readonly string[] = []): Promise<RunningServer> {
  const child = spawn(process.execPath, [CLI, "serve", dir, "--port", "0", "--host", "127.0.0.1", ...extraArgs], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const m = await waitForLine(child, /(http:\/\/127\.0\.0\.1:\d+)\/?/, "updraft serve");
  return { url: m[1]!, stop: () => stopProcess(child) };
}

/** Starts `python3 -m http.server` on a free port: a plain static host with no Updraft code. */
export async function startPlainStaticServer(dir: string): Promise<RunningServer> {
  const child = spawn("python3", ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", dir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const m = await waitForLine(child, /port (\d+)/, "python3 -m http.server");
  return { url: `http://127.0.0.1:${m[1]}`, stop: () => stopProcess(child) };
}

/** Where Debian installs nginx; `PATH` is tried after it. */
const NGINX_PATHS = ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"];

/** The nginx binary, or a clear error naming the package to install. */
export async function findNginx(): Promise<string> {
  for (const p of NGINX_PATHS) {
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // next candidate
    }
  }
  for (const dir of (process.env.PATH ?? "").split(":").filter(Boolean)) {
    try {
      await access(join(dir, "nginx"), constants.X_OK);
      return join(dir, "nginx");
    } catch {
      // next candidate
    }
  }
  throw new Error("nginx is not installed: install the Debian package (apt-get install -y nginx)");
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, "close");
  return port;
}

/** Resolves once something accepts TCP connections on `port`, or throws after `timeoutMs`. */
async function waitForPort(port: number, timeoutMs: number, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not accept connections on port ${port} within ${timeoutMs} ms`);
}

/** Options of {@link startNginx}. */
export interface NginxOptions {
  /** `gzip on` for every type, whatever the size (default false). */
  gzip?: boolean;
  /** Keep connections open between requests (default true); false closes after every response. */
  keepalive?: boolean;
  /** Log `$body_bytes_sent` of each request to `workDir/access.log` (default false). */
  accessLog?: boolean;
}

/** Starts nginx (2 workers, sendfile) serving `root` on a free port of 127.0.0.1; its files go to `workDir`. */
export async function startNginx(root: string, workDir: string, options: NginxOptions = {}): Promise<RunningServer> {
  const nginx = await findNginx();
  const port = await freePort();
  const conf = join(workDir, "nginx.conf");
  const errorLog = join(workDir, "nginx-error.log");
  const keepalive = options.keepalive !== false;
  await writeFile(
    conf,
    `${process.getuid?.() === 0 ? "user root root;\n" : ""}daemon off;
worker_processes 2;
pid ${join(workDir, "nginx.pid")};
error_log ${errorLog};
events { worker_connections 1024; }
http {
  ${options.accessLog ? `log_format bytes "$request_uri $status $body_bytes_sent";\n  access_log ${join(workDir, "access.log")} bytes;` : "access_log off;"}
  sendfile on;
  tcp_nopush on;
  keepalive_timeout ${keepalive ? "65" : "0"};
  keepalive_requests 100000;
  default_type application/octet-stream;
  types { application/json json; }
  ${options.gzip ? "gzip on;\n  gzip_types *;\n  gzip_min_length 0;\n  gzip_proxied any;" : ""}
  client_body_temp_path ${workDir};
  proxy_temp_path ${workDir};
  fastcgi_temp_path ${workDir};
  uwsgi_temp_path ${workDir};
  scgi_temp_path ${workDir};
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`,
  );
  const child = spawn(nginx, ["-p", workDir, "-c", conf, "-e", errorLog], { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.resume();
  await waitForPort(port, 10_000, child, "nginx");
  return { url: `http://127.0.0.1:${port}`, stop: () => stopProcess(child) };
}

/** How a {@link startRawServer} answers. */
export type RawServerMode =
  /** HTTP/1.1 keep-alive, `Transfer-Encoding: chunked` in uneven chunks, no `Content-Length`. */
  | "chunked"
  /** `Connection: close` and no length: the body ends when the server closes the connection. */
  | "close"
  /** Like `close`, and the body gzipped whatever `Accept-Encoding` said. */
  | "gzip";

/** Uneven chunk sizes, so bodies never line up with the client's buffers. */
const CHUNK_SIZES = [1, 7_001, 65_536, 131_071, 16_384, 300_000];

async function pipeFile(path: string, size: number, write: (chunk: Buffer) => Promise<void>): Promise<void> {
  const handle = await open(path, "r");
  try {
    for (let pos = 0, i = 0; pos < size; i++) {
      const n = Math.min(CHUNK_SIZES[i % CHUNK_SIZES.length]!, size - pos);
      const buf = Buffer.allocUnsafe(n);
      const { bytesRead } = await handle.read(buf, 0, n, pos);
      if (bytesRead === 0) break;
      await write(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

function socketWrite(socket: Socket, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) {
      reject(new Error("client went away"));
      return;
    }
    socket.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

/** Options of {@link startRawServer}. */
export interface RawServerOptions {
  /** Cut the connection after this many body bytes of any larger file (the body as sent, so gzipped in `gzip` mode). */
  cutAfter?: number;
}

/**
 * A static server written on raw sockets, serving `root` the way some real servers do (see
 * {@link RawServerMode}); it never honours `Range`. Closed when `stop()` is called.
 */
export async function startRawServer(
  root: string,
  mode: RawServerMode,
  options: RawServerOptions = {},
): Promise<RunningServer> {
  const sockets = new Set<Socket>();
  // Repository files never change once written: each is compressed once.
  const compressed = new Map<string, Buffer>();
  const gzipped = async (path: string): Promise<Buffer> => {
    let body = compressed.get(path);
    if (!body) {
      body = gzipSync(await readFile(path), { level: 1 });
      compressed.set(path, body);
    }
    return body;
  };
  const answer = async (socket: Socket, target: string): Promise<void> => {
    const path = normalize(join(root, decodeURIComponent(new URL(target, "http://x").pathname)));
    let size = -1;
    try {
      if (path.startsWith(root + sep)) {
        const st = await stat(path);
        if (st.isFile()) size = st.size;
      }
    } catch {
      // answered as 404 below
    }
    const connection = mode === "chunked" ? "keep-alive" : "close";
    if (size < 0) {
      await socketWrite(
        socket,
        `HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: ${connection}\r\n\r\nnot found\n`,
      );
      if (mode !== "chunked") socket.end();
      return;
    }
    const type = path.endsWith(".json") ? "application/json" : "application/octet-stream";
    // Counts body bytes as sent; past `cutAfter` the connection is dropped mid-body.
    let sent = 0;
    const send = async (chunk: Buffer, framed: Buffer = chunk): Promise<void> => {
      if (options.cutAfter !== undefined && sent + chunk.length > options.cutAfter) {
        await socketWrite(socket, framed.subarray(0, options.cutAfter - sent));
        socket.destroy();
        throw new Error("cut");
      }
      sent += chunk.length;
      await socketWrite(socket, framed);
    };
    if (mode === "chunked") {
      await socketWrite(
        socket,
        `HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n`,
      );
      await pipeFile(path, size, (chunk) =>
        send(chunk, Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")])),
      );
      await socketWrite(socket, "0\r\n\r\n");
      return;
    }
    const gzip = mode === "gzip";
    await socketWrite(
      socket,
      `HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\n${gzip ? "Content-Encoding: gzip\r\n" : ""}Connection: close\r\n\r\n`,
    );
    if (gzip) {
      const body = await gzipped(path);
      for (let pos = 0, i = 0; pos < body.length; i++) {
        const n = Math.min(CHUNK_SIZES[i % CHUNK_SIZES.length]!, body.length - pos);
        await send(body.subarray(pos, pos + n));
        pos += n;
      }
    } else {
      await pipeFile(path, size, (chunk) => send(chunk));
    }
    socket.end();
  };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let pending = Buffer.alloc(0);
    let busy = false;
    const next = async (): Promise<void> => {
      if (busy) return;
      const end = pending.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = pending.subarray(0, end).toString("latin1");
      pending = pending.subarray(end + 4);
      const target = head.split(" ")[1] ?? "/";
      busy = true;
      try {
        await answer(socket, target);
      } catch {
        socket.destroy();
        return;
      }
      busy = false;
      if (mode === "chunked") await next();
    };
    socket.on("data", (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      void next();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A TCP proxy in front of a server, counting what the server sent to clients. */
export interface CountingProxy extends RunningServer {
  /** Bytes the upstream server sent through the proxy so far (headers included). */
  readonly bytesFromServer: number;
  /**
   * From now on, a connection stops forwarding (and stops reading from the server) once the
   * server sent it `bytes`; `undefined` lets new connections run free. Held connections stay held.
   */
  holdAfter(bytes: number | undefined): void;
}

/** Starts a TCP proxy on 127.0.0.1 forwarding to `upstream` (an `http://127.0.0.1:PORT` URL). */
export async function startCountingProxy(upstream: string): Promise<CountingProxy> {
  const target = new URL(upstream);
  const sockets = new Set<Socket>();
  let bytes = 0;
  let hold: number | undefined;
  const server = createServer((client) => {
    const up = tcpConnect(Number(target.port), target.hostname);
    const limit = hold;
    let sent = 0;
    for (const s of [client, up]) {
      sockets.add(s);
      s.on("close", () => {
        sockets.delete(s);
        client.destroy();
        up.destroy();
      });
      s.on("error", () => s.destroy());
    }
    up.on("data", (d: Buffer) => {
      bytes += d.length;
      sent += d.length;
      if (limit !== undefined && sent >= limit) {
        up.unpipe(client);
        up.pause();
      }
    });
    up.pipe(client);
    client.pipe(up);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get bytesFromServer() {
      return bytes;
    },
    holdAfter: (n) => {
      hold = n;
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

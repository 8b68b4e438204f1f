/**
 * The servers the benchmark talks to: `updraft serve` (the CLI, as its own process) and nginx
 * started on 127.0.0.1 with a generated configuration, both serving the same repository; and wrk
 * to load them.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { mustRun } from "./exec.js";

/** A running server. */
export interface Running {
  /** Base URL without a trailing slash. */
  url: string;
  stop(): Promise<void>;
}

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await once(child, "exit");
  clearTimeout(timer);
}

/** Starts `updraft serve DIR` on a free port. */
export async function startUpdraftServe(repoDir: string): Promise<Running> {
  const child = spawn(process.execPath, [CLI, "serve", repoDir, "--port", "0", "--host", "127.0.0.1"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let seen = "";
    const onData = (d: Buffer) => {
      seen += d.toString("utf8");
      const m = seen.match(/(http:\/\/127\.0\.0\.1:\d+)/);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`updraft serve exited with ${code}: ${seen}`)));
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return { url, stop: () => stopChild(child) };
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

async function waitForPort(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/** Starts nginx (2 workers, sendfile) serving `repoDir` on a free port of 127.0.0.1. */
export async function startNginx(repoDir: string, workDir: string): Promise<Running> {
  const port = await freePort();
  const conf = join(workDir, "nginx.conf");
  await writeFile(
    conf,
    `${process.getuid?.() === 0 ? "user root root;\n" : ""}daemon off;
worker_processes 2;
pid ${join(workDir, "nginx.pid")};
error_log ${join(workDir, "nginx-error.log")};
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  default_type application/octet-stream;
  types { application/json json; }
  client_body_temp_path ${workDir};
  proxy_temp_path ${workDir};
  fastcgi_temp_path ${workDir};
  uwsgi_temp_path ${workDir};
  scgi_temp_path ${workDir};
  server {
    listen 127.0.0.1:${port};
    root ${repoDir};
  }
}
`,
  );
  const child = spawn("nginx", ["-p", workDir, "-c", conf, "-e", join(workDir, "nginx-error.log")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  child.stderr!.resume();
  const url = `http://127.0.0.1:${port}`;
  await waitForPort(url, 10_000);
  return { url, stop: () => stopChild(child) };
}

/** What wrk measured. */
export interface WrkResult {
  requestsPerSec: number;
  bytesPerSec: number;
}

function parseBytes(text: string): number {
  const m = text.match(/([\d.]+)\s*([KMGT]?B)/);
  if (!m) return 0;
  const scale: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
  return Number(m[1]) * scale[m[2]!]!;
}

/** Loads `url` with wrk for `seconds` (2 threads, `connections` connections). */
export async function wrk(url: string, seconds: number, connections: number): Promise<WrkResult> {
  const r = await mustRun("wrk", ["-t2", `-c${connections}`, `-d${seconds}s`, url]);
  const rps = r.stdout.match(/Requests\/sec:\s*([\d.]+)/);
  const tps = r.stdout.match(/Transfer\/sec:\s*(\S+)/);
  if (!rps || !tps) throw new Error(`cannot read wrk's output: ${r.stdout}`);
  return { requestsPerSec: Number(rps[1]), bytesPerSec: parseBytes(tps[1]!) };
}

/** `updraft serve DIR`: serves a repository folder over HTTP or HTTPS until SIGTERM or SIGINT. */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { availableParallelism } from "node:os";
import type { Command } from "commander";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { openEventStore } from "../../events/index.js";
import {
  type AccessLogWriter,
  createRepositoryServer,
  openAccessLog,
  type RequestLogEntry,
  type ServerLogger,
  type TlsOptions,
} from "../../server/index.js";
import { runCommand } from "../output.js";
import { FILE_CAPS, hostAddress, path, port, readOptionFile, wholeNumber } from "../parse.js";

/** Options of `updraft serve`. */
interface ServeOptions {
  port: number;
  host: string;
  maxConnections: number;
  tlsCert?: string;
  tlsKey?: string;
  workers: number;
  accessLog?: string;
  logIp?: boolean;
  events?: string;
  verbose?: boolean;
}

/** Set in the environment of the worker processes `--workers` starts. */
const WORKER_ENV = "UPDRAFT_SERVE_WORKER";
/** Default and most worker processes. */
const MAX_WORKERS = 64;

/** The arguments of a worker process: the same server on the port the first one bound. */
function workerArgs(dir: string, opts: ServeOptions, boundPort: number): string[] {
  return [
    "serve",
    dir,
    "--port",
    String(boundPort),
    "--host",
    opts.host,
    "--workers",
    "1",
    "--max-connections",
    String(opts.maxConnections),
    ...(opts.tlsCert === undefined ? [] : ["--tls-cert", opts.tlsCert]),
    ...(opts.tlsKey === undefined ? [] : ["--tls-key", opts.tlsKey]),
    ...(opts.accessLog === undefined ? [] : ["--access-log", opts.accessLog]),
    ...(opts.logIp ? ["--log-ip"] : []),
    ...(opts.events === undefined ? [] : ["--events", opts.events]),
    ...(opts.verbose ? ["--verbose"] : []),
  ];
}

/**
 * Starts `count` more processes serving the same folder on the same port (`SO_REUSEPORT`: the
 * kernel spreads connections across them). Resolves once each is listening.
 */
async function startWorkers(count: number, args: string[]): Promise<ChildProcess[]> {
  const script = process.argv[1] ?? "";
  const workers = Array.from({ length: count }, () =>
    spawn(process.execPath, [...process.execArgv, script, ...args], {
      env: { ...process.env, [WORKER_ENV]: "1" },
      stdio: ["ignore", "pipe", "inherit"],
    }),
  );
  await Promise.all(
    workers.map(
      (worker) =>
        new Promise<void>((resolve, reject) => {
          let out = "";
          worker.stdout?.on("data", (chunk: Buffer) => {
            out += chunk.toString();
            if (out.includes("\n")) resolve();
          });
          worker.once("exit", (code) =>
            reject(new UpdraftError(ErrorCodes.INTERNAL, `A worker process of updraft serve exited (status ${code})`)),
          );
        }),
    ),
  ).catch((err: unknown) => {
    for (const worker of workers) worker.kill("SIGKILL");
    throw err;
  });
  return workers;
}

/** Asks the workers to stop (a second call cuts their downloads) and waits for them to exit. */
function stopWorkers(workers: readonly ChildProcess[]): Promise<unknown> {
  return Promise.all(
    workers.map((worker) => {
      if (worker.exitCode !== null || worker.signalCode !== null) return undefined;
      const exited = once(worker, "exit");
      worker.kill("SIGTERM");
      return exited;
    }),
  );
}

/** Opens the `--access-log` file; an unwritable one is a usage error. */
async function openLog(file: string): Promise<AccessLogWriter> {
  try {
    return await openAccessLog(file);
  } catch (err) {
    throw new UpdraftError(ErrorCodes.USAGE, `Cannot write the access log ${file}: ${(err as Error).message}`, {
      hint: "Give a file in a folder you can write to (outside the served folder).",
      cause: err,
    });
  }
}

/** Reads `--tls-cert` and `--tls-key`, which go together. */
async function tlsOptions(opts: ServeOptions): Promise<TlsOptions | undefined> {
  if (opts.tlsCert === undefined && opts.tlsKey === undefined) return undefined;
  if (opts.tlsCert === undefined || opts.tlsKey === undefined) {
    throw new UpdraftError(ErrorCodes.USAGE, "--tls-cert and --tls-key go together", {
      hint: "Give the certificate (PEM) with --tls-cert and its private key (PEM) with --tls-key.",
    });
  }
  return {
    cert: await readOptionFile("--tls-cert", opts.tlsCert, FILE_CAPS.caBundle, "TLS certificate"),
    key: await readOptionFile("--tls-key", opts.tlsKey, FILE_CAPS.caBundle, "TLS private key"),
  };
}

/**
 * Sizes libuv's thread pool (which runs every file system call) for serving, unless the user set
 * `UV_THREADPOOL_SIZE`. The server's calls are short (`stat` mostly); more threads than spare
 * cores only make them fight over locks, which halves throughput on small machines. Has effect
 * only before the first file system call, which is why `serve` does it first.
 */
function sizeThreadPool(): void {
  if (process.env.UV_THREADPOOL_SIZE !== undefined) return;
  process.env.UV_THREADPOOL_SIZE = String(Math.min(4, Math.max(1, availableParallelism() - 1)));
}

function formatRequest(entry: RequestLogEntry): string {
  const status = entry.status === 0 ? "---" : String(entry.status);
  const aborted = entry.aborted ? " (aborted)" : "";
  return `${entry.remoteAddress} ${entry.method} ${JSON.stringify(entry.url)} ${status} ${entry.durationMs}ms${aborted}`;
}

function stderrLogger(verbose: boolean): ServerLogger {
  return {
    ...(verbose ? { request: (entry: RequestLogEntry) => process.stderr.write(`${formatRequest(entry)}\n`) } : {}),
    error: (message: string) => process.stderr.write(`updraft serve: ${message}\n`),
  };
}

/** Registers `updraft serve`. */
export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("Serve a repository folder over HTTP or HTTPS (GET/HEAD, ETag, ranges, cache headers) until stopped")
    .argument("<dir>", "the repository folder", path)
    .option("--port <n>", "TCP port to listen on; 0 picks a free one", port, 8080)
    .option("--host <address>", "address to listen on (0.0.0.0 for every interface)", hostAddress, "127.0.0.1")
    .option(
      "--max-connections <n>",
      "most connections open at once; more are closed as they arrive",
      wholeNumber(1, 1_000_000),
      1000,
    )
    .option("--tls-cert <file>", "serve HTTPS with this certificate chain (PEM); needs --tls-key", path)
    .option("--tls-key <file>", "the certificate's private key (PEM), kept outside the served folder", path)
    .option(
      "--workers <n>",
      "processes serving the same port (like nginx's worker_processes); the kernel spreads connections",
      wholeNumber(1, MAX_WORKERS),
      1,
    )
    .option("--access-log <file>", "append one JSON line per request for a published file (for updraft stats)", path)
    .option("--log-ip", "with --access-log: also record client addresses (off: nothing identifies a person)")
    .option(
      "--events <db>",
      "accept installs' health reports at POST /_events into this SQLite file (for releaseHealth and the dashboard)",
      path,
    )
    .option("--verbose", "log every request to stderr")
    .action(async (dir: string, opts: ServeOptions) => {
      sizeThreadPool();
      // SIGTERM or SIGINT stops listening and lets downloads in progress finish; a second one
      // closes their connections too.
      let server: ReturnType<typeof createRepositoryServer> | undefined;
      let workers: ChildProcess[] = [];
      const isWorker = process.env[WORKER_ENV] === "1";
      await runCommand(
        {},
        async ({ signal }) => {
          const tls = await tlsOptions(opts);
          const accessLog = opts.accessLog === undefined ? undefined : await openLog(opts.accessLog);
          const events = opts.events === undefined ? undefined : openEventStore(opts.events);
          server = createRepositoryServer({
            ...(tls === undefined ? {} : { tls }),
            root: dir,
            host: opts.host,
            port: opts.port,
            maxConnections: opts.maxConnections,
            reusePort: isWorker || opts.workers > 1,
            ...(accessLog === undefined ? {} : { accessLog: { write: accessLog.write, logIp: opts.logIp === true } }),
            ...(events === undefined ? {} : { healthEvents: { record: (report) => events.record(report) } }),
            logger: stderrLogger(opts.verbose === true),
          });
          const { url, port: boundPort } = await server.listen();
          if (opts.workers > 1) workers = await startWorkers(opts.workers - 1, workerArgs(dir, opts, boundPort));
          process.stdout.write(`Serving ${dir} at ${url}\n`);
          if (!signal.aborted) await once(signal, "abort");
          if (opts.verbose) {
            const reason = (signal.reason as { details?: { signal?: string } } | undefined)?.details?.signal;
            process.stderr.write(`updraft serve: ${reason ?? "stopped"}, finishing downloads in progress\n`);
          }
          await Promise.all([server.close(), stopWorkers(workers)]);
          await accessLog?.close();
          events?.close();
          return { result: { url } };
        },
        {
          graceMs: false,
          onRepeatSignal: () => {
            void server?.close({ timeoutMs: 0 });
            for (const worker of workers) worker.kill("SIGTERM");
          },
        },
      );
    });
}

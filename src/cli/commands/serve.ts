/** `updraft serve DIR`: serves a repository folder over HTTP until SIGTERM or SIGINT. */
import { availableParallelism } from "node:os";
import type { Command } from "commander";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { createRepositoryServer, type RequestLogEntry, type ServerLogger } from "../../server/index.js";
import { runCommand } from "../output.js";

/** Options of `updraft serve`. */
interface ServeOptions {
  port: string;
  host: string;
  verbose?: boolean;
}

const SHUTDOWN_SIGNALS = ["SIGTERM", "SIGINT"] as const;

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

function parsePort(text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new UpdraftError(ErrorCodes.USAGE, `Invalid --port "${text}": use a number from 0 to 65535`, {
      hint: "Use --port 0 to let the system pick a free port.",
    });
  }
  return port;
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

/** The first shutdown signal to arrive, and a way to stop listening for them. */
interface ShutdownSignals {
  /** Resolves with the name of the first SIGTERM or SIGINT. */
  readonly first: Promise<string>;
  /** Removes the handlers. */
  dispose(): void;
}

/** Catches SIGTERM and SIGINT; `onRepeat` runs for every signal after the first. */
function catchShutdownSignals(onRepeat: () => void): ShutdownSignals {
  let received = false;
  let resolveFirst: (signal: string) => void = () => {};
  const first = new Promise<string>((resolve) => {
    resolveFirst = resolve;
  });
  const onSignal = (signal: string): void => {
    if (received) onRepeat();
    received = true;
    resolveFirst(signal);
  };
  for (const signal of SHUTDOWN_SIGNALS) process.on(signal, onSignal);
  return {
    first,
    dispose: () => {
      for (const signal of SHUTDOWN_SIGNALS) process.off(signal, onSignal);
    },
  };
}

/** Registers `updraft serve`. */
export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("Serve a repository folder over HTTP (GET/HEAD, ETag, ranges, cache headers) until stopped")
    .argument("<dir>", "the repository folder")
    .option("--port <n>", "TCP port to listen on; 0 picks a free one", "8080")
    .option("--host <address>", "address to listen on (0.0.0.0 for every interface)", "127.0.0.1")
    .option("--verbose", "log every request to stderr")
    .action(async (dir: string, opts: ServeOptions) => {
      sizeThreadPool();
      await runCommand({}, async () => {
        const server = createRepositoryServer({
          root: dir,
          host: opts.host,
          port: parsePort(opts.port),
          logger: stderrLogger(opts.verbose === true),
        });
        // A second signal stops waiting for downloads in progress.
        const signals = catchShutdownSignals(() => void server.close({ timeoutMs: 0 }));
        try {
          const { url } = await server.listen();
          process.stdout.write(`Serving ${dir} at ${url}\n`);
          const name = await signals.first;
          if (opts.verbose) process.stderr.write(`updraft serve: ${name}, finishing downloads in progress\n`);
          await server.close();
          return { result: { url } };
        } finally {
          signals.dispose();
        }
      });
    });
}

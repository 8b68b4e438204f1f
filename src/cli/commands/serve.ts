/** `updraft serve DIR`: serves a repository folder over HTTP or HTTPS until SIGTERM or SIGINT. */
import { once } from "node:events";
import { availableParallelism } from "node:os";
import type { Command } from "commander";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import {
  createRepositoryServer,
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
  verbose?: boolean;
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
    .option("--verbose", "log every request to stderr")
    .action(async (dir: string, opts: ServeOptions) => {
      sizeThreadPool();
      // SIGTERM or SIGINT stops listening and lets downloads in progress finish; a second one
      // closes their connections too.
      let server: ReturnType<typeof createRepositoryServer> | undefined;
      await runCommand(
        {},
        async ({ signal }) => {
          const tls = await tlsOptions(opts);
          server = createRepositoryServer({
            ...(tls === undefined ? {} : { tls }),
            root: dir,
            host: opts.host,
            port: opts.port,
            maxConnections: opts.maxConnections,
            logger: stderrLogger(opts.verbose === true),
          });
          const { url } = await server.listen();
          process.stdout.write(`Serving ${dir} at ${url}\n`);
          if (!signal.aborted) await once(signal, "abort");
          if (opts.verbose) {
            const reason = (signal.reason as { details?: { signal?: string } } | undefined)?.details?.signal;
            process.stderr.write(`updraft serve: ${reason ?? "stopped"}, finishing downloads in progress\n`);
          }
          await server.close();
          return { result: { url } };
        },
        { graceMs: false, onRepeatSignal: () => void server?.close({ timeoutMs: 0 }) },
      );
    });
}

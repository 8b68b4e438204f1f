/**
 * Updraft's TUF client (tuf-js behind Updraft's HTTP layer and error mapping) speaking the
 * tuf-conformance "client under test" protocol, so the public suite can be run against it:
 *
 * ```
 * updraft-tuf-conformance-client --metadata-dir D init TRUSTED_ROOT
 * updraft-tuf-conformance-client --metadata-dir D --metadata-url U refresh
 * updraft-tuf-conformance-client --metadata-dir D --metadata-url U --target-name X [--target-name Y]
 *     --target-base-url B --target-dir T download
 * ```
 *
 * Exit 0 on success, 1 on any failure (as the suite expects); one line on stderr says why.
 * See docs/tuf-conformance.md.
 */
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { HttpClient } from "../client/net/http.js";
import { establishRoot } from "../client/trust/root.js";
import { TrustSession } from "../client/trust/session.js";
import { ErrorCodes, toUpdraftError, UpdraftError } from "../core/errors.js";

/** Parsed command line. */
interface Args {
  command: string;
  operands: string[];
  metadataDir?: string;
  metadataUrl?: string;
  targetNames: string[];
  targetBaseUrl?: string;
  targetDir?: string;
}

function usage(message: string): never {
  throw new UpdraftError(ErrorCodes.USAGE, message, {
    hint: "Usage: --metadata-dir D [--metadata-url U] [--target-name X ...] [--target-base-url B] [--target-dir T] init ROOT | refresh | download",
  });
}

/** Parses the tuf-conformance client command line (options may come before or after the command). */
export function parseConformanceArgs(argv: string[]): Args {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      "metadata-dir": { type: "string" },
      "metadata-url": { type: "string" },
      "target-name": { type: "string", multiple: true },
      "target-base-url": { type: "string" },
      "target-dir": { type: "string" },
    },
  });
  const [command, ...operands] = positionals;
  if (!command) usage("No command: expected init, refresh or download");
  return {
    command,
    operands,
    ...(values["metadata-dir"] !== undefined ? { metadataDir: values["metadata-dir"] } : {}),
    ...(values["metadata-url"] !== undefined ? { metadataUrl: values["metadata-url"] } : {}),
    targetNames: values["target-name"] ?? [],
    ...(values["target-base-url"] !== undefined ? { targetBaseUrl: values["target-base-url"] } : {}),
    ...(values["target-dir"] !== undefined ? { targetDir: values["target-dir"] } : {}),
  };
}

function session(args: Args, metadataDir: string, cacheDir: string): TrustSession {
  if (!args.metadataUrl) usage("--metadata-url is required");
  const http = new HttpClient({
    userAgent: "updraft-tuf-conformance",
    // The suite serves plain HTTP and counts requests: no retries, http allowed.
    allowInsecureHttp: true,
    retry: { attempts: 1 },
  });
  return new TrustSession(
    {
      repoUrl: args.metadataUrl,
      app: "conformance",
      metadataUrl: args.metadataUrl.replace(/\/+$/, ""),
      targetsUrl: args.targetBaseUrl ?? args.metadataUrl,
    },
    metadataDir,
    cacheDir,
    http,
  );
}

/** Runs one command; resolves when it succeeded. */
export async function runConformanceCommand(args: Args): Promise<string> {
  if (!args.metadataDir) usage("--metadata-dir is required");
  const metadataDir = resolve(args.metadataDir);
  switch (args.command) {
    case "init": {
      const [rootFile] = args.operands;
      if (!rootFile) usage("init needs the trusted root file");
      // No network and no signature check, as the protocol asks: the root is verified on first refresh.
      await establishRoot({ metadataDir, keepTrusted: false, rootFile: await readFile(rootFile) });
      return `initialised ${metadataDir}`;
    }
    case "refresh": {
      const scratch = await mkdtemp(join(tmpdir(), "updraft-conformance-"));
      try {
        await session(args, metadataDir, scratch).refresh();
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
      return `refreshed ${metadataDir}`;
    }
    case "download": {
      if (args.targetNames.length === 0) usage("download needs --target-name");
      if (!args.targetDir) usage("download needs --target-dir");
      const targetDir = resolve(args.targetDir);
      await mkdir(targetDir, { recursive: true });
      const trust = session(args, metadataDir, targetDir);
      await trust.refresh();
      const done: string[] = [];
      for (const name of args.targetNames) {
        const info = await trust.requireTarget(name, `target "${name}"`);
        const { cached } = await trust.downloadTargetTo(info, join(targetDir, encodeURIComponent(name)));
        done.push(`${name}${cached ? " (cached)" : ""}`);
      }
      return `downloaded ${done.join(", ")}`;
    }
    default:
      return usage(`Unknown command "${args.command}"`);
  }
}

/** CLI entry: exit 0 on success, 1 on any failure. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  try {
    const line = await runConformanceCommand(parseConformanceArgs(argv));
    process.stdout.write(`updraft-tuf-conformance-client: ${line}\n`);
    return 0;
  } catch (err) {
    const e = toUpdraftError(err, ErrorCodes.USAGE);
    process.stderr.write(`updraft-tuf-conformance-client: error [${e.code}]: ${e.message}\n`);
    return 1;
  }
}

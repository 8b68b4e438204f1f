/**
 * The network flags shared by the client commands (`install`, `check`, `update`): proxy, extra CA,
 * token, timeouts, retries, and the opt-ins `--allow-insecure-http` and `--allow-downgrade`.
 * Tokens are read from the environment only (a command line is visible to every user via `ps`).
 */
import type { Command } from "commander";
import type { NetworkOptions } from "../client/net/http.js";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { duration, envName, FILE_CAPS, httpUrl, path, readOptionFile, wholeNumber } from "./parse.js";

/** Client commands that talk to a repository. */
const CLIENT_COMMANDS = new Set(["install", "check", "update"]);

/** Default environment variable holding a bearer token for a private repository. */
export const TOKEN_ENV = "UPDRAFT_TOKEN";

/** What the flags parse to (commander's camel-cased option names). */
export interface NetworkFlags {
  allowInsecureHttp?: boolean;
  allowDowngrade?: boolean;
  proxy?: string | boolean;
  caFile?: string;
  tokenEnv?: string;
  /** Milliseconds. */
  timeout?: number;
  /** Milliseconds. */
  stallTimeout?: number;
  retries?: number;
  /** `--mirror URL`, repeatable: base URLs tried before the repository's. */
  mirror?: string[];
}

/** Longest `--timeout` / `--stall-timeout`: a day. */
const MAX_TIMEOUT_SECONDS = 86_400;

/** Adds the network flags to every client command of `program` (call after registering them). */
export function addNetworkFlags(program: Command): void {
  for (const cmd of program.commands) {
    if (!CLIENT_COMMANDS.has(cmd.name())) continue;
    addConnectionFlags(cmd).option(
      "--mirror <url>",
      "a mirror of the repository, tried before it (repeatable, in order; install records them for later updates)",
      (value: string, previous: string[] = []) => [...previous, httpUrl(value)],
    );
    if (cmd.name() !== "install")
      cmd.option("--allow-downgrade", "install the channel's release even when it is older");
  }
}

/** Adds how a command reaches a repository (proxy, CA, token, timeouts, retries, plain http) to `cmd`. */
export function addConnectionFlags(cmd: Command): Command {
  return cmd
    .option(
      "--allow-insecure-http",
      "allow plain http:// to hosts other than this machine (RISK: anyone on the network sees what you run and can block updates)",
    )
    .option("--proxy <url>", "proxy for every request (default: HTTPS_PROXY / HTTP_PROXY, minus NO_PROXY)", httpUrl)
    .option("--no-proxy", "ignore the proxy environment variables")
    .option("--ca-file <pem>", "extra trusted CA certificates (PEM), added to the system's", path)
    .option("--token-env <name>", `environment variable holding a bearer token (default ${TOKEN_ENV})`, envName)
    .option(
      "--timeout <seconds>",
      "overall limit of each download, retries included",
      duration("seconds", 0.001, MAX_TIMEOUT_SECONDS),
    )
    .option(
      "--stall-timeout <seconds>",
      "give up on a connection silent this long (default 30)",
      duration("seconds", 0.001, MAX_TIMEOUT_SECONDS),
    )
    .option("--retries <n>", "retries after a network failure (default 3)", wholeNumber(0, 20));
}

/** Turns parsed flags (and the environment) into library options; reads the CA file (capped). */
export async function networkOptionsFromFlags(
  flags: NetworkFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<NetworkOptions & { allowDowngrade?: boolean; mirrors?: string[] }> {
  const tokenVar = flags.tokenEnv ?? TOKEN_ENV;
  const token = env[tokenVar];
  if (flags.tokenEnv !== undefined && !token) {
    throw new UpdraftError(ErrorCodes.USAGE, `--token-env ${tokenVar}: the variable is not set`, {
      hint: `Export ${tokenVar} with the repository token before running the command.`,
    });
  }
  const { retries, timeout: deadlineMs, stallTimeout: stallTimeoutMs } = flags;
  const ca =
    flags.caFile === undefined
      ? undefined
      : await readOptionFile("--ca-file", flags.caFile, FILE_CAPS.caBundle, "a PEM file of CA certificates");
  return {
    ...(flags.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
    ...(flags.allowDowngrade ? { allowDowngrade: true } : {}),
    ...(typeof flags.proxy === "string" || flags.proxy === false ? { proxy: flags.proxy } : {}),
    ...(ca !== undefined ? { ca } : {}),
    ...(token ? { token } : {}),
    ...(deadlineMs !== undefined ? { deadlineMs } : {}),
    ...(stallTimeoutMs !== undefined ? { stallTimeoutMs } : {}),
    ...(retries !== undefined ? { retry: { attempts: retries + 1 } } : {}),
    ...(flags.mirror !== undefined && flags.mirror.length > 0 ? { mirrors: flags.mirror } : {}),
  };
}

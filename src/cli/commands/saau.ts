/**
 * The SAAU side of `updraft check` and `updraft update`: `--saau BASE_URL --app NAME
 * [--current-version V]` updates an app folder from an unchanged SAAU repository, in place.
 * The commands call {@link addSaauOptions} and branch to {@link saauCheck} / {@link saauUpdate}.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { installLayout } from "../../client/install/layout.js";
import { readState } from "../../client/install/state.js";
import type { NetworkOptions } from "../../client/net/http.js";
import { describeVerification, readSourceRecord } from "../../client/sources/legacy/source-record.js";
import { SaauClient, type SaauClientOptions } from "../../client/sources/saau/client.js";
import { installedVersion } from "../../client/sources/saau/installed.js";
import { ErrorCodes, ExitCodes, UpdraftError } from "../../core/errors.js";
import type { CommonOptions } from "../output.js";
import { appName, duration, httpUrl, rootPin, version } from "../parse.js";
import { shellCommand } from "../shell-command.js";

/** Options the SAAU mode reads. */
export interface SaauCliOptions extends CommonOptions {
  dir: string;
  saau?: string;
  app?: string;
  currentVersion?: string;
  allowUnsignedHttp?: boolean;
  rootSha256?: string;
  /** Milliseconds. */
  backoffMinutes?: number;
  restart?: string;
  waitPid?: number;
  restartLog?: string;
  serviceStop?: string;
  serviceStart?: string;
}

/** Longest `--backoff-minutes`: a year. */
const MAX_BACKOFF_MINUTES = 525_600;

/** Adds the SAAU options to `check` or `update`. */
export function addSaauOptions(command: Command, forUpdate: boolean): Command {
  command
    .option("--saau <url>", "update in place from a SAAU repository (BASE_URL holding <app>/versao.txt)", httpUrl)
    .option("--app <name>", "with --saau: the app's name in the repository", appName)
    .option("--current-version <version>", "with --saau: installed version, if the folder has no versao.txt", version)
    .option(
      "--allow-unsigned-http",
      "with --saau: accept UNSIGNED updates over plain http:// (anyone on the network could replace them)",
    )
    .option("--root-sha256 <sha256:hex>", "with --saau: pin the root of the repository's signed metadata", rootPin)
    .option(
      "--backoff-minutes <n>",
      "with --saau: do not retry a failed version for this long (default 120)",
      duration("minutes", 0, MAX_BACKOFF_MINUTES),
    );
  if (forUpdate) {
    command
      .option("--service-stop <command>", "with --saau: stop the service before swapping files")
      .option("--service-start <command>", "with --saau: start it after (the old files come back if this fails)");
  }
  return command;
}

function clientOf(opts: SaauCliOptions, network: NetworkOptions): SaauClient {
  if (!opts.app)
    throw new UpdraftError(ErrorCodes.USAGE, "--saau needs --app NAME", {
      hint: "Give the app's name, e.g. --app TSPrint.",
    });
  const options: SaauClientOptions = {
    ...network,
    appDir: resolve(opts.dir),
    baseUrl: opts.saau!,
    app: opts.app,
    backoffMs: opts.backoffMinutes ?? 120 * 60_000,
    ...(opts.currentVersion ? { currentVersion: opts.currentVersion } : {}),
    ...(opts.allowUnsignedHttp ? { allowUnsignedHttp: true } : {}),
    ...(opts.rootSha256 ? { rootSha256: opts.rootSha256 } : {}),
  };
  return new SaauClient(options);
}

/** `updraft check --saau …`: exit 10 when a newer version is available, 0 otherwise. */
export async function saauCheck(opts: SaauCliOptions, network: NetworkOptions = {}) {
  const result = await clientOf(opts, network).check();
  const human = result.skipped
    ? `${result.latestVersion} failed recently (${result.skipped.reason}); not retried before ${result.skipped.retryAfter}`
    : result.updateAvailable
      ? `Update available: ${result.currentVersion} -> ${result.latestVersion}${result.signed ? "" : " (without signatures)"}`
      : `Up to date: ${result.currentVersion}`;
  return {
    result: { ...result },
    human,
    exitCode: result.updateAvailable ? ExitCodes.UPDATE_AVAILABLE : ExitCodes.OK,
  };
}

/** `updraft update --saau …`: install in place now, after the app exits (`--restart`), or around a service. */
export async function saauUpdate(opts: SaauCliOptions, network: NetworkOptions = {}) {
  if ((opts.serviceStop === undefined) !== (opts.serviceStart === undefined)) {
    throw new UpdraftError(ErrorCodes.USAGE, "--service-stop and --service-start go together");
  }
  if (opts.serviceStop && opts.restart) {
    throw new UpdraftError(
      ErrorCodes.USAGE,
      "Use either --restart (an app) or --service-stop/--service-start (a service)",
    );
  }
  const dir = resolve(opts.dir);
  const started = Date.now();
  const result = await clientOf(opts, network).update({
    ...(opts.restart
      ? {
          restart: {
            command: shellCommand(opts.restart),
            waitPid: opts.waitPid ?? process.ppid,
            cwd: dir,
            ...(opts.restartLog ? { logFile: resolve(opts.restartLog) } : {}),
          },
        }
      : {}),
    ...(opts.serviceStop && opts.serviceStart
      ? { service: { stop: opts.serviceStop, start: opts.serviceStart, cwd: dir } }
      : {}),
  });
  const human = result.updated
    ? `Updated ${result.previousVersion} -> ${result.version}${result.applied ? "" : "; the files are swapped once the app exits, then it restarts"}`
    : result.skipped
      ? `${result.latestVersion} failed recently (${result.skipped.reason}); not retried before ${result.skipped.retryAfter}`
      : `Up to date: ${result.currentVersion}`;
  return { result: { ...result, seconds: (Date.now() - started) / 1000 }, human };
}

/**
 * `updraft status` for an app that updates in place from a legacy source: the installed version,
 * the source, and whether its updates are verified by signatures. Undefined for other folders.
 */
export async function legacyStatus(dir: string) {
  const layout = installLayout(resolve(dir));
  const record = await readSourceRecord(layout);
  if (!record) return undefined;
  const state = await readState(layout);
  const installed = await installedVersion(layout).catch(() => undefined);
  const failed = Object.entries(state.attempts ?? {})
    .filter(([, a]) => a.outcome !== "succeeded")
    .map(([version, a]) => ({ version, outcome: a.outcome, at: a.at, ...(a.reason ? { reason: a.reason } : {}) }));
  const verification = describeVerification(record);
  const result = {
    app: record.app,
    mode: "in-place",
    format: record.format,
    source: record.url,
    signed: record.signed,
    verification,
    currentVersion: installed?.version,
    previousVersion: state.previous,
    lastCheckedAt: record.checkedAt,
    attempts: failed,
  };
  const lines = [
    `app:       ${record.app} (in place, ${record.format})`,
    `source:    ${record.url}`,
    `current:   ${installed?.version ?? "(unknown)"}`,
    `previous:  ${state.previous ?? "(none)"}`,
    `security:  ${verification}`,
    ...failed.map((f) => `failed:    ${f.version}: ${f.reason ?? f.outcome} (${f.at})`),
  ];
  return { result, human: lines.join("\n") };
}

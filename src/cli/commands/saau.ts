/**
 * The legacy side of `updraft check` and `updraft update`: `--saau BASE_URL --app NAME
 * [--current-version V]` updates an app folder from an unchanged SAAU repository, in place, and
 * `--update-json URL --app NAME --current-version V` from a python-autoupdate `update.json` (or
 * the `<repository>/<app>/` folder of an Updraft repository, verified by signatures). The commands
 * call {@link addSaauOptions} and branch to {@link saauCheck} / {@link saauUpdate}.
 *
 * `update … --prepare-only` downloads, verifies and stages without touching the app's files, and
 * `updraft apply-prepared` swaps them in later (now, or through the restart helper once the app has
 * exited): the two halves the drop-in clients (clients/python, clients/delphi) call.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { hasPreparedInPlace } from "../../client/install/in-place.js";
import { applyPreparedInPlace, recordSuccess } from "../../client/install/index.js";
import { installLayout } from "../../client/install/layout.js";
import { readState } from "../../client/install/state.js";
import type { NetworkOptions } from "../../client/net/http.js";
import { spawnRestartHelper } from "../../client/runtime/restart-helper.js";
import { describeVerification, readSourceRecord } from "../../client/sources/legacy/source-record.js";
import { SaauClient, type SaauClientOptions } from "../../client/sources/saau/client.js";
import { installedVersion } from "../../client/sources/saau/installed.js";
import { Autoupdate } from "../../compat/autoupdate.js";
import { ErrorCodes, ExitCodes, UpdraftError } from "../../core/errors.js";
import { type CommonOptions, runCommand } from "../output.js";
import { appName, duration, httpUrl, path, pid, rootPin, version } from "../parse.js";
import { shellCommand } from "../shell-command.js";

/** Options the SAAU mode reads. */
export interface SaauCliOptions extends CommonOptions {
  dir: string;
  saau?: string;
  updateJson?: string;
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
  prepareOnly?: boolean;
}

/** Longest `--backoff-minutes`: a year. */
const MAX_BACKOFF_MINUTES = 525_600;

/** Adds the SAAU options to `check` or `update`. */
export function addSaauOptions(command: Command, forUpdate: boolean): Command {
  command
    .option("--saau <url>", "update in place from a SAAU repository (BASE_URL holding <app>/versao.txt)", httpUrl)
    .option(
      "--update-json <url>",
      "update in place from a python-autoupdate update.json (the file or its folder; <repo>/<app>/ of an Updraft repository is verified by signatures)",
      httpUrl,
    )
    .option("--app <name>", "with --saau or --update-json: the app's name in the repository", appName)
    .option(
      "--current-version <version>",
      "with --saau: installed version, if the folder has no versao.txt; with --update-json: the running version (required)",
      version,
    )
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
      .option("--service-start <command>", "with --saau: start it after (the old files come back if this fails)")
      .option(
        "--prepare-only",
        "with --saau or --update-json: download, verify and stage the update without touching the app's files (see apply-prepared)",
      );
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

/** python-autoupdate's updater for `--update-json`, on the app folder `--dir`. */
function autoupdateOf(opts: SaauCliOptions, network: NetworkOptions): Autoupdate {
  if (!opts.app || !opts.currentVersion)
    throw new UpdraftError(ErrorCodes.USAGE, "--update-json needs --app NAME and --current-version V", {
      hint: "Give the app's name and the version now running, e.g. --app YourAppName --current-version 1.0.0.",
    });
  if (opts.rootSha256 || opts.serviceStop)
    throw new UpdraftError(ErrorCodes.USAGE, "--root-sha256 and --service-stop/--service-start work with --saau only");
  return new Autoupdate({
    ...network,
    appName: opts.app,
    currentVersion: opts.currentVersion,
    updateUrl: opts.updateJson!,
    appDir: resolve(opts.dir),
    ...(opts.allowUnsignedHttp ? { allowUnsignedHttp: true } : {}),
    ...(opts.backoffMinutes !== undefined ? { backoffMs: opts.backoffMinutes } : {}),
  });
}

/** What a check found, as `check --json` reports it in both legacy modes. */
function checkSummary(updater: Autoupdate, currentVersion: string, updateAvailable: boolean) {
  return {
    updateAvailable,
    currentVersion,
    latestVersion: updater.latestVersion,
    signed: updater.signed,
    ...(updater.skipped ? { skipped: updater.skipped } : {}),
  };
}

/** `updraft check --saau …` or `--update-json …`: exit 10 when a newer version is available, 0 otherwise. */
export async function saauCheck(opts: SaauCliOptions, network: NetworkOptions = {}) {
  const result = opts.updateJson ? await updateJsonCheck(opts, network) : await clientOf(opts, network).check();
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

async function updateJsonCheck(opts: SaauCliOptions, network: NetworkOptions) {
  const updater = autoupdateOf(opts, network);
  const available = await updater.checkForUpdates();
  return checkSummary(updater, opts.currentVersion!, available);
}

/** `update --update-json`: prepare, then apply now or hand the swap to the restart helper. */
async function updateJsonUpdate(opts: SaauCliOptions, network: NetworkOptions, dir: string) {
  const updater = autoupdateOf(opts, network);
  const available = await updater.checkForUpdates();
  const summary = checkSummary(updater, opts.currentVersion!, available);
  if (!available) return { ...summary, updated: false };
  await updater.downloadUpdates();
  const base = { ...summary, updated: true, version: updater.latestVersion, previousVersion: opts.currentVersion };
  if (opts.prepareOnly) return { ...base, applied: false, restarting: false };
  if (opts.restart) return { ...base, ...(await handToHelper(opts, dir)) };
  const outcome = await updater.applyUpdates();
  return { ...base, applied: true, restarting: false, replaced: outcome?.replaced, added: outcome?.added };
}

/** Starts the restart helper, which swaps in what is prepared once the app exits, then restarts it. */
async function handToHelper(opts: { restart?: string; waitPid?: number; restartLog?: string }, dir: string) {
  const helperPid = await spawnRestartHelper({
    waitPid: opts.waitPid ?? process.ppid,
    command: shellCommand(opts.restart!),
    cwd: dir,
    applyPrepared: dir,
    ...(opts.restartLog ? { logFile: resolve(opts.restartLog) } : {}),
  });
  return { applied: false, restarting: true, helperPid };
}

/**
 * `updraft update --saau …` or `--update-json …`: install in place now, after the app exits
 * (`--restart`), around a service, or only prepare it (`--prepare-only`).
 */
export async function saauUpdate(opts: SaauCliOptions, network: NetworkOptions = {}) {
  if (opts.prepareOnly && (opts.restart || opts.serviceStop)) {
    throw new UpdraftError(
      ErrorCodes.USAGE,
      "--prepare-only installs nothing: run apply-prepared with --restart later",
    );
  }
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
  if (opts.updateJson) {
    const done = await updateJsonUpdate(opts, network, dir);
    return { result: { ...done, seconds: (Date.now() - started) / 1000 }, human: updateHuman(done) };
  }
  const result = await clientOf(opts, network).update({
    ...(opts.prepareOnly ? { prepareOnly: true } : {}),
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
  return { result: { ...result, seconds: (Date.now() - started) / 1000 }, human: updateHuman(result) };
}

/** The human line of a legacy update. */
function updateHuman(result: {
  updated: boolean;
  applied?: boolean;
  restarting?: boolean;
  version?: string | undefined;
  previousVersion?: string | undefined;
  currentVersion?: string | undefined;
  latestVersion?: string | undefined;
  skipped?: { reason: string; retryAfter: string } | undefined;
}): string {
  if (result.updated) {
    const after = result.applied
      ? ""
      : result.restarting
        ? "; the files are swapped once the app exits, then it restarts"
        : "; prepared, the app's files are swapped by apply-prepared";
    return `Updated ${result.previousVersion} -> ${result.version}${after}`;
  }
  if (result.skipped)
    return `${result.latestVersion} failed recently (${result.skipped.reason}); not retried before ${result.skipped.retryAfter}`;
  return `Up to date: ${result.currentVersion}`;
}

/**
 * Registers `apply-prepared --dir DIR`: swaps in the update `update --prepare-only` staged, all or
 * nothing, now; or, with `--restart CMD`, hands it to the restart helper, which waits for the app
 * (`--wait-pid`, default the caller) to exit, swaps, restarts it and rolls back if the new version
 * does not confirm (by its next `check` or `update`) within 60 s. With `--restart` and nothing
 * prepared, the helper only restarts the app.
 */
export function registerApplyPrepared(program: Command): void {
  program
    .command("apply-prepared")
    .description("Swap in the update prepared by update --prepare-only (now, or after the app exits with --restart)")
    .requiredOption("--dir <dir>", "the app folder", path)
    .option("--restart <command>", "command line that starts the app again once it has exited")
    .option("--wait-pid <pid>", "PID of the app to wait for before swapping (default: the caller)", pid)
    .option("--restart-log <file>", "file the helper's and the restarted app's output is appended to", path)
    .option("--json", "print one JSON document")
    .action(async (opts: { dir: string; restart?: string; waitPid?: number; restartLog?: string; json?: boolean }) => {
      await runCommand(opts, async () => {
        const dir = resolve(opts.dir);
        const layout = installLayout(dir);
        const prepared = await hasPreparedInPlace(layout);
        if (opts.restart) {
          const handed = await handToHelper(opts, dir);
          const human = prepared
            ? "The prepared update is swapped in once the app exits, then it restarts"
            : "Nothing is prepared; the app restarts once it exits";
          return { result: { prepared, ...handed }, human };
        }
        const outcome = await applyPreparedInPlace(layout);
        if (!outcome) return { result: { prepared, applied: false }, human: "Nothing is prepared" };
        await recordSuccess(layout, outcome.version);
        return {
          result: { prepared, applied: true, ...outcome },
          human: `Updated ${outcome.previous ?? "(unknown)"} -> ${outcome.version}`,
        };
      });
    });
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

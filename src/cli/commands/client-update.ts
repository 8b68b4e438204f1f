/**
 * `updraft update --dir DIR [--restart CMD]`: check, download, verify, install, and optionally
 * restart the app through the detached helper once the calling app has exited.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { healthOf } from "../../client/install/probation.js";
import { spawnRestartHelper } from "../../client/runtime/restart-helper.js";
import { type InstallResult, Updater } from "../../client/updater.js";
import { compareVersions } from "../../core/version.js";
import { type NetworkFlags, networkOptionsFromFlags } from "../network-flags.js";
import { info, runCommand } from "../output.js";
import { channelName, duration, path, pid, platformName } from "../parse.js";
import { downloadProgress } from "../progress.js";
import { shellCommand } from "../shell-command.js";
import { addSaauOptions, type SaauCliOptions, saauUpdate } from "./saau.js";

/** Longest `--health-timeout`: a week. */
const MAX_HEALTH_TIMEOUT_SECONDS = 604_800;
const DEFAULT_HEALTH_TIMEOUT_MS = 60_000;

/** One line on what happens after an install: when the new version runs, and how it is judged. */
function whatHappensNext(dir: string, installed: InstallResult, restarting: boolean): string {
  const start = restarting ? "The app restarts once it exits" : "It runs from the next start of the app";
  const p = installed.probation;
  if (!p) return `${start}.`;
  const health = healthOf(p);
  const proof =
    health.kind === "uptime"
      ? `until it has run ${health.seconds} s`
      : `until the app confirms it, within ${Math.round(p.timeoutMs / 1000)} s of starting`;
  return (
    `${start}, on probation ${proof} (\`updraft confirm --dir ${dir}\` confirms now); ` +
    `if it fails, ${p.previous ?? "the previous version"} comes back.`
  );
}

/** Registers `update`. */
export function registerUpdate(program: Command): void {
  const command = program
    .command("update")
    .description("Download, verify and install the newest release; optionally restart the app")
    .requiredOption("--dir <dir>", "install folder", path)
    .option(
      "--channel <channel>",
      "channel to follow from now on (default: the install's; going back to an older release needs --allow-downgrade)",
      channelName,
    )
    .option("--platform <os-arch>", "take builds for this platform (default: this machine's)", platformName)
    .option("--manual", "a person asked: take the newest release even outside its staged rollout")
    .option("--restart <command>", "command line that starts the app again once it has exited")
    .option("--wait-pid <pid>", "PID of the app to wait for before restarting (default: the caller)", pid)
    .option("--restart-log <file>", "file the restarted app's output is appended to", path)
    .option(
      "--health-timeout <seconds>",
      "time the new version has to confirm it works (default 60)",
      duration("seconds", 1, MAX_HEALTH_TIMEOUT_SECONDS),
    )
    .option("--json", "print one JSON document")
    .action(
      async (
        opts: {
          dir: string;
          channel?: string;
          platform?: string;
          manual?: boolean;
          restart?: string;
          waitPid?: number;
          restartLog?: string;
          /** Milliseconds. */
          healthTimeout?: number;
          json?: boolean;
        } & NetworkFlags &
          SaauCliOptions,
      ) => {
        await runCommand(opts, async ({ signal }) => {
          const network = await networkOptionsFromFlags(opts);
          if (opts.saau || opts.updateJson) return saauUpdate(opts, network);
          const dir = resolve(opts.dir);
          const updater = new Updater({
            installDir: dir,
            ...network,
            healthTimeoutMs: opts.healthTimeout ?? DEFAULT_HEALTH_TIMEOUT_MS,
            ...(opts.channel ? { channel: opts.channel } : {}),
            ...(opts.platform ? { platform: opts.platform } : {}),
          });
          updater.on("file-busy", (busy) => {
            if (busy.attempt === 1) info(opts, `${busy.path} is in use (${busy.errno}); trying again for a while`);
          });
          const started = Date.now();
          const check = await updater.check({ manual: opts.manual === true });
          if (check.status !== "available") {
            return {
              result: {
                updated: false,
                currentVersion: check.currentVersion,
                latestVersion: check.latestVersion,
                ...(check.notOffered ? { notOffered: check.notOffered } : {}),
              },
              human: [
                `Up to date: ${check.currentVersion}.`,
                ...(check.notOffered ? [`${check.notOffered.message}.`] : []),
                ...(check.currentVersion !== undefined && compareVersions(check.latestVersion, check.currentVersion) < 0
                  ? [`The channel offers ${check.latestVersion}, lower: pass --allow-downgrade to install it.`]
                  : []),
              ].join(" "),
            };
          }
          const { update } = check;
          info(opts, `Updating ${check.currentVersion} -> ${check.latestVersion} (${update.downloadSize} bytes)`);
          const progress = downloadProgress(!opts.json);
          const downloaded = await updater
            .download(update, { signal, onProgress: progress.onProgress })
            .finally(progress.stop);
          const installed = await updater.install(downloaded, { signal });
          let helperPid: number | undefined;
          if (opts.restart) {
            helperPid = await spawnRestartHelper({
              waitPid: opts.waitPid ?? process.ppid,
              command: shellCommand(opts.restart),
              cwd: dir,
              watchDir: dir,
              ...(opts.restartLog ? { logFile: resolve(opts.restartLog) } : {}),
            });
          }
          return {
            result: {
              updated: true,
              version: installed.version,
              previousVersion: installed.previousVersion,
              // Everything this run fetched (signed metadata, channel, manifest, payload): what the user paid.
              bytesDownloaded: updater.traffic.bytes,
              artifactBytes: downloaded.fetched,
              filesWritten: installed.filesWritten,
              filesReused: installed.filesReused,
              seconds: (Date.now() - started) / 1000,
              restarting: helperPid !== undefined,
              ...(installed.probation ? { probation: installed.probation } : {}),
              ...(helperPid !== undefined ? { helperPid } : {}),
            },
            human:
              `Updated to ${installed.version} (${updater.traffic.bytes} bytes downloaded, ${downloaded.fetched} of them the ${downloaded.artifactKind === "full" ? "full archive" : "delta"}). ` +
              whatHappensNext(dir, installed, helperPid !== undefined),
          };
        });
      },
    );
  addSaauOptions(command, true);
}

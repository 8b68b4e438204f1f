/**
 * `updraft check --dir DIR`: is a newer release available? Exit 10 if so, 11 if the installed
 * version is below the publisher's minimum (a required update), 0 if current.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { Updater } from "../../client/updater.js";
import { ExitCodes } from "../../core/errors.js";
import { type NetworkFlags, networkOptionsFromFlags } from "../network-flags.js";
import { runCommand } from "../output.js";
import { channelName, path, platformName } from "../parse.js";
import { addSaauOptions, type SaauCliOptions, saauCheck } from "./saau.js";

/** Options of `updraft check`. */
type CheckCliOptions = {
  dir: string;
  channel?: string;
  platform?: string;
  manual?: boolean;
  json?: boolean;
} & NetworkFlags &
  SaauCliOptions;

/** Registers `check`. */
export function registerCheck(program: Command): void {
  const command = program
    .command("check")
    .description("Check for a newer release (exit 10 if one is available, 11 if it is required, 0 if current)")
    .requiredOption("--dir <dir>", "install folder", path)
    .option("--channel <channel>", "channel to check (default: the install's)", channelName)
    .option("--platform <os-arch>", "take builds for this platform (default: this machine's)", platformName)
    .option("--manual", "a check a person asked for: take the newest release even outside its staged rollout")
    .option("--json", "print one JSON document")
    .action(async (opts: CheckCliOptions) => {
      await runCommand(opts, async () => {
        const network = await networkOptionsFromFlags(opts);
        if (opts.saau || opts.updateJson) return saauCheck(opts, network);
        const updater = new Updater({
          installDir: resolve(opts.dir),
          ...network,
          ...(opts.channel ? { channel: opts.channel } : {}),
          ...(opts.platform ? { platform: opts.platform } : {}),
        });
        const result = await updater.check({ manual: opts.manual === true });
        const available = result.status === "available";
        const required = available && result.required === true;
        const notes = [
          ...(result.yanked
            ? [`${result.yanked.version} was yanked${result.yanked.reason ? `: ${result.yanked.reason}` : ""}.`]
            : []),
          ...(result.notOffered ? [`${result.notOffered.message}.`] : []),
          ...(required ? ["This update is required: the installed version is below the publisher's minimum."] : []),
          ...(available && result.critical ? ["The publisher marked this update critical."] : []),
        ];
        return {
          result: {
            updateAvailable: available,
            ...result,
          },
          human: [
            available
              ? `Update available: ${result.currentVersion ?? "(none)"} -> ${result.latestVersion} (${result.update.downloadSize} bytes)`
              : `Up to date: ${result.currentVersion}`,
            ...notes,
          ].join("\n"),
          exitCode: required ? ExitCodes.UPDATE_REQUIRED : available ? ExitCodes.UPDATE_AVAILABLE : ExitCodes.OK,
        };
      });
    });
  addSaauOptions(command, false);
}

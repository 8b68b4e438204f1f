/** `updraft check --dir DIR`: is a newer release available? Exit 10 if so, 0 if current. */
import { resolve } from "node:path";
import type { Command } from "commander";
import { Updater } from "../../client/updater.js";
import { ExitCodes } from "../../core/errors.js";
import { type NetworkFlags, networkOptionsFromFlags } from "../network-flags.js";
import { runCommand } from "../output.js";
import { channelName, path } from "../parse.js";
import { addSaauOptions, type SaauCliOptions, saauCheck } from "./saau.js";

/** Registers `check`. */
export function registerCheck(program: Command): void {
  const command = program
    .command("check")
    .description("Check for a newer release (exit 10 if one is available, 0 if current)")
    .requiredOption("--dir <dir>", "install folder", path)
    .option("--channel <channel>", "channel to check (default: the install's)", channelName)
    .option("--json", "print one JSON document")
    .action(async (opts: { dir: string; channel?: string; json?: boolean } & NetworkFlags & SaauCliOptions) => {
      await runCommand(opts, async () => {
        const network = await networkOptionsFromFlags(opts);
        if (opts.saau || opts.updateJson) return saauCheck(opts, network);
        const updater = new Updater({
          installDir: resolve(opts.dir),
          ...network,
          ...(opts.channel ? { channel: opts.channel } : {}),
        });
        const result = await updater.check();
        const available = result.status === "available";
        return {
          result: {
            updateAvailable: available,
            ...result,
          },
          human: available
            ? `Update available: ${result.currentVersion ?? "(none)"} -> ${result.latestVersion} (${result.update.downloadSize} bytes)`
            : `Up to date: ${result.currentVersion}`,
          exitCode: available ? ExitCodes.UPDATE_AVAILABLE : ExitCodes.OK,
        };
      });
    });
  addSaauOptions(command, false);
}

/** `updraft status --dir DIR`: what is installed. */
import { resolve } from "node:path";
import type { Command } from "commander";
import { Updater } from "../../client/updater.js";
import { runCommand } from "../output.js";
import { path } from "../parse.js";
import { legacyStatus } from "./saau.js";

/** Registers `status`. */
export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("Show the installed, previous and configured versions of an install folder")
    .requiredOption("--dir <dir>", "install folder", path)
    .option("--json", "print one JSON document")
    .action(async (opts: { dir: string; json?: boolean }) => {
      await runCommand(opts, async () => {
        const legacy = await legacyStatus(opts.dir);
        if (legacy) return legacy;
        const status = await new Updater({ installDir: resolve(opts.dir) }).status();
        const lines = [
          `app:       ${status.app} (channel ${status.channel})`,
          `repository: ${status.repoUrl ?? "(none)"}`,
          `current:   ${status.currentVersion ?? "(none)"}`,
          `previous:  ${status.previousVersion ?? "(none)"}`,
          `known good: ${status.knownGoodVersion ?? "(none)"}`,
          `mode:      ${status.mode}`,
        ];
        if (status.pending) {
          lines.push(
            `pending:   ${status.pending.version} on probation (${status.pending.health}), ${
              status.pending.deadline === undefined
                ? "not launched yet"
                : `launched ${status.pending.launchedAt}, deadline ${status.pending.deadline}`
            } (launches ${status.pending.launches}/${status.pending.maxLaunches})`,
          );
        }
        for (const f of status.failed) lines.push(`failed:    ${f.version}: ${f.reason} (retry after ${f.retryAfter})`);
        return { result: { ...status }, human: lines.join("\n") };
      });
    });
}

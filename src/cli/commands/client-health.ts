/**
 * `updraft confirm`, `updraft rollback` and `updraft recover`: the health side of an install.
 * A new version must confirm it works, or it is rolled back (see src/client/install/recover.ts).
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { healthOf } from "../../client/install/probation.js";
import { spawnUptimeWatcher } from "../../client/runtime/restart-helper.js";
import { Updater } from "../../client/updater.js";
import { runCommand } from "../output.js";
import { path, pid } from "../parse.js";

/** Registers `confirm`, `rollback` and `recover`. */
export function registerHealth(program: Command): void {
  program
    .command("confirm")
    .description("Tell Updraft the running version works (ends its probation)")
    .requiredOption("--dir <dir>", "install folder", path)
    .option("--json", "print one JSON document")
    .action(async (opts: { dir: string; json?: boolean }) => {
      await runCommand(opts, async () => {
        const result = await new Updater({ installDir: resolve(opts.dir) }).confirm();
        return { result: { ...result }, human: `Confirmed ${result.version ?? "(none)"}` };
      });
    });
  program
    .command("rollback")
    .description("Go back to the previous version and mark the current one failed")
    .requiredOption("--dir <dir>", "install folder", path)
    .option("--reason <text>", "why (shown by status)", "rolled back by the user")
    .option("--json", "print one JSON document")
    .action(async (opts: { dir: string; reason: string; json?: boolean }) => {
      await runCommand(opts, async () => {
        const result = await new Updater({ installDir: resolve(opts.dir) }).rollback(opts.reason);
        return { result: { ...result }, human: `Rolled back from ${result.from} to ${result.to}` };
      });
    });
  program
    .command("recover")
    .description("Finish or undo an interrupted install; with --launch, count an app start toward probation")
    .requiredOption("--dir <dir>", "install folder", path)
    .option("--launch", "count this as a launch of the app")
    .option("--app-pid <pid>", "with --launch: the app's process, watched for its uptime (default: the caller)", pid)
    .option("--json", "print one JSON document")
    .action(async (opts: { dir: string; launch?: boolean; appPid?: number; json?: boolean }) => {
      await runCommand(opts, async () => {
        const appPid = opts.appPid ?? process.ppid;
        const dir = resolve(opts.dir);
        const result = await new Updater({ installDir: dir }).recover({ launch: opts.launch === true });
        // The app that ran this command is the launch: a watcher judges its uptime after this process ends.
        if (opts.launch && result.probation && healthOf(result.probation).kind === "uptime") {
          spawnUptimeWatcher(dir, appPid);
        }
        return {
          result: { ...result },
          human: result.rolledBack
            ? `Rolled back from ${result.rolledBack.from} to ${result.rolledBack.to}: ${result.rolledBack.reason}`
            : `Transaction: ${result.transaction}${result.busy ? " (another updater is working)" : ""}`,
        };
      });
    });
}

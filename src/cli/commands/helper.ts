/** `updraft helper --wait-pid PID [--watch DIR] [--apply-prepared DIR] -- CMD…`: internal; the detached restart helper. */
import type { Command } from "commander";
import { runRestartHelper, watchUptime } from "../../client/helper.js";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { runCommand } from "../output.js";

/** Registers the hidden `helper` command. */
export function registerHelper(program: Command): void {
  program
    .command("helper", { hidden: true })
    .description("internal: wait for a process to exit, then start a command and watch its probation")
    .requiredOption("--wait-pid <pid>", "process to wait for")
    .option("--cwd <dir>", "working folder of the command", process.cwd())
    .option("--watch <dir>", "install folder whose new version's probation to watch")
    .option("--apply-prepared <dir>", "app folder with a prepared in-place install to apply first")
    .argument("<command...>", "program and arguments")
    .action(
      async (command: string[], opts: { waitPid: string; cwd: string; watch?: string; applyPrepared?: string }) => {
        await runCommand({}, async () => {
          const pid = await runRestartHelper({
            waitPid: Number(opts.waitPid),
            command,
            cwd: opts.cwd,
            ...(opts.watch ? { watchDir: opts.watch } : {}),
            ...(opts.applyPrepared ? { applyPrepared: opts.applyPrepared } : {}),
          });
          return { result: { pid } };
        });
      },
    );
  program
    .command("watch-uptime", { hidden: true })
    .description("internal: confirm the version on probation once process PID has run its uptime")
    .requiredOption("--dir <dir>", "install folder")
    .requiredOption("--pid <pid>", "the app's process")
    .action(async (opts: { dir: string; pid: string }) => {
      await runCommand({}, async () => {
        const pid = Number(opts.pid);
        if (!Number.isSafeInteger(pid) || pid <= 0)
          throw new UpdraftError(ErrorCodes.USAGE, `Invalid --pid "${opts.pid}"`);
        return { result: { outcome: await watchUptime(opts.dir, pid) } };
      });
    });
}

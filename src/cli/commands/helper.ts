/** `updraft helper --wait-pid PID [--watch DIR] [--apply-prepared DIR] -- CMD…`: internal; the detached restart helper. */
import type { Command } from "commander";
import { runRestartHelper, watchUptime } from "../../client/runtime/restart-helper.js";
import { runCommand } from "../output.js";
import { path, pid } from "../parse.js";

/** Registers the hidden `helper` command. */
export function registerHelper(program: Command): void {
  program
    .command("helper", { hidden: true })
    .description("internal: wait for a process to exit, then start a command and watch its probation")
    .requiredOption("--wait-pid <pid>", "process to wait for", pid)
    .option("--cwd <dir>", "working folder of the command", path, process.cwd())
    .option("--watch <dir>", "install folder whose new version's probation to watch", path)
    .option("--apply-prepared <dir>", "app folder with a prepared in-place install to apply first", path)
    .argument("<command...>", "program and arguments")
    .action(
      async (command: string[], opts: { waitPid: number; cwd: string; watch?: string; applyPrepared?: string }) => {
        await runCommand({}, async () => {
          const pid = await runRestartHelper({
            waitPid: opts.waitPid,
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
    .requiredOption("--dir <dir>", "install folder", path)
    .requiredOption("--pid <pid>", "the app's process", pid)
    .action(async (opts: { dir: string; pid: number }) => {
      await runCommand({}, async () => {
        return { result: { outcome: await watchUptime(opts.dir, opts.pid) } };
      });
    });
}

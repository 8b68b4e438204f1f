/** `updraft helper --wait-pid PID -- CMD…`: internal; the detached restart helper. */
import type { Command } from "commander";
import { runRestartHelper } from "../../client/helper.js";
import { runCommand } from "../output.js";

/** Registers the hidden `helper` command. */
export function registerHelper(program: Command): void {
  program
    .command("helper", { hidden: true })
    .description("internal: wait for a process to exit, then start a command")
    .requiredOption("--wait-pid <pid>", "process to wait for")
    .option("--cwd <dir>", "working folder of the command", process.cwd())
    .argument("<command...>", "program and arguments")
    .action(async (command: string[], opts: { waitPid: string; cwd: string }) => {
      await runCommand({}, async () => {
        const pid = await runRestartHelper({ waitPid: Number(opts.waitPid), command, cwd: opts.cwd });
        process.stderr.write(`updraft helper: restarted the app as PID ${pid}\n`);
        return { result: { pid } };
      });
    });
}

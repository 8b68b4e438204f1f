/** `updraft demo`: publish two versions and watch an app update itself (see src/demo/demo.ts). */
import type { Command } from "commander";
import { runDemo } from "../../demo/demo.js";
import { runCommand } from "../output.js";

/** Registers `demo`. */
export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("Publish 1.0.0 and 1.1.0 of a sample app, serve them, and watch it update itself")
    .option("--keep", "keep the temporary folder")
    .option("--json", "print one JSON document at the end")
    .action(async (opts: { keep?: boolean; json?: boolean }) => {
      await runCommand(opts, async () => {
        const result = await runDemo({
          ...(opts.keep ? { keep: true } : {}),
          print: (line) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`),
        });
        return { result: { ...result } };
      });
    });
}

#!/usr/bin/env node
/** The `updraft` command: publisher, server and client in one binary. */
import { Command, CommanderError } from "commander";
import { ExitCodes } from "../core/errors.js";
import { registerCommands } from "./commands/index.js";

const program = new Command();
program
  .name("updraft")
  .description("Signed auto-updates for any app: publish, serve, check, download, install, restart, roll back.")
  .showHelpAfterError()
  .exitOverride();
registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? ExitCodes.OK : ExitCodes.USAGE;
  } else {
    process.stderr.write(`updraft: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = ExitCodes.INTERNAL;
  }
}

/** Registers every subcommand; each lives in its own file in this folder. */
import type { Command } from "commander";
import { registerCheck } from "./client-check.js";
import { registerInstall } from "./client-install.js";
import { registerStatus } from "./client-status.js";
import { registerUpdate } from "./client-update.js";
import { registerHelper } from "./helper.js";
import { registerServe } from "./serve.js";

/** Adds all subcommands to the program. */
export function registerCommands(program: Command): void {
  registerInstall(program);
  registerCheck(program);
  registerUpdate(program);
  registerStatus(program);
  registerHelper(program);
  registerServe(program);
}

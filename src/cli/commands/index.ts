/** Registers every subcommand; each lives in its own file in this folder. */
import type { Command } from "commander";
import { registerServe } from "./serve.js";

/** Adds all subcommands to the program. */
export function registerCommands(program: Command): void {
  void program;
  registerServe(program);
}

/** Registers every subcommand; each lives in its own file in this folder. */
import type { Command } from "commander";
import { addNetworkFlags } from "../network-flags.js";
import { addRepositoryFlags } from "../repository-flags.js";
import { registerCheck } from "./client-check.js";
import { registerHealth } from "./client-health.js";
import { registerInstall } from "./client-install.js";
import { registerStatus } from "./client-status.js";
import { registerUpdate } from "./client-update.js";
import { registerDashboard } from "./dashboard.js";
import { registerDemo } from "./demo.js";
import { registerInit } from "./init.js";
import { registerKeys } from "./keys.js";
import { registerMirror } from "./mirror.js";
import { registerPrune } from "./prune.js";
import { registerPublish } from "./publish.js";
import { registerRefreshTimestamp } from "./refresh-timestamp.js";
import { registerReleaseCommands } from "./releases.js";
import { registerRoot } from "./root.js";
import { registerApplyPrepared } from "./saau.js";
import { registerServe } from "./serve.js";
import { registerStats } from "./stats.js";

/** Adds all subcommands to the program. */
export function registerCommands(program: Command): void {
  registerInstall(program);
  registerCheck(program);
  registerUpdate(program);
  registerApplyPrepared(program);
  registerStatus(program);
  registerHealth(program);
  registerDemo(program);
  registerServe(program);
  registerStats(program);
  registerDashboard(program);
  registerKeys(program);
  registerInit(program);
  registerPublish(program);
  registerReleaseCommands(program);
  registerRefreshTimestamp(program);
  registerMirror(program);
  registerRoot(program);
  registerPrune(program);
  addNetworkFlags(program);
  addRepositoryFlags(program);
}

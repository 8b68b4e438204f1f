/** `updraft refresh-timestamp --repo DIR --app NAME`: re-signs the timestamp (and expiring roles). */
import type { Command } from "commander";
import { loadKeys, refreshTimestamp } from "../../publish/index.js";
import { runCommand } from "../output.js";
import { appName, path } from "../parse.js";
import { type RepositoryFlags, withRepository } from "../repository-flags.js";

/** Registers `updraft refresh-timestamp`. */
export function registerRefreshTimestamp(program: Command): void {
  program
    .command("refresh-timestamp")
    .description("Re-sign the timestamp (and snapshot/targets if they expire within 60 days); run it from cron")
    .requiredOption("--repo <dir>", "repository folder, or s3://BUCKET/PREFIX", path)
    .requiredOption("--app <name>", "app name", appName)
    .option("--keys <dir>", "key folder (default ./updraft-keys; UPDRAFT_<ROLE>_KEY variables win)", path)
    .option("--json", "print one JSON document")
    .action(async (opts: RepositoryFlags & { keys?: string; json?: boolean }) => {
      await runCommand(opts, async () => {
        const keys = await loadKeys({
          ...(opts.keys ? { dir: opts.keys } : {}),
          roles: ["timestamp"],
          optionalRoles: ["targets", "snapshot"],
        });
        const result = await withRepository(opts, (repoDir) => refreshTimestamp({ repoDir, app: opts.app, keys }));
        const human = `Re-signed ${result.resigned.join(", ")} of "${result.app}"; timestamp version ${result.timestampVersion} expires ${result.timestampExpires}.`;
        return { result: { ...result }, human };
      });
    });
}

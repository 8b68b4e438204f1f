/** `updraft prune --repo DIR --app NAME --keep N`: removes old releases from the metadata and the disk. */
import type { Command } from "commander";
import { loadKeys, pruneReleases } from "../../publish/index.js";
import { preparePrune } from "../../publish/remote/index.js";
import { runCommand } from "../output.js";
import { appName, path, wholeNumber } from "../parse.js";
import { type RepositoryFlags, withRepository } from "../repository-flags.js";

/** Registers `updraft prune`. */
export function registerPrune(program: Command): void {
  program
    .command("prune")
    .description(
      "Remove every release but the newest N (and those a channel names) from the signed metadata, and delete their files",
    )
    .requiredOption("--repo <dir>", "repository folder, or s3://BUCKET/PREFIX", path)
    .requiredOption("--app <name>", "app name", appName)
    .requiredOption("--keep <n>", "how many of the highest versions to keep", wholeNumber(1, 1_000_000))
    .option("--dry-run", "only say what would be removed")
    .option("--keys <dir>", "key folder (default ./updraft-keys; UPDRAFT_<ROLE>_KEY variables win)", path)
    .option("--json", "print one JSON document")
    .action(async (opts: RepositoryFlags & { keep: number; dryRun?: boolean; keys?: string; json?: boolean }) => {
      await runCommand(opts, async () => {
        const keys = await loadKeys({
          ...(opts.keys ? { dir: opts.keys } : {}),
          roles: opts.dryRun ? [] : ["targets", "snapshot", "timestamp"],
        });
        const result = await withRepository(
          opts,
          (repoDir) =>
            pruneReleases({
              repoDir,
              app: opts.app,
              keep: opts.keep,
              keys,
              ...(opts.dryRun ? { dryRun: true } : {}),
            }),
          (copy) => preparePrune(copy, opts.app),
        );
        const what =
          result.removed.length === 0
            ? `Nothing to prune in "${result.app}": ${result.kept.length} release(s), all kept.`
            : `${opts.dryRun ? "Would remove" : "Removed"} ${result.removed.length} release(s) of "${result.app}" ` +
              `(${result.removed.join(", ")}; ${result.files} files, ${result.bytes} bytes); kept ${result.kept.join(", ")}.`;
        return { result: { ...result }, human: what };
      });
    });
}

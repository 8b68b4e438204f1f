/** `updraft init --repo DIR --app NAME`: creates an app's signed repository (needs all four keys). */
import type { Command } from "commander";
import { INIT_ROLES, initApp, loadKeys } from "../../publish/index.js";
import { runCommand } from "../output.js";
import { httpUrl, path, publishedAppName } from "../parse.js";
import { type RepositoryFlags, repositoryPath, withRepository } from "../repository-flags.js";

/** Registers `updraft init`. */
export function registerInit(program: Command): void {
  program
    .command("init")
    .description("Create an app's TUF repository: signed root and empty targets, snapshot and timestamp")
    .requiredOption("--repo <dir>", "repository folder (created if missing), or s3://BUCKET/PREFIX", path)
    .requiredOption("--app <name>", "app name (lower case, digits, '.', '_', '-')", publishedAppName)
    .option("--url <url>", "base URL the repository will be served from (embedded in every release)", httpUrl)
    .option("--keys <dir>", "key folder (default ./updraft-keys; UPDRAFT_<ROLE>_KEY variables win)", path)
    .option("--json", "print one JSON document")
    .action(async (opts: RepositoryFlags & { url?: string; keys?: string; json?: boolean }) => {
      await runCommand(opts, async () => {
        const keys = await loadKeys({ ...(opts.keys ? { dir: opts.keys } : {}), roles: INIT_ROLES });
        const result = await withRepository(opts, async (repoDir) => {
          const created = await initApp({
            repoDir,
            app: opts.app,
            keys,
            ...(opts.url !== undefined ? { url: opts.url } : {}),
          });
          return { ...created, rootPath: repositoryPath(opts, repoDir, created.rootPath) };
        });
        const lines = [
          `Created app "${result.app}" in ${opts.repo}.`,
          `Public root:      ${result.rootPath}`,
          `Root fingerprint: sha256:${result.rootSha256}`,
          "Give the fingerprint (or the root file) to installers so they can pin it.",
          ...(result.url
            ? []
            : ["No --url given: releases will not know where to fetch updates (pass --url to publish)."]),
        ];
        return { result: { ...result }, human: lines.join("\n") };
      });
    });
}

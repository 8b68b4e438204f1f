/** `updraft init --repo DIR --app NAME`: creates an app's signed repository (needs all four keys). */
import type { Command } from "commander";
import { INIT_ROLES, initApp, loadKeys } from "../../publish/index.js";
import { runCommand } from "../output.js";
import { httpUrl, path, publishedAppName } from "../parse.js";

/** Registers `updraft init`. */
export function registerInit(program: Command): void {
  program
    .command("init")
    .description("Create an app's TUF repository: signed root and empty targets, snapshot and timestamp")
    .requiredOption("--repo <dir>", "repository folder (created if missing)", path)
    .requiredOption("--app <name>", "app name (lower case, digits, '.', '_', '-')", publishedAppName)
    .option("--url <url>", "base URL the repository will be served from (embedded in every release)", httpUrl)
    .option("--keys <dir>", "key folder (default ./updraft-keys; UPDRAFT_<ROLE>_KEY variables win)", path)
    .option("--json", "print one JSON document")
    .action(async (opts: { repo: string; app: string; url?: string; keys?: string; json?: boolean }) => {
      await runCommand(opts, async () => {
        const keys = await loadKeys({ ...(opts.keys ? { dir: opts.keys } : {}), roles: INIT_ROLES });
        const result = await initApp({
          repoDir: opts.repo,
          app: opts.app,
          keys,
          ...(opts.url !== undefined ? { url: opts.url } : {}),
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

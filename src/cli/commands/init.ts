/** `updraft init --repo DIR --app NAME`: creates an app's signed repository (needs all four keys). */
import type { Command } from "commander";
import { INIT_ROLES, initApp, loadKeys, ONLINE_ROLES, rootKeyPlan } from "../../publish/index.js";
import { runCommand } from "../output.js";
import { httpUrl, path, publishedAppName, wholeNumber } from "../parse.js";
import { type RepositoryFlags, repositoryPath, withRepository } from "../repository-flags.js";

interface InitCommandOptions extends RepositoryFlags {
  url?: string;
  keys?: string;
  rootKeys?: number;
  rootThreshold?: number;
  json?: boolean;
}

/** Registers `updraft init`. */
export function registerInit(program: Command): void {
  program
    .command("init")
    .description("Create an app's TUF repository: signed root and empty targets, snapshot and timestamp")
    .requiredOption("--repo <dir>", "repository folder (created if missing), or s3://BUCKET/PREFIX", path)
    .requiredOption("--app <name>", "app name (lower case, digits, '.', '_', '-')", publishedAppName)
    .option("--url <url>", "base URL the repository will be served from (embedded in every release)", httpUrl)
    .option("--keys <dir>", "key folder (default ./updraft-keys; UPDRAFT_<ROLE>_KEY variables win)", path)
    .option(
      "--root-keys <n>",
      "root keys the root lists: root.key/.pub, root-2.key/.pub … (default 1)",
      wholeNumber(1, 16),
    )
    .option("--root-threshold <n>", "root signatures every new root version needs (default 1)", wholeNumber(1, 16))
    .option("--json", "print one JSON document")
    .action(async (opts: InitCommandOptions) => {
      await runCommand(opts, async () => {
        const dir = opts.keys ? { dir: opts.keys } : {};
        const multiKey = opts.rootKeys !== undefined || opts.rootThreshold !== undefined;
        const root = multiKey
          ? await rootKeyPlan({
              count: opts.rootKeys ?? 1,
              threshold: opts.rootThreshold ?? 1,
              ...(opts.keys ? { keysDir: opts.keys } : {}),
            })
          : undefined;
        const keys = await loadKeys({ ...dir, roles: multiKey ? ONLINE_ROLES : INIT_ROLES });
        const result = await withRepository(opts, async (repoDir) => {
          const created = await initApp({
            repoDir,
            app: opts.app,
            keys,
            ...(root ? { root } : {}),
            ...(opts.url !== undefined ? { url: opts.url } : {}),
          });
          return { ...created, rootPath: repositoryPath(opts, repoDir, created.rootPath) };
        });
        const lines = [
          `Created app "${result.app}" in ${opts.repo}.`,
          `Public root:      ${result.rootPath}`,
          `Root fingerprint: sha256:${result.rootSha256}`,
          ...(root
            ? [
                `Root keys:        ${root.publicKeys.length}, threshold ${root.threshold} (signed by ${root.signers.length} here)`,
              ]
            : []),
          "Give the fingerprint (or the root file) to installers so they can pin it.",
          ...(result.url
            ? []
            : ["No --url given: releases will not know where to fetch updates (pass --url to publish)."]),
        ];
        return { result: { ...result }, human: lines.join("\n") };
      });
    });
}

/**
 * `updraft keys generate [--out DIR] [--root-keys N] [--force]`: creates the role keys of a repository.
 * `updraft keys rotate --repo R --app A --role ROLE`: replaces one key through a new root version.
 */
import type { Command } from "commander";
import {
  DEFAULT_KEYS_DIR,
  generateKeys,
  RETIRED_KEYS_DIR,
  ROLES,
  type RoleName,
  type RotateKeyResult,
  rotateKey,
} from "../../publish/index.js";
import { runCommand } from "../output.js";
import { appName, path, wholeNumber } from "../parse.js";
import { type RepositoryFlags, withRepository } from "../repository-flags.js";
import { describeRootChange, roleName } from "./root.js";

/** Registers `updraft keys` and its `generate` and `rotate` subcommands. */
export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("Manage the signing keys of a repository");
  keys
    .command("generate")
    .description("Create root, targets, snapshot and timestamp ed25519 keys (private keys get mode 0600)")
    .option("--out <dir>", "folder to write the keys to", path, DEFAULT_KEYS_DIR)
    .option(
      "--root-keys <n>",
      "create N root keys (root.key, root-2.key … root-N.key) for a root with a threshold",
      wholeNumber(1, 16),
      1,
    )
    .option("--force", "overwrite existing keys (clients trusting the old keys will reject new releases)")
    .option("--json", "print one JSON document")
    .action(async (opts: { out: string; rootKeys: number; force?: boolean; json?: boolean }) => {
      await runCommand(opts, async () => {
        const generated = await generateKeys(opts.out, { force: opts.force === true, rootKeys: opts.rootKeys });
        const lines = [
          `Wrote ${generated.keys.length} key pairs to ${generated.dir}:`,
          ...generated.keys.map((k) => `  ${k.role.padEnd(9)} ${k.privateKeyPath}  (key id ${k.keyId.slice(0, 16)}…)`),
          "Keep the root keys offline after `updraft init`; publish needs only targets, snapshot and timestamp.",
          "Never commit *.key files; back them up somewhere safe.",
        ];
        return { result: { dir: generated.dir, keys: generated.keys }, human: lines.join("\n") };
      });
    });
  keys
    .command("rotate")
    .description("Replace one role's key: a new root version lists the new key, signed by the old and new root keys")
    .requiredOption("--repo <dir>", "repository folder, or s3://BUCKET/PREFIX", path)
    .requiredOption("--app <name>", "app name", appName)
    .requiredOption("--role <role>", `role whose key to replace: ${ROLES.join(", ")}`, roleName)
    .option(
      "--number <n>",
      "for a root of several keys: which one (1 = root.key, 2 = root-2.key …)",
      wholeNumber(1, 16),
      1,
    )
    .option("--keys <dir>", "key folder (default ./updraft-keys; UPDRAFT_<ROLE>_KEY variables win)", path)
    .option("--json", "print one JSON document")
    .action(async (opts: RepositoryFlags & { role: RoleName; number: number; keys?: string; json?: boolean }) => {
      await runCommand(opts, async () => {
        const result = await withRepository(opts, (repoDir) =>
          rotateKey({
            repoDir,
            app: opts.app,
            role: opts.role,
            number: opts.number,
            ...(opts.keys ? { keysDir: opts.keys } : {}),
          }),
        );
        return { result: { ...result }, human: describeRotation(result) };
      });
    });
}

function describeRotation(r: RotateKeyResult): string {
  const head = `New ${r.role} key ${r.newKeyId.slice(0, 16)}… replaces ${r.oldKeyId.slice(0, 16)}….`;
  if (r.pending) return [head, describeRootChange(r)].join("\n");
  return [
    head,
    describeRootChange(r),
    r.retired.length > 0
      ? `The old key is in ${RETIRED_KEYS_DIR}/ of the key folder; delete it once installs have updated (e.g. \`shred -u FILE\`).`
      : "",
  ]
    .filter((line) => line !== "")
    .join("\n");
}

/** `updraft keys generate [--out DIR] [--force]`: creates the four role keys of a repository. */
import type { Command } from "commander";
import { DEFAULT_KEYS_DIR, generateKeys } from "../../publish/index.js";
import { runCommand } from "../output.js";
import { path } from "../parse.js";

/** Registers `updraft keys` and its `generate` subcommand. */
export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("Manage the signing keys of a repository");
  keys
    .command("generate")
    .description("Create root, targets, snapshot and timestamp ed25519 keys (private keys get mode 0600)")
    .option("--out <dir>", "folder to write the keys to", path, DEFAULT_KEYS_DIR)
    .option("--force", "overwrite existing keys (clients trusting the old keys will reject new releases)")
    .option("--json", "print one JSON document")
    .action(async (opts: { out: string; force?: boolean; json?: boolean }) => {
      await runCommand(opts, async () => {
        const generated = await generateKeys(opts.out, { force: opts.force === true });
        const lines = [
          `Wrote 4 key pairs to ${generated.dir}:`,
          ...generated.keys.map((k) => `  ${k.role.padEnd(9)} ${k.privateKeyPath}  (key id ${k.keyId.slice(0, 16)}…)`),
          "Keep root.key offline after `updraft init`; publish needs only targets, snapshot and timestamp.",
          "Never commit *.key files; back them up somewhere safe.",
        ];
        return { result: { dir: generated.dir, keys: generated.keys }, human: lines.join("\n") };
      });
    });
}

/**
 * `updraft root prepare | sign | publish`: a new root version signed offline by several key
 * holders. `prepare` writes the next root (key changes, threshold, a renewed expiry) to a pending
 * file, `sign --key FILE` adds one holder's signature, `publish` checks both thresholds and
 * publishes it with the metadata chain re-signed.
 */
import { type Command, InvalidArgumentError } from "commander";
import {
  type CommittedRoot,
  prepareRoot,
  publishPendingRoot,
  ROLES,
  type RoleName,
  type RootChange,
  type RootSignatureStatus,
  readPublicKeyFile,
  signPendingRoot,
} from "../../publish/index.js";
import { runCommand } from "../output.js";
import { appName, path, wholeNumber } from "../parse.js";
import { type RepositoryFlags, withRepository } from "../repository-flags.js";

/** A top-level role name, as an option value. */
export function roleName(text: string): RoleName {
  const role = ROLES.find((r) => r === text);
  if (role === undefined) throw new InvalidArgumentError(`Give one of ${ROLES.join(", ")}.`);
  return role;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function signatureLine(status: RootSignatureStatus): string {
  const { version, current, next } = status;
  return `Root version ${version}: ${current.signed}/${current.threshold} signatures of version ${version - 1}'s root keys, ${next.signed}/${next.threshold} of its own.`;
}

/** What a root change did, in a few lines: published (and what was re-signed) or waiting for signatures. */
export function describeRootChange(
  r: ({ pending: true; pendingFile: string } | ({ pending: false } & CommittedRoot)) & { status: RootSignatureStatus },
): string {
  if (r.pending) {
    return [
      signatureLine(r.status),
      `Not enough root keys here: the new root waits in ${r.pendingFile}.`,
      "Each other root key holder runs `updraft root sign --key THEIR.key`, then run `updraft root publish`.",
    ].join("\n");
  }
  return [
    signatureLine(r.status),
    `Published ${r.rootPath}; re-signed ${r.chain.resigned.join(", ")} (timestamp version ${r.chain.timestampVersion}).`,
    ...r.retired.map((k) => `Retired ${k.role} key ${k.keyId.slice(0, 16)}…: ${k.privateKeyPath}`),
    ...r.staleVariables.map((v) => `${v} still holds the old key and wins over the key files: set it to the new key.`),
  ].join("\n");
}

interface RepoOptions extends RepositoryFlags {
  keys?: string;
  file?: string;
  json?: boolean;
}

function withRepoOptions(command: Command): Command {
  return command
    .requiredOption("--repo <dir>", "repository folder, or s3://BUCKET/PREFIX", path)
    .requiredOption("--app <name>", "app name", appName)
    .option("--file <file>", "pending root file (default REPO/<app>/root.pending.json)", path)
    .option("--json", "print one JSON document");
}

/** Registers `updraft root` and its `prepare`, `sign` and `publish` subcommands. */
export function registerRoot(program: Command): void {
  const root = program
    .command("root")
    .description("Change the app's root (keys, thresholds, expiry) with offline signing");
  withRepoOptions(
    root
      .command("prepare")
      .description("Write the next root version, unsigned, to a pending file: key changes, a threshold, a new expiry")
      .option("--role <role>", "role the key changes apply to", roleName, "root")
      .option("--add-key <pub>", "public key file (*.pub) to add to the role (repeatable)", collect)
      .option("--remove-key <id>", "key id (or its first 8+ hex digits) to remove from the role (repeatable)", collect)
      .option("--threshold <n>", "signatures the root role needs", wholeNumber(1, 16))
      .option("--expires-days <days>", "lifetime of the new root (default 365)", wholeNumber(1, 3650))
      .option("--force", "replace a pending root that is already there"),
  ).action(
    async (
      opts: RepoOptions & {
        role: RoleName;
        addKey?: string[];
        removeKey?: string[];
        threshold?: number;
        expiresDays?: number;
        force?: boolean;
      },
    ) => {
      await runCommand(opts, async () => {
        const add = await Promise.all((opts.addKey ?? []).map((file) => readPublicKeyFile(path(file))));
        const change: RootChange = {
          role: opts.role,
          add,
          ...(opts.removeKey ? { remove: opts.removeKey } : {}),
          ...(opts.threshold !== undefined ? { threshold: opts.threshold } : {}),
        };
        const prepared = await withRepository(opts, (repoDir) =>
          prepareRoot({
            repoDir,
            app: opts.app,
            changes: [change],
            ...(opts.file ? { file: opts.file } : {}),
            ...(opts.force ? { force: true } : {}),
            ...(opts.expiresDays !== undefined ? { expiryDays: opts.expiresDays } : {}),
          }),
        );
        const human = [
          `Wrote root version ${prepared.status.version} to ${prepared.pendingFile}.`,
          signatureLine(prepared.status),
          "Each root key holder runs `updraft root sign --key THEIR.key`, then run `updraft root publish`.",
        ].join("\n");
        return { result: { ...prepared }, human };
      });
    },
  );
  withRepoOptions(
    root
      .command("sign")
      .description("Add root key signatures to the pending root")
      .requiredOption("--key <file>", "private root key file (repeatable)", collect),
  ).action(async (opts: RepoOptions & { key: string[] }) => {
    await runCommand(opts, async () => {
      const signed = await withRepository(opts, (repoDir) =>
        signPendingRoot({
          repoDir,
          app: opts.app,
          keyFiles: opts.key.map((file) => path(file)),
          ...(opts.file ? { file: opts.file } : {}),
        }),
      );
      const human = [
        `Added ${signed.added} signature${signed.added === 1 ? "" : "s"} to ${signed.pendingFile}.`,
        signatureLine(signed.status),
        signed.status.complete ? "Enough signatures: run `updraft root publish`." : "More signatures are needed.",
      ].join("\n");
      return { result: { ...signed }, human };
    });
  });
  withRepoOptions(
    root
      .command("publish")
      .description("Publish the pending root once signed by enough root keys, and re-sign the metadata chain")
      .option("--keys <dir>", "key folder with the online keys (default ./updraft-keys)", path),
  ).action(async (opts: RepoOptions) => {
    await runCommand(opts, async () => {
      const published = await withRepository(opts, (repoDir) =>
        publishPendingRoot({
          repoDir,
          app: opts.app,
          ...(opts.file ? { file: opts.file } : {}),
          ...(opts.keys ? { keysDir: opts.keys } : {}),
        }),
      );
      return { result: { ...published }, human: describeRootChange({ ...published, pending: false }) };
    });
  });
}

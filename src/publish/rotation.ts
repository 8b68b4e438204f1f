/**
 * The publisher's key operations on an app: `rotateKey` (`updraft keys rotate`), the offline
 * steps of a root change (`prepareRoot`, `signPendingRoot`, `publishPendingRoot`: `updraft root
 * prepare | sign | publish`) and the root of several keys `init` creates (`rootKeyPlan`). Each
 * holds the app's publish lock while it writes; see root-update.ts for the rules of a new root.
 */
import { generateKeyPairSync } from "node:crypto";
import { join, resolve } from "node:path";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { entryExists, exists } from "../core/fs.js";
import {
  DEFAULT_KEYS_DIR,
  keyFileBase,
  loadRoleKeys,
  loadRolePublicKeys,
  type PublicRoleKey,
  type RoleKey,
  type RoleName,
  readPrivateKeyFile,
  readPublicKeyFile,
  roleKeyOf,
  writeKeyPair,
} from "./keys.js";
import {
  assertFollows,
  assertRootComplete,
  buildNextRoot,
  type CommitRootOptions,
  type CommittedRoot,
  commitRoot,
  finishRootChange,
  pendingRootPath,
  type RootChange,
  type RootSignatureStatus,
  readPendingRoot,
  removePendingRoot,
  rootSignatureStatus,
  signNextRoot,
  waitingKeyRoles,
  writePendingRoot,
} from "./root-update.js";
import { appPaths, loadRepository, type RootKeyPlan, withPublishLock } from "./tuf-repo.js";

/** Where an app's repository and keys are. */
export interface KeyOperationTarget {
  repoDir: string;
  app: string;
  /** Key folder (default `./updraft-keys`). */
  keysDir?: string;
  /** Environment to read `UPDRAFT_<ROLE>[_<n>]_KEY` from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  now?: Date;
}

/** A published or pending root change. */
export type RootChangeResult =
  | ({ pending: false; status: RootSignatureStatus } & CommittedRoot)
  | { pending: true; status: RootSignatureStatus; pendingFile: string };

/**
 * The keys a root of `count` keys lists (`root.key` / `root.pub`, `root-2.*` … in the key
 * folder) and the private ones at hand to sign it; `ROOT_THRESHOLD` when fewer than `threshold`.
 */
export async function rootKeyPlan(options: {
  count: number;
  threshold: number;
  keysDir?: string;
  env?: NodeJS.ProcessEnv;
}): Promise<RootKeyPlan> {
  if (!Number.isInteger(options.threshold) || options.threshold < 1 || options.threshold > options.count) {
    throw new UpdraftError(
      ErrorCodes.USAGE,
      `A root threshold of ${options.threshold} with ${options.count} root keys`,
      {
        hint: "Give a threshold from 1 to the number of root keys.",
      },
    );
  }
  const { publicKeys, privateKeys } = await loadRolePublicKeys("root", options.count, {
    ...(options.keysDir ? { dir: options.keysDir } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
  const signers = [...privateKeys.values()];
  if (signers.length < options.threshold) {
    throw new UpdraftError(
      ErrorCodes.ROOT_THRESHOLD,
      `The first root needs ${options.threshold} signatures, and only ${signers.length} of the ${options.count} root private keys are at hand`,
      {
        hint: "Bring enough root key holders' private keys (root.key, root-2.key … or UPDRAFT_ROOT_<n>_KEY) to the machine running init; the others need only their .pub file.",
        details: { threshold: options.threshold, count: options.count, atHand: signers.length },
      },
    );
  }
  return { publicKeys, threshold: options.threshold, signers };
}

async function refuseIfPending(file: string): Promise<void> {
  if (await exists(file)) {
    throw new UpdraftError(ErrorCodes.USAGE, `A root change is already waiting for signatures in ${file}`, {
      hint: "Finish it (`updraft root sign`, then `updraft root publish`), or replace it with `updraft root prepare --force`.",
      details: { pendingFile: file },
    });
  }
}

/** The public key of root key `number` in the key folder: from its private key, else its `.pub`. */
async function rootPublicKey(keysDir: string, number: number, held: Map<number, RoleKey>): Promise<PublicRoleKey> {
  const key = held.get(number);
  if (key) return key;
  const pub = join(keysDir, `${keyFileBase("root", number)}.pub`);
  if (await entryExists(pub)) return readPublicKeyFile(pub);
  throw new UpdraftError(ErrorCodes.KEYS_MISSING, `Root key number ${number} is not in ${keysDir}`, {
    hint: `Put ${keyFileBase("root", number)}.pub (or .key) there, or remove the key by id with \`updraft root prepare --remove-key ID\`.`,
  });
}

/** Options of {@link rotateKey}. */
export interface RotateKeyOptions extends KeyOperationTarget {
  role: RoleName;
  /** For a root of several keys: which one (1 = `root.key`, n = `root-<n>.key`); default 1. */
  number?: number;
}

/** What {@link rotateKey} did. */
export type RotateKeyResult = RootChangeResult & {
  role: RoleName;
  oldKeyId: string;
  newKeyId: string;
  /** The new private key, as `<role>.next.key` until the root listing it is published. */
  newKeyPath: string;
};

/**
 * Replaces the key of `role` (for root: key `number`) with a new ed25519 key: writes it to the key
 * folder as `<file>.next.key`, builds the next root listing it, and signs that root with every
 * root key at hand (and, for root, the new key). When both thresholds are met it publishes the root
 * at once ({@link commitRoot}: re-signs the chain, moves the old key to `retired/`, the new one to
 * `<file>.key`); otherwise the root waits in `REPO/<app>/root.pending.json` for `updraft root sign`.
 */
export async function rotateKey(options: RotateKeyOptions): Promise<RotateKeyResult> {
  const paths = appPaths(resolve(options.repoDir), options.app);
  const keysDir = resolve(process.cwd(), options.keysDir ?? DEFAULT_KEYS_DIR);
  const env = options.env ?? process.env;
  const number = options.number ?? 1;
  if (options.role !== "root" && number !== 1) {
    throw new UpdraftError(ErrorCodes.USAGE, `The ${options.role} role has one key: --number is for root keys`);
  }
  if (!(await exists(paths.appDir))) await loadRepository(paths); // REPO_NOT_FOUND before creating a lock there
  return withPublishLock(paths, async () => {
    const state = await loadRepository(paths);
    const pendingFile = pendingRootPath(paths);
    await refuseIfPending(pendingFile);
    const waiting = await waitingKeyRoles(state.root, keysDir);
    if (waiting.length > 0) {
      throw new UpdraftError(
        ErrorCodes.USAGE,
        `A key change of ${waiting.join(", ")} was interrupted: its root is published, its new key still waits as a .next.key file`,
        { hint: "Finish it first with `updraft root publish`.", details: { roles: waiting } },
      );
    }
    const held = await loadRoleKeys("root", { dir: keysDir, env });
    let oldKeyIds: string[];
    if (options.role === "root") {
      const old = await rootPublicKey(keysDir, number, held);
      if (!(state.root.signed.roles.root?.keyIDs ?? []).includes(old.keyId)) {
        throw new UpdraftError(
          ErrorCodes.KEY_INVALID,
          `Root key number ${number} (${old.source}, key id ${old.keyId.slice(0, 16)}…) is not a root key of this app`,
          { hint: "Use the key folder the app's root keys are in (--keys DIR), or give the right --number." },
        );
      }
      oldKeyIds = [old.keyId];
    } else oldKeyIds = [...(state.root.signed.roles[options.role]?.keyIDs ?? [])];
    const base = `${keyFileBase(options.role, number)}.next`;
    const privateKey = generateKeyPairSync("ed25519").privateKey;
    const newKey = roleKeyOf(options.role, privateKey, join(keysDir, `${base}.key`));
    const change: RootChange = { role: options.role, remove: oldKeyIds, add: [newKey] };
    const next = buildNextRoot(state.root, [change], options.now ? { now: options.now } : {});
    const rootIds = new Set([
      ...(state.root.signed.roles.root?.keyIDs ?? []),
      ...(next.signed.roles.root?.keyIDs ?? []),
    ]);
    const signers = [...held.values()].filter((k) => rootIds.has(k.keyId));
    if (options.role === "root") signers.push(newKey);
    signNextRoot(state.root, next, signers);
    const status = rootSignatureStatus(state.root, next);
    // The new key is on disk before any root lists it: a key a published root trusts is never lost.
    await writeKeyPair(keysDir, base, privateKey);
    const described = {
      role: options.role,
      oldKeyId: oldKeyIds[0] ?? "",
      newKeyId: newKey.keyId,
      newKeyPath: newKey.source,
    };
    if (!status.complete) {
      await writePendingRoot(pendingFile, next);
      return { ...described, pending: true, status, pendingFile };
    }
    const committed = await commitRoot(state, next, { keysDir, env, ...(options.now ? { now: options.now } : {}) });
    return { ...described, ...committed, pending: false, status };
  });
}

/** Options of {@link prepareRoot}. */
export interface PrepareRootOptions extends KeyOperationTarget {
  changes: readonly RootChange[];
  /** Pending file to write (default `REPO/<app>/root.pending.json`). */
  file?: string;
  /** Replace a pending root that is already there. */
  force?: boolean;
  /** Lifetime of the new root in days (default 365): a change-less prepare renews the root's expiry. */
  expiryDays?: number;
}

/** What {@link prepareRoot} wrote. */
export interface PreparedRoot {
  pendingFile: string;
  status: RootSignatureStatus;
}

/** Writes the next root, with `changes` and no signature yet, as a pending file for `root sign`. */
export async function prepareRoot(options: PrepareRootOptions): Promise<PreparedRoot> {
  const paths = appPaths(resolve(options.repoDir), options.app);
  if (!(await exists(paths.appDir))) await loadRepository(paths);
  return withPublishLock(paths, async () => {
    const state = await loadRepository(paths);
    const pendingFile = resolve(options.file ?? pendingRootPath(paths));
    if (!options.force) await refuseIfPending(pendingFile);
    const next = buildNextRoot(state.root, options.changes, {
      ...(options.now ? { now: options.now } : {}),
      ...(options.expiryDays !== undefined ? { expiryDays: options.expiryDays } : {}),
    });
    await writePendingRoot(pendingFile, next);
    return { pendingFile, status: rootSignatureStatus(state.root, next) };
  });
}

/** Options of {@link signPendingRoot}. */
export interface SignPendingRootOptions extends KeyOperationTarget {
  /** Private root key files to sign with. */
  keyFiles: readonly string[];
  /** Pending file (default `REPO/<app>/root.pending.json`). */
  file?: string;
}

/** Adds signatures to a pending root; returns how far it is signed. */
export async function signPendingRoot(
  options: SignPendingRootOptions,
): Promise<PreparedRoot & { added: number; signers: string[] }> {
  const paths = appPaths(resolve(options.repoDir), options.app);
  const signers = await Promise.all(options.keyFiles.map((file) => readPrivateKeyFile("root", resolve(file))));
  const pendingFile = resolve(options.file ?? pendingRootPath(paths));
  if (!(await exists(paths.appDir))) await loadRepository(paths);
  return withPublishLock(paths, async () => {
    const state = await loadRepository(paths);
    const next = await readPendingRoot(pendingFile);
    assertFollows(state.root, next, pendingFile);
    const added = signNextRoot(state.root, next, signers);
    await writePendingRoot(pendingFile, next);
    return { pendingFile, status: rootSignatureStatus(state.root, next), added, signers: signers.map((s) => s.keyId) };
  });
}

function commitOptions(options: KeyOperationTarget): CommitRootOptions {
  return {
    ...(options.keysDir ? { keysDir: options.keysDir } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.now ? { now: options.now } : {}),
  };
}

/** Options of {@link publishPendingRoot}. */
export interface PublishPendingRootOptions extends KeyOperationTarget {
  /** Pending file (default `REPO/<app>/root.pending.json`). */
  file?: string;
}

/**
 * Publishes a pending root once both thresholds are met (else `ROOT_THRESHOLD`, nothing written),
 * re-signs the chain with the online keys it lists, and removes the pending file. Without a
 * pending file, finishes a change that was interrupted after its root was published (new keys
 * still waiting as `<file>.next.key`).
 */
export async function publishPendingRoot(
  options: PublishPendingRootOptions,
): Promise<CommittedRoot & { status: RootSignatureStatus }> {
  const paths = appPaths(resolve(options.repoDir), options.app);
  const pendingFile = resolve(options.file ?? pendingRootPath(paths));
  if (!(await exists(paths.appDir))) await loadRepository(paths);
  return withPublishLock(paths, async () => {
    const state = await loadRepository(paths);
    if (!(await exists(pendingFile))) {
      // A change whose root was published but whose chain or key files were not finished.
      const finished = await finishRootChange(state, commitOptions(options));
      if (finished) return { ...finished, status: rootSignatureStatus(state.root, state.root) };
    }
    const next = await readPendingRoot(pendingFile);
    assertFollows(state.root, next, pendingFile);
    const status = rootSignatureStatus(state.root, next);
    assertRootComplete(status);
    const committed = await commitRoot(state, next, commitOptions(options));
    await removePendingRoot(pendingFile);
    return { ...committed, status };
  });
}

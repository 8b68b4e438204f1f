/**
 * New root versions: the only way the keys of an app change. A next root (version N+1) is built
 * from the current one with key changes, signed by enough keys of the current root's root role
 * AND of its own (as TUF requires, so clients walking the root chain accept it), then published:
 * `<N+1>.root.json` and `root.json` are written, and the roles whose keys changed are re-signed
 * with their new keys (a new timestamp always) so the metadata chain clients follow stays valid.
 *
 * A root the keys at hand cannot sign alone waits in a pending file (`REPO/<app>/root.pending.json`,
 * a plain TUF root document) for the other key holders: `updraft root sign` adds their signatures,
 * `updraft root publish` checks the thresholds and publishes it. New online keys made for it wait
 * in the key folder as `<role>.next.key` until the root that lists them is published.
 */
import { mkdir, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Metadata, MetadataKind, type Root } from "@tufjs/models";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { entryExists, writeFileAtomic } from "../core/fs.js";
import { isJsonObject, parseJson } from "../core/json.js";
import { FileTooLargeError, readCapped } from "../core/read-capped.js";
import { refreshHistory } from "./history.js";
import {
  DEFAULT_KEYS_DIR,
  type KeySet,
  keyEnvVar,
  keyFileBase,
  loadKeys,
  loadRoleKeys,
  MAX_ROLE_KEYS,
  ONLINE_ROLES,
  type PublicRoleKey,
  parsePrivateKeyText,
  ROLES,
  type RoleKey,
  type RoleName,
  readPrivateKeyFile,
} from "./keys.js";
import {
  type AppPaths,
  assertKeysMatchRoot,
  DEFAULT_EXPIRY_DAYS,
  expiresAfter,
  type RefreshedVersions,
  type RepoState,
  serializeMetadata,
} from "./tuf-repo.js";

/** Where a root waiting for signatures is kept by default: `REPO/<app>/root.pending.json` (not a TUF target). */
export function pendingRootPath(paths: AppPaths): string {
  return join(paths.appDir, "root.pending.json");
}

/** Sub-folder of the key folder where replaced keys are moved: `retired/<file>.<key id prefix>.key`. */
export const RETIRED_KEYS_DIR = "retired";

/** Signatures of one root role over a next root, against its threshold. */
export interface RootRoleSignatures {
  /** Valid signatures by keys this root role lists. */
  signed: number;
  threshold: number;
  /** Key ids this root role lists that have not signed yet. */
  unsigned: string[];
}

/** How far a next root is signed: by the current root's root keys and by its own. */
export interface RootSignatureStatus {
  version: number;
  /** The root role of the root clients trust now (version N). */
  current: RootRoleSignatures;
  /** The next root's own root role (version N+1). */
  next: RootRoleSignatures;
  /** True when both thresholds are met: the root can be published. */
  complete: boolean;
}

function roleSignatures(trusting: Root, next: Metadata<Root>): RootRoleSignatures {
  const role = trusting.roles.root;
  const keyIds = role?.keyIDs ?? [];
  let signed = 0;
  const unsigned: string[] = [];
  for (const keyId of keyIds) {
    const key = trusting.keys[keyId];
    try {
      if (!key) throw new Error("unknown key");
      key.verifySignature(next);
      signed++;
    } catch {
      unsigned.push(keyId);
    }
  }
  return { signed, threshold: role?.threshold ?? 1, unsigned };
}

/** Counts the valid signatures of `next` by the root keys of `current` and of `next` itself. */
export function rootSignatureStatus(current: Metadata<Root>, next: Metadata<Root>): RootSignatureStatus {
  const c = roleSignatures(current.signed, next);
  const n = roleSignatures(next.signed, next);
  return {
    version: next.signed.version,
    current: c,
    next: n,
    complete: c.signed >= c.threshold && n.signed >= n.threshold,
  };
}

/** One line on what a root still needs, e.g. "1 of 2 signatures of version 3's root keys". */
export function describeRootSignatures(status: RootSignatureStatus): string {
  const part = (name: string, s: RootRoleSignatures) => `${s.signed} of ${s.threshold} needed from ${name} root keys`;
  return `root version ${status.version} has ${part(`version ${status.version - 1}'s`, status.current)} and ${part("its own", status.next)}`;
}

/** Throws `ROOT_THRESHOLD` unless both thresholds are met. */
export function assertRootComplete(status: RootSignatureStatus, hint?: string): void {
  if (status.complete) return;
  throw new UpdraftError(
    ErrorCodes.ROOT_THRESHOLD,
    `The new root is not signed by enough root keys: ${describeRootSignatures(status)}`,
    {
      hint:
        hint ??
        "Add signatures with `updraft root sign --key FILE` (one per root key holder), then run `updraft root publish`.",
      details: {
        version: status.version,
        current: { signed: status.current.signed, threshold: status.current.threshold },
        next: { signed: status.next.signed, threshold: status.next.threshold },
      },
    },
  );
}

/** A change to the keys of one role in a next root. */
export interface RootChange {
  role: RoleName;
  /** Keys to add to the role. */
  add?: readonly PublicRoleKey[];
  /** Key ids (or unique prefixes of at least 8 hex digits) to remove from the role. */
  remove?: readonly string[];
  /** New threshold of the role (root only: each online role is signed by its one key). */
  threshold?: number;
}

/** The parts of a root document's `signed` JSON that {@link buildNextRoot} edits. */
interface RootJson {
  version: number;
  expires: string;
  keys: Record<string, unknown>;
  roles: Record<string, { keyids: string[]; threshold: number }>;
}

/** Options of {@link buildNextRoot}. */
export interface NextRootOptions {
  /** Root lifetime in days (default 365). */
  expiryDays?: number;
  now?: Date;
}

function resolveKeyId(root: Root, role: RoleName, idOrPrefix: string): string {
  const wanted = idOrPrefix.toLowerCase();
  const ids = root.roles[role]?.keyIDs ?? [];
  const matches = /^[0-9a-f]{8,64}$/.test(wanted) ? ids.filter((id) => id.startsWith(wanted)) : [];
  if (matches.length !== 1) {
    throw new UpdraftError(
      ErrorCodes.USAGE,
      `"${idOrPrefix}" ${matches.length === 0 ? "is not a key id of" : "names several keys of"} the ${role} role`,
      { hint: `The ${role} role lists: ${ids.join(", ")}.`, details: { role, keyIds: ids } },
    );
  }
  return matches[0] as string;
}

/**
 * Builds version N+1 of `current` with `changes` applied and no signatures. Refuses (`USAGE`) a
 * role left without keys, a threshold above its number of keys, and an online role with more than
 * one key or a threshold other than 1 (publish signs each online role with its one key).
 */
export function buildNextRoot(
  current: Metadata<Root>,
  changes: readonly RootChange[],
  options: NextRootOptions = {},
): Metadata<Root> {
  // Edited as JSON: the @tufjs/models classes are read-only.
  const json = current.toJSON() as unknown as { signed: RootJson; signatures: unknown[] };
  const signed = structuredClone(json.signed);
  signed.version = current.signed.version + 1;
  signed.expires = expiresAfter(options.now ?? new Date(), options.expiryDays ?? DEFAULT_EXPIRY_DAYS.root);
  for (const change of changes) {
    const role = signed.roles[change.role];
    if (!role) throw new UpdraftError(ErrorCodes.USAGE, `The root has no ${change.role} role`);
    for (const id of change.remove ?? []) {
      const keyId = resolveKeyId(current.signed, change.role, id);
      role.keyids = role.keyids.filter((k) => k !== keyId);
    }
    for (const key of change.add ?? []) {
      signed.keys[key.keyId] = key.tufKey.toJSON();
      if (!role.keyids.includes(key.keyId)) role.keyids.push(key.keyId);
    }
    if (change.threshold !== undefined) role.threshold = change.threshold;
  }
  for (const [name, role] of Object.entries(signed.roles)) {
    const online = name !== "root";
    if (role.keyids.length === 0 || role.keyids.length > MAX_ROLE_KEYS) {
      throw new UpdraftError(ErrorCodes.USAGE, `The ${name} role would have ${role.keyids.length} keys`, {
        hint: `Each role needs 1 to ${MAX_ROLE_KEYS} keys: add a key before removing the last one.`,
      });
    }
    if (!Number.isInteger(role.threshold) || role.threshold < 1 || role.threshold > role.keyids.length) {
      throw new UpdraftError(
        ErrorCodes.USAGE,
        `The ${name} role would need ${role.threshold} signatures of its ${role.keyids.length} keys`,
        { hint: "Give a threshold from 1 to the role's number of keys." },
      );
    }
    if (online && (role.keyids.length !== 1 || role.threshold !== 1)) {
      throw new UpdraftError(ErrorCodes.USAGE, `The ${name} role would have ${role.keyids.length} keys`, {
        hint: `The ${name} role is signed by one key at each publish: replace its key (remove the old one, add the new one).`,
      });
    }
  }
  // Keys no role lists any more leave the root.
  const used = new Set(Object.values(signed.roles).flatMap((r) => r.keyids));
  for (const id of Object.keys(signed.keys)) if (!used.has(id)) delete signed.keys[id];
  return Metadata.fromJSON(MetadataKind.Root, { signed, signatures: [] } as unknown as Parameters<
    typeof Metadata.fromJSON
  >[1]);
}

/**
 * Adds the signatures of `signers` that the current or the next root lists as root keys; returns
 * how many were added. A signer listed in neither is `KEY_INVALID` (its signature would be noise).
 */
export function signNextRoot(current: Metadata<Root>, next: Metadata<Root>, signers: readonly RoleKey[]): number {
  const rootKeyIds = new Set([...(current.signed.roles.root?.keyIDs ?? []), ...(next.signed.roles.root?.keyIDs ?? [])]);
  let added = 0;
  for (const signer of signers) {
    if (!rootKeyIds.has(signer.keyId)) {
      throw new UpdraftError(
        ErrorCodes.KEY_INVALID,
        `The key from ${signer.source} (key id ${signer.keyId.slice(0, 16)}…) is not a root key of root version ${current.signed.version} or ${next.signed.version}`,
        { hint: "Sign with one of the app's root keys (root.key, root-2.key …)." },
      );
    }
    if (!next.signatures[signer.keyId]) added++;
    next.sign(signer.signer, true);
  }
  return added;
}

const PENDING_ROOT_CAP = 512_000;

/** Reads a next root from a pending file. */
export async function readPendingRoot(file: string): Promise<Metadata<Root>> {
  let text: string;
  try {
    // A root is at most 512000 bytes for tuf-js; a larger file is no root a client would take.
    text = (await readCapped(file, PENDING_ROOT_CAP)).toString("utf8");
  } catch (err) {
    const reason = err instanceof FileTooLargeError ? `it is over ${PENDING_ROOT_CAP} bytes` : (err as Error).message;
    throw new UpdraftError(ErrorCodes.FILE_ERROR, `Cannot read the pending root ${file}: ${reason}`, {
      cause: err,
      hint: "Run `updraft root prepare` (or `updraft keys rotate`) first, or give --file.",
    });
  }
  try {
    const json = parseJson(text);
    if (!isJsonObject(json)) throw new Error("not a JSON object");
    return Metadata.fromJSON(MetadataKind.Root, json as Parameters<typeof Metadata.fromJSON>[1]);
  } catch (err) {
    throw new UpdraftError(
      ErrorCodes.METADATA_INVALID,
      `${file} is not a TUF root document: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** Writes a next root (signed or not) as a pending file. */
export async function writePendingRoot(file: string, next: Metadata<Root>): Promise<void> {
  await writeFileAtomic(file, serializeMetadata(next));
}

/** Refuses (`METADATA_INVALID`) a next root that does not follow `current` directly. */
export function assertFollows(current: Metadata<Root>, next: Metadata<Root>, file: string): void {
  if (next.signed.version !== current.signed.version + 1) {
    throw new UpdraftError(
      ErrorCodes.METADATA_INVALID,
      `${file} is root version ${next.signed.version}, but the repository is at version ${current.signed.version}`,
      {
        hint: `Prepare a new one from the published root: \`updraft root prepare --force\`.`,
        details: { pending: next.signed.version, published: current.signed.version },
      },
    );
  }
}

/** A new online key waiting in the key folder (`<role>.next.key`) for the root that lists it. */
interface NextKey {
  role: RoleName;
  key: RoleKey;
}

function nextKeyBase(role: RoleName, number = 1): string {
  return `${keyFileBase(role, number)}.next`;
}

async function loadNextKeys(keysDir: string): Promise<NextKey[]> {
  const found: NextKey[] = [];
  for (const role of ONLINE_ROLES) {
    const path = join(keysDir, `${nextKeyBase(role)}.key`);
    if (!(await entryExists(path))) continue;
    found.push({ role, key: await readPrivateKeyFile(role, path) });
  }
  return found;
}

/** Which online roles' keys differ between two roots. */
function changedOnlineRoles(current: Root, next: Root): RoleName[] {
  return ONLINE_ROLES.filter((role) => {
    const a = current.roles[role];
    const b = next.roles[role];
    return a?.threshold !== b?.threshold || JSON.stringify(a?.keyIDs) !== JSON.stringify(b?.keyIDs);
  });
}

/** A key file moved aside by a rotation, and where to. */
export interface RetiredKey {
  role: RoleName;
  keyId: string;
  /** The retired private key (delete it securely once the rotation is confirmed). */
  privateKeyPath: string;
}

/** Options of {@link commitRoot}. */
export interface CommitRootOptions {
  /** Key folder (default `./updraft-keys`): online keys, and `<role>.next.key` files to promote. */
  keysDir?: string;
  env?: NodeJS.ProcessEnv;
  now?: Date;
}

/** What {@link commitRoot} did. */
export interface CommittedRoot {
  rootVersion: number;
  /** Absolute path of `<N+1>.root.json`. */
  rootPath: string;
  /** Roles re-signed after the root, each with a new version (the timestamp always). */
  chain: RefreshedVersions;
  /** Online roles whose key the root changed. */
  changedRoles: RoleName[];
  /** Keys moved to the `retired/` folder. */
  retired: RetiredKey[];
  /** Variables still holding a replaced key: they win over the key files, so they must be updated. */
  staleVariables: string[];
}

async function retire(keysDir: string, base: string, role: RoleName, keyId: string): Promise<RetiredKey | undefined> {
  const from = join(keysDir, `${base}.key`);
  if (!(await entryExists(from))) return undefined;
  const dir = join(keysDir, RETIRED_KEYS_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const stem = `${base}.${keyId.slice(0, 16)}`;
  const privateKeyPath = join(dir, `${stem}.key`);
  await rename(from, privateKeyPath);
  const pub = join(keysDir, `${base}.pub`);
  if (await entryExists(pub)) await rename(pub, join(dir, `${stem}.pub`));
  return { role, keyId, privateKeyPath };
}

async function promote(keysDir: string, from: string, to: string): Promise<void> {
  for (const ext of ["key", "pub"]) {
    const path = join(keysDir, `${from}.${ext}`);
    if (await entryExists(path)) await rename(path, join(keysDir, `${to}.${ext}`));
  }
}

/**
 * Publishes a fully signed next root (call it holding the publish lock, with the state just
 * loaded): checks it follows the current root and meets both thresholds, checks the online keys at
 * hand (with `<role>.next.key` files the new root lists) are the ones it trusts, writes
 * `<N+1>.root.json` then `root.json`, re-signs targets / snapshot as their keys changed and always
 * the timestamp, then moves replaced key files to `retired/` and promotes the `.next` ones.
 */
export async function commitRoot(
  state: RepoState,
  next: Metadata<Root>,
  options: CommitRootOptions = {},
): Promise<CommittedRoot> {
  const keysDir = resolve(process.cwd(), options.keysDir ?? DEFAULT_KEYS_DIR);
  const env = options.env ?? process.env;
  assertFollows(state.root, next, "The new root");
  assertRootComplete(rootSignatureStatus(state.root, next));
  const changedRoles = changedOnlineRoles(state.root.signed, next.signed);
  const { keys, needed, renew } = await chainKeys(next, changedRoles, keysDir, env);
  assertKeysMatchRoot(next, keys, needed);

  // The root first: a reader that sees the new chain can then always walk to the root that signs it.
  const rootBytes = serializeMetadata(next);
  const rootPath = join(state.paths.metadataDir, `${next.signed.version}.root.json`);
  await writeFileAtomic(rootPath, rootBytes);
  await writeFileAtomic(join(state.paths.metadataDir, "root.json"), rootBytes);
  const chain = await resignChain({ ...state, root: next, rootBytes }, keys, renew, options.now);
  const settled = await settleKeyFiles(next, state.root, keysDir, env);
  return { rootVersion: next.signed.version, rootPath, chain, changedRoles, ...settled };
}

/**
 * Re-signs the chain under the root in `state`: from the role whose key changed (`renew`) up, and
 * always the timestamp. A new targets key re-signs every delegated role too, since each names it.
 */
function resignChain(
  state: RepoState,
  keys: KeySet,
  renew: "targets" | "snapshot" | undefined,
  now: Date | undefined,
): Promise<RefreshedVersions> {
  return refreshHistory(state, {
    keys,
    ...(now ? { now } : {}),
    ...(renew === "targets" ? { resignTargets: true } : {}),
    ...(renew !== undefined ? { resignSnapshot: true } : {}),
  });
}

/**
 * The online keys that re-sign the chain under `root`: the key folder's, with a `<role>.next.key`
 * the root lists in place of its role's key; which roles must be re-signed; and from which one up.
 */
async function chainKeys(
  root: Metadata<Root>,
  changedRoles: readonly RoleName[],
  keysDir: string,
  env: NodeJS.ProcessEnv,
): Promise<{ keys: KeySet; needed: RoleName[]; renew: "targets" | "snapshot" | undefined }> {
  const renew = changedRoles.includes("targets")
    ? "targets"
    : changedRoles.includes("snapshot")
      ? "snapshot"
      : undefined;
  const keys: KeySet = await loadKeys({ dir: keysDir, env, roles: [], optionalRoles: ONLINE_ROLES });
  for (const pending of await loadNextKeys(keysDir)) {
    if (root.signed.roles[pending.role]?.keyIDs.includes(pending.key.keyId)) keys[pending.role] = pending.key;
  }
  const needed: RoleName[] = [
    "timestamp",
    ...(renew ? ["snapshot" as const] : []),
    ...(renew === "targets" ? ["targets" as const] : []),
  ];
  for (const role of needed) {
    if (!keys[role]) {
      throw new UpdraftError(
        ErrorCodes.KEYS_MISSING,
        `The ${role} key is needed to re-sign the chain after the new root`,
        {
          hint: `Put ${role}.key (or ${role}.next.key for a new key) in ${keysDir}, or set ${keyEnvVar(role)}.`,
          details: { role, dir: keysDir },
        },
      );
    }
  }
  return { keys, needed, renew };
}

/**
 * After a root is published: each `<file>.next.key` it lists takes the place of `<file>.key`,
 * which moves to `retired/` (as does a root key file of `previous` the root no longer lists), and
 * the key variables that still hold a key the root does not list are named.
 */
async function settleKeyFiles(
  root: Metadata<Root>,
  previous: Metadata<Root> | undefined,
  keysDir: string,
  env: NodeJS.ProcessEnv,
): Promise<{ retired: RetiredKey[]; staleVariables: string[] }> {
  const retired: RetiredKey[] = [];
  const staleVariables: string[] = [];
  for (const role of ROLES) {
    const listed = new Set(root.signed.roles[role]?.keyIDs ?? []);
    const before = new Set(previous?.signed.roles[role]?.keyIDs ?? []);
    const held = await loadRoleKeys(role, { dir: keysDir, env: {} });
    for (let number = 1; number <= (role === "root" ? MAX_ROLE_KEYS : 1); number++) {
      const nextPath = join(keysDir, `${nextKeyBase(role, number)}.key`);
      const pending = (await entryExists(nextPath)) ? await readPrivateKeyFile(role, nextPath) : undefined;
      const takesPlace = pending !== undefined && listed.has(pending.keyId);
      const key = held.get(number);
      if (key !== undefined && !listed.has(key.keyId) && (takesPlace || before.has(key.keyId))) {
        const gone = await retire(keysDir, keyFileBase(role, number), role, key.keyId);
        if (gone) retired.push(gone);
      }
      if (takesPlace && !(key !== undefined && listed.has(key.keyId))) {
        await promote(keysDir, nextKeyBase(role, number), keyFileBase(role, number));
      }
      const variable = keyEnvVar(role, number);
      const fromEnv = env[variable];
      if (fromEnv !== undefined && fromEnv.trim() !== "") {
        let keyId: string | undefined;
        try {
          keyId = parsePrivateKeyText(role, fromEnv, variable).keyId;
        } catch {
          keyId = undefined;
        }
        if (keyId === undefined || !listed.has(keyId)) staleVariables.push(variable);
      }
    }
  }
  return { retired, staleVariables };
}

/** Roles with a `<file>.next.key` that `root` already lists: a change whose key files are not in place yet. */
export async function waitingKeyRoles(root: Metadata<Root>, keysDir: string): Promise<RoleName[]> {
  const waiting: RoleName[] = [];
  for (const role of ROLES) {
    for (let number = 1; number <= (role === "root" ? MAX_ROLE_KEYS : 1); number++) {
      const path = join(keysDir, `${nextKeyBase(role, number)}.key`);
      if (!(await entryExists(path))) continue;
      const key = await readPrivateKeyFile(role, path);
      if (root.signed.roles[role]?.keyIDs.includes(key.keyId)) waiting.push(role);
    }
  }
  return waiting;
}

/**
 * Finishes a root change interrupted after its root was published: when `<file>.next.key` files
 * hold keys the published root lists, re-signs the chain with them and puts them in place.
 * Undefined when there is nothing to finish.
 */
export async function finishRootChange(
  state: RepoState,
  options: CommitRootOptions = {},
): Promise<CommittedRoot | undefined> {
  const keysDir = resolve(process.cwd(), options.keysDir ?? DEFAULT_KEYS_DIR);
  const env = options.env ?? process.env;
  const waiting = await waitingKeyRoles(state.root, keysDir);
  if (waiting.length === 0) return undefined;
  const changedRoles = ONLINE_ROLES.filter((role) => waiting.includes(role));
  const { keys, needed, renew } = await chainKeys(state.root, changedRoles, keysDir, env);
  assertKeysMatchRoot(state.root, keys, needed);
  const chain = await resignChain(state, keys, renew, options.now);
  const settled = await settleKeyFiles(state.root, undefined, keysDir, env);
  const rootPath = join(state.paths.metadataDir, `${state.root.signed.version}.root.json`);
  return { rootVersion: state.root.signed.version, rootPath, chain, changedRoles, ...settled };
}

/** Removes a pending root file once it is published. */
export async function removePendingRoot(file: string): Promise<void> {
  await rm(file, { force: true });
}

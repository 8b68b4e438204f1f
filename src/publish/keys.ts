/**
 * Signing keys of an app's TUF repository: one ed25519 key per role. Generates key files, loads
 * them from a folder or from environment variables, and turns them into the TUF key objects and
 * signers `@tufjs/models` needs. Never prints key material: errors name files and variables only.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { chmod, mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Key, Signature } from "@tufjs/models";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { entryExists, writeFileAtomic } from "../core/fs.js";
import { FileTooLargeError, readCapped } from "../core/read-capped.js";

/** The four top-level TUF roles, each signed by one ed25519 key. */
export const ROLES = ["root", "targets", "snapshot", "timestamp"] as const;

/** One of the four top-level TUF roles. */
export type RoleName = (typeof ROLES)[number];

/** Roles `publish` and `refresh-timestamp` need: the root key can stay offline. */
export const ONLINE_ROLES: readonly RoleName[] = ["targets", "snapshot", "timestamp"];

/** Default key folder, relative to the current working directory. */
export const DEFAULT_KEYS_DIR = "updraft-keys";

/** A function that signs canonical metadata bytes, as `Metadata.sign()` expects. */
export type Signer = (data: Buffer) => Signature;

/** A loaded signing key of one role. */
export interface RoleKey {
  role: RoleName;
  /** TUF key id: sha256 of the canonical JSON of `{keytype, scheme, keyval:{public}}`. */
  keyId: string;
  /** Hex of the raw 32-byte ed25519 public key. */
  publicHex: string;
  /** The key as listed in root metadata. */
  tufKey: Key;
  /** Signs metadata with this key. */
  signer: Signer;
  /** Where the key came from (a file path or an environment variable name), for messages. */
  source: string;
}

/** Loaded keys by role; a role is absent when it was not asked for (or optional and missing). */
export type KeySet = Partial<Record<RoleName, RoleKey>>;

/** The environment variable that overrides a role's key file (`number` ≥ 2: one of a multi-key root's further keys). */
export function keyEnvVar(role: RoleName, number = 1): string {
  return number === 1 ? `UPDRAFT_${role.toUpperCase()}_KEY` : `UPDRAFT_${role.toUpperCase()}_${number}_KEY`;
}

/** File name, without `.key`/`.pub`, of a role's key `number`: `root` for the first, `root-2`, `root-3`… after. */
export function keyFileBase(role: RoleName, number = 1): string {
  return number === 1 ? role : `${role}-${number}`;
}

/** Most keys one role may list (a root of 3 to 5 keys is usual; more is a mistake). */
export const MAX_ROLE_KEYS = 16;

/** Builds the TUF key object and key id of an ed25519 public key. */
export function tufKeyOf(publicKey: KeyObject): { keyId: string; publicHex: string; tufKey: Key } {
  const der = publicKey.export({ format: "der", type: "spki" });
  const publicHex = der.subarray(der.length - 32).toString("hex");
  // Canonical JSON of this fixed shape: keys sorted, ASCII-only strings, no spaces.
  const canonical = JSON.stringify({ keytype: "ed25519", keyval: { public: publicHex }, scheme: "ed25519" });
  const keyId = createHash("sha256").update(canonical).digest("hex");
  const tufKey = new Key({ keyID: keyId, keyType: "ed25519", scheme: "ed25519", keyVal: { public: publicHex } });
  return { keyId, publicHex, tufKey };
}

/** Turns an ed25519 private key into a {@link RoleKey}. */
export function roleKeyOf(role: RoleName, privateKey: KeyObject, source: string): RoleKey {
  if (privateKey.asymmetricKeyType !== "ed25519") {
    throw new UpdraftError(
      ErrorCodes.KEY_INVALID,
      `The ${role} key from ${source} is a ${privateKey.asymmetricKeyType ?? "unknown"} key, not ed25519`,
      { hint: "Create keys with `updraft keys generate`." },
    );
  }
  const { keyId, publicHex, tufKey } = tufKeyOf(createPublicKey(privateKey));
  const signer: Signer = (data) => new Signature({ keyID: keyId, sig: sign(null, data, privateKey).toString("hex") });
  return { role, keyId, publicHex, tufKey, signer, source };
}

/** Parses key text as given in a file or an environment variable: PEM, PEM with `\n` escapes, or base64 of PEM. */
export function parsePrivateKeyText(role: RoleName, text: string, source: string): RoleKey {
  let pem = text.trim();
  if (pem.includes("-----BEGIN")) pem = pem.replace(/\\r\\n|\\n/g, "\n");
  else {
    const decoded = Buffer.from(pem.replace(/\s+/g, ""), "base64").toString("utf8");
    if (decoded.includes("-----BEGIN")) pem = decoded.trim();
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch (err) {
    throw new UpdraftError(ErrorCodes.KEY_INVALID, `The ${role} key from ${source} is not a readable private key`, {
      cause: err,
      hint: `Give a PKCS#8 PEM ed25519 key (or base64 of it), as written by \`updraft keys generate\`.`,
    });
  }
  return roleKeyOf(role, key, source);
}

/** Options of {@link loadKeys}. */
export interface LoadKeysOptions {
  /** Key folder; default `./updraft-keys` relative to `process.cwd()`. */
  dir?: string;
  /** Environment to read `UPDRAFT_<ROLE>_KEY` from; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Roles that must be loaded. */
  roles: readonly RoleName[];
  /** Roles loaded if available, silently skipped otherwise. */
  optionalRoles?: readonly RoleName[];
}

/** A PEM ed25519 key is about 120 bytes; anything far larger is not a key. */
const KEY_FILE_CAP = 64 * 1024;

async function readKeyFile(path: string): Promise<string | undefined> {
  try {
    return (await readCapped(path, KEY_FILE_CAP)).toString("utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    if (err instanceof FileTooLargeError) {
      throw new UpdraftError(ErrorCodes.KEY_INVALID, `Key file ${path} is larger than ${KEY_FILE_CAP} bytes`, {
        hint: "Give the private key file `updraft keys generate` wrote.",
      });
    }
    throw new UpdraftError(ErrorCodes.KEYS_MISSING, `Cannot read key file ${path}: ${(err as Error).message}`, {
      cause: err,
      hint: "Check the file's permissions.",
    });
  }
}

/**
 * Loads signing keys. For each role, the environment variable `UPDRAFT_<ROLE>_KEY` wins over
 * `<dir>/<role>.key`. Throws `KEYS_MISSING` (naming the role, folder and variable) for a missing
 * required key and `KEY_INVALID` for one that is not an ed25519 private key.
 */
export async function loadKeys(options: LoadKeysOptions): Promise<KeySet> {
  const dir = resolve(process.cwd(), options.dir ?? DEFAULT_KEYS_DIR);
  const env = options.env ?? process.env;
  const keys: KeySet = {};
  const wanted = [...options.roles, ...(options.optionalRoles ?? []).filter((r) => !options.roles.includes(r))];
  for (const role of wanted) {
    const envName = keyEnvVar(role);
    const fromEnv = env[envName];
    if (fromEnv !== undefined && fromEnv.trim() !== "") {
      keys[role] = parsePrivateKeyText(role, fromEnv, `environment variable ${envName}`);
      continue;
    }
    const path = join(dir, `${role}.key`);
    const text = await readKeyFile(path);
    if (text !== undefined) keys[role] = parsePrivateKeyText(role, text, path);
    else if (options.roles.includes(role)) {
      throw new UpdraftError(
        ErrorCodes.KEYS_MISSING,
        `No ${role} key: ${path} does not exist and ${envName} is not set`,
        {
          hint: `Run \`updraft keys generate --out ${dir}\`, pass --keys DIR, or set ${envName}.`,
          details: { role, dir, envVar: envName },
        },
      );
    }
  }
  return keys;
}

/** Returns the key of `role` or throws `KEYS_MISSING`. */
export function requireKey(keys: KeySet, role: RoleName): RoleKey {
  const key = keys[role];
  if (!key) {
    throw new UpdraftError(ErrorCodes.KEYS_MISSING, `The ${role} key is needed for this operation but was not given`, {
      hint: `Put ${role}.key in the key folder (--keys DIR) or set ${keyEnvVar(role)}.`,
      details: { role, envVar: keyEnvVar(role) },
    });
  }
  return key;
}

/** Options of {@link generateKeys}. */
export interface GenerateKeysOptions {
  /** Overwrite existing key files. */
  force?: boolean;
  /** How many root keys to create (default 1): `root.key`, then `root-2.key` … `root-N.key`. */
  rootKeys?: number;
}

/** What {@link generateKeys} wrote. */
export interface GeneratedKeys {
  /** Absolute key folder. */
  dir: string;
  keys: { role: RoleName; keyId: string; privateKeyPath: string; publicKeyPath: string }[];
}

/**
 * Creates one ed25519 key per role in `outDir` (default `./updraft-keys`): `<role>.key`
 * (PKCS#8 PEM, mode 0600) and `<role>.pub` (SPKI PEM). A folder it creates gets mode 0700.
 * Refuses (`USAGE`) to overwrite existing keys unless `force`.
 */
export async function generateKeys(
  outDir = DEFAULT_KEYS_DIR,
  options: GenerateKeysOptions = {},
): Promise<GeneratedKeys> {
  const dir = resolve(process.cwd(), outDir);
  const rootKeys = options.rootKeys ?? 1;
  assertKeyCount(rootKeys);
  const files = ROLES.flatMap((role) =>
    Array.from({ length: role === "root" ? rootKeys : 1 }, (_, i) => ({ role, base: keyFileBase(role, i + 1) })),
  );
  const existing: string[] = [];
  for (const { base } of files) {
    for (const ext of ["key", "pub"]) {
      const path = join(dir, `${base}.${ext}`);
      if (await entryExists(path)) existing.push(path);
    }
  }
  if (existing.length > 0 && !options.force) {
    throw new UpdraftError(
      ErrorCodes.USAGE,
      `Keys already exist in ${dir} (${existing.length} files); not overwriting`,
      {
        hint: "Use another --out folder, or --force to replace them (clients trusting the old root keys will reject releases signed with new ones).",
        details: { dir, existing },
      },
    );
  }
  const created = !(await entryExists(dir));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (created && process.platform !== "win32") await chmod(dir, 0o700);
  const result: GeneratedKeys = { dir, keys: [] };
  for (const { role, base } of files) {
    const written = await writeKeyPair(dir, base, generateKeyPairSync("ed25519").privateKey);
    result.keys.push({ role, ...written });
  }
  return result;
}

/** Refuses (`USAGE`) a number of keys for one role outside 1 to {@link MAX_ROLE_KEYS}. */
export function assertKeyCount(count: number): void {
  if (!Number.isInteger(count) || count < 1 || count > MAX_ROLE_KEYS) {
    throw new UpdraftError(ErrorCodes.USAGE, `Invalid number of keys: ${count}`, {
      hint: `Give a whole number from 1 to ${MAX_ROLE_KEYS}.`,
    });
  }
}

/**
 * Writes `<dir>/<base>.key` (PKCS#8 PEM, mode 0600) and `<dir>/<base>.pub` (SPKI PEM), each
 * atomically; returns their paths and the key id.
 */
export async function writeKeyPair(
  dir: string,
  base: string,
  privateKey: KeyObject,
): Promise<{ keyId: string; privateKeyPath: string; publicKeyPath: string }> {
  const publicKey = createPublicKey(privateKey);
  const privateKeyPath = join(dir, `${base}.key`);
  const publicKeyPath = join(dir, `${base}.pub`);
  await writeFileAtomic(privateKeyPath, privateKey.export({ format: "pem", type: "pkcs8" }), 0o600);
  await writeFileAtomic(publicKeyPath, publicKey.export({ format: "pem", type: "spki" }), 0o644);
  if (process.platform !== "win32") {
    await chmod(privateKeyPath, 0o600);
    await chmod(publicKeyPath, 0o644);
  }
  return { keyId: tufKeyOf(publicKey).keyId, privateKeyPath, publicKeyPath };
}

/** A public key a root lists, as read from a `.pub` file (or derived from its private key). */
export interface PublicRoleKey {
  keyId: string;
  tufKey: Key;
  /** Where the key came from, for messages. */
  source: string;
}

/** Reads a public key file (SPKI PEM, as `keys generate` writes `*.pub`), or a private key file whose public half is wanted. */
export async function readPublicKeyFile(path: string): Promise<PublicRoleKey> {
  const text = await readKeyFile(path);
  if (text === undefined) {
    throw new UpdraftError(ErrorCodes.KEYS_MISSING, `Key file ${path} does not exist`, {
      hint: "Give the .pub file `updraft keys generate` wrote.",
    });
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: text, format: "pem" });
  } catch (err) {
    throw new UpdraftError(ErrorCodes.KEY_INVALID, `${path} is not a readable public key`, {
      cause: err,
      hint: "Give an SPKI PEM ed25519 public key, as `updraft keys generate` writes in *.pub.",
    });
  }
  if (publicKey.asymmetricKeyType !== "ed25519") {
    throw new UpdraftError(ErrorCodes.KEY_INVALID, `${path} holds a ${publicKey.asymmetricKeyType} key, not ed25519`, {
      hint: "Create keys with `updraft keys generate`.",
    });
  }
  const { keyId, tufKey } = tufKeyOf(publicKey);
  return { keyId, tufKey, source: path };
}

/** Reads a private key file given by path (e.g. `root sign --key FILE`). */
export async function readPrivateKeyFile(role: RoleName, path: string): Promise<RoleKey> {
  const text = await readKeyFile(path);
  if (text === undefined) {
    throw new UpdraftError(ErrorCodes.KEYS_MISSING, `Key file ${path} does not exist`, {
      hint: "Give the private key file (*.key) `updraft keys generate` wrote.",
    });
  }
  return parsePrivateKeyText(role, text, path);
}

/**
 * Every private key of `role` at hand, by number: `<role>.key` / `UPDRAFT_<ROLE>_KEY` is number 1,
 * `<role>-<n>.key` / `UPDRAFT_<ROLE>_<n>_KEY` number n (the variable wins over the file).
 * Missing numbers are skipped: the holders of a multi-key root usually keep one key each.
 */
export async function loadRoleKeys(
  role: RoleName,
  options: { dir?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Map<number, RoleKey>> {
  const dir = resolve(process.cwd(), options.dir ?? DEFAULT_KEYS_DIR);
  const env = options.env ?? process.env;
  const found = new Map<number, RoleKey>();
  for (let number = 1; number <= MAX_ROLE_KEYS; number++) {
    const envName = keyEnvVar(role, number);
    const fromEnv = env[envName];
    if (fromEnv !== undefined && fromEnv.trim() !== "") {
      found.set(number, parsePrivateKeyText(role, fromEnv, `environment variable ${envName}`));
      continue;
    }
    const path = join(dir, `${keyFileBase(role, number)}.key`);
    const text = await readKeyFile(path);
    if (text !== undefined) found.set(number, parsePrivateKeyText(role, text, path));
  }
  return found;
}

/**
 * The public keys 1…`count` of `role` in the key folder: each from its private key when at hand
 * (file or variable), else from `<role>[-n].pub`. A key with neither is `KEYS_MISSING`.
 */
export async function loadRolePublicKeys(
  role: RoleName,
  count: number,
  options: { dir?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ publicKeys: PublicRoleKey[]; privateKeys: Map<number, RoleKey> }> {
  assertKeyCount(count);
  const dir = resolve(process.cwd(), options.dir ?? DEFAULT_KEYS_DIR);
  const privateKeys = await loadRoleKeys(role, options);
  const publicKeys: PublicRoleKey[] = [];
  for (let number = 1; number <= count; number++) {
    const key = privateKeys.get(number);
    if (key) {
      publicKeys.push(key);
      continue;
    }
    const path = join(dir, `${keyFileBase(role, number)}.pub`);
    if (!(await entryExists(path))) {
      throw new UpdraftError(
        ErrorCodes.KEYS_MISSING,
        `No ${role} key number ${number}: neither ${keyFileBase(role, number)}.key nor .pub is in ${dir}, and ${keyEnvVar(role, number)} is not set`,
        {
          hint: `Run \`updraft keys generate --root-keys ${count}\`, or copy each key holder's .pub file into ${dir}.`,
          details: { role, number, dir },
        },
      );
    }
    publicKeys.push(await readPublicKeyFile(path));
  }
  for (const number of privateKeys.keys()) if (number > count) privateKeys.delete(number);
  return { publicKeys, privateKeys };
}

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

/** The environment variable that overrides a role's key file. */
export function keyEnvVar(role: RoleName): string {
  return `UPDRAFT_${role.toUpperCase()}_KEY`;
}

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
  const existing: string[] = [];
  for (const role of ROLES) {
    for (const ext of ["key", "pub"]) {
      const path = join(dir, `${role}.${ext}`);
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
  for (const role of ROLES) {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const privateKeyPath = join(dir, `${role}.key`);
    const publicKeyPath = join(dir, `${role}.pub`);
    await writeFileAtomic(privateKeyPath, privateKey.export({ format: "pem", type: "pkcs8" }), 0o600);
    await writeFileAtomic(publicKeyPath, publicKey.export({ format: "pem", type: "spki" }), 0o644);
    if (process.platform !== "win32") {
      await chmod(privateKeyPath, 0o600);
      await chmod(publicKeyPath, 0o644);
    }
    result.keys.push({ role, keyId: tufKeyOf(publicKey).keyId, privateKeyPath, publicKeyPath });
  }
  return result;
}

/**
 * One app's TUF repository on disk (`REPO/<app>/metadata`, `REPO/<app>/targets`), written with
 * `@tufjs/models`: creates the first root, loads the current state through the timestamp, stores
 * targets under their consistent-snapshot names and writes new metadata versions in the publish
 * order of docs/format.md (targets files, `<N+1>.targets.json`, `<N+1>.snapshot.json`, then
 * `timestamp.json` by atomic rename).
 */
import { mkdir, readFile, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Metadata, MetadataKind, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp } from "@tufjs/models";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { exists, fsyncDir, randomSuffix, safeJoin, writeFileAtomic } from "../core/fs.js";
import { sha256Hex } from "../core/hash.js";
import { isJsonObject, type JsonObject, type JsonValue, parseJson } from "../core/json.js";
import { acquireLock, type LockToken } from "../core/lock.js";
import { metadataPath, targetsPath } from "../formats/native.js";
import { type KeySet, ONLINE_ROLES, type PublicRoleKey, type RoleKey, type RoleName, requireKey } from "./keys.js";

/** TUF specification version written in every role. */
export const SPEC_VERSION = "1.0.31";

/** Lifetime of each role's metadata, in days. */
export interface ExpiryDays {
  root: number;
  targets: number;
  snapshot: number;
  timestamp: number;
}

/** Defaults from docs/format.md. */
export const DEFAULT_EXPIRY_DAYS: Readonly<ExpiryDays> = { root: 365, targets: 365, snapshot: 365, timestamp: 30 };

const DAY_MS = 86_400_000;

/** ISO date-time without milliseconds (`2027-11-23T00:00:00Z`), as other TUF clients require. */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The `expires` value `days` after `now`. */
export function expiresAfter(now: Date, days: number): string {
  if (!Number.isFinite(days) || days <= 0) {
    throw new UpdraftError(ErrorCodes.USAGE, `Invalid expiry of ${days} days`, {
      hint: "Give a positive number of days.",
    });
  }
  return isoSeconds(new Date(now.getTime() + Math.round(days * DAY_MS)));
}

/** Where one app's repository lives. */
export interface AppPaths {
  repoDir: string;
  app: string;
  appDir: string;
  metadataDir: string;
  targetsDir: string;
  /** `REPO/<app>/.publish.lock` */
  lockFile: string;
  /** `REPO/<app>/updraft-app.json`: publish settings (url). */
  settingsFile: string;
}

/** Paths of `app` inside `repoDir`. */
export function appPaths(repoDir: string, app: string): AppPaths {
  const appDir = join(repoDir, app);
  return {
    repoDir,
    app,
    appDir,
    metadataDir: join(repoDir, ...metadataPath(app).split("/")),
    targetsDir: join(repoDir, ...targetsPath(app).split("/")),
    lockFile: join(appDir, ".publish.lock"),
    settingsFile: join(appDir, "updraft-app.json"),
  };
}

type AnyMetadata = Metadata<Root> | Metadata<Targets> | Metadata<Snapshot> | Metadata<Timestamp>;

/** Serialized form of a metadata file: 2-space JSON and a newline (signatures cover canonical JSON). */
export function serializeMetadata(md: AnyMetadata): Buffer {
  return Buffer.from(`${JSON.stringify(md.toJSON(), null, 2)}\n`);
}

/** The snapshot/timestamp entry of a metadata file: its version, length and sha256. */
export function metaFileOf(version: number, bytes: Buffer): MetaFile {
  return new MetaFile({ version, length: bytes.length, hashes: { sha256: sha256Hex(bytes) } });
}

/** The current state of an app's repository, as a reader following `timestamp.json` sees it. */
export interface RepoState {
  paths: AppPaths;
  root: Metadata<Root>;
  /** Exact bytes of the latest `<N>.root.json` (embedded in releases as `updraft-root.json`). */
  rootBytes: Buffer;
  timestamp: Metadata<Timestamp>;
  snapshot: Metadata<Snapshot>;
  targets: Metadata<Targets>;
}

/** True if the app already has TUF metadata. */
export async function hasRepository(paths: AppPaths): Promise<boolean> {
  return (await exists(join(paths.metadataDir, "1.root.json"))) || (await exists(join(paths.metadataDir, "root.json")));
}

/** Options of {@link createRepository}. */
export interface CreateRepositoryOptions {
  keys: KeySet;
  expiry?: Partial<ExpiryDays>;
  now?: Date;
  /** A root of several keys (default: the one root key of `keys`, threshold 1). */
  root?: RootKeyPlan;
}

/** The keys a root role lists, its threshold, and the keys at hand that sign it. */
export interface RootKeyPlan {
  publicKeys: readonly PublicRoleKey[];
  threshold: number;
  signers: readonly RoleKey[];
}

/** What {@link createRepository} wrote. */
export interface CreatedRepository {
  /** Absolute path of `metadata/root.json`. */
  rootPath: string;
  /** sha256 of the root file bytes (`1.root.json` and `root.json` are identical). */
  rootSha256: string;
  keyIds: Record<RoleName, string>;
}

/**
 * Writes a new repository: root version 1 (consistent snapshots; one key per online role; the root
 * key of `keys`, or the keys and threshold of `options.root`),
 * empty targets, snapshot and timestamp. Needs all four keys. Does not check for an existing one.
 */
export async function createRepository(paths: AppPaths, options: CreateRepositoryOptions): Promise<CreatedRepository> {
  const now = options.now ?? new Date();
  const expiry = { ...DEFAULT_EXPIRY_DAYS, ...options.expiry };
  const rootPlan: RootKeyPlan = options.root ?? {
    publicKeys: [requireKey(options.keys, "root")],
    threshold: 1,
    signers: [requireKey(options.keys, "root")],
  };
  const keys = Object.fromEntries(ONLINE_ROLES.map((role) => [role, requireKey(options.keys, role)])) as Record<
    RoleName,
    ReturnType<typeof requireKey>
  >;
  const draft = new Metadata(
    new Root({
      version: 1,
      specVersion: SPEC_VERSION,
      expires: expiresAfter(now, expiry.root),
      consistentSnapshot: true,
    }),
  );
  for (const key of rootPlan.publicKeys) draft.signed.addKey(key.tufKey, "root");
  for (const role of ONLINE_ROLES) draft.signed.addKey(keys[role].tufKey, role);
  // The models' roles are read-only: the root's threshold is set through its JSON.
  const json = draft.signed.toJSON() as { roles: Record<string, { threshold: number }> };
  if (json.roles.root) json.roles.root.threshold = rootPlan.threshold;
  const root = new Metadata(Root.fromJSON(json as Parameters<typeof Root.fromJSON>[0]));
  for (const signer of rootPlan.signers) root.sign(signer.signer, true);
  const rootBytes = serializeMetadata(root);
  const rootPath = join(paths.metadataDir, "root.json");
  await writeFileAtomic(join(paths.metadataDir, "1.root.json"), rootBytes);
  await writeFileAtomic(rootPath, rootBytes);
  const targets = new Metadata(
    new Targets({ version: 1, specVersion: SPEC_VERSION, expires: expiresAfter(now, expiry.targets), targets: {} }),
  );
  await writeRoles(paths, { targets, keys: options.keys, expiry, now, snapshotVersion: 1, timestampVersion: 1 });
  return {
    rootPath,
    rootSha256: sha256Hex(rootBytes),
    keyIds: {
      ...(Object.fromEntries(ONLINE_ROLES.map((role) => [role, keys[role].keyId])) as Record<RoleName, string>),
      root: rootPlan.publicKeys[0]?.keyId ?? "",
    },
  };
}

/** Reads and parses `metadata/<name>` as a JSON object; a missing or broken file is a typed error. */
export async function readMetadataFile(paths: AppPaths, name: string): Promise<{ bytes: Buffer; json: JsonObject }> {
  const path = join(paths.metadataDir, name);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new UpdraftError(ErrorCodes.REPO_NOT_FOUND, `App "${paths.app}" has no ${name} in ${paths.metadataDir}`, {
        hint: `Run \`updraft init --repo ${paths.repoDir} --app ${paths.app}\` first, or check --repo and --app.`,
      });
    }
    throw err;
  }
  const hint = "Restore the file from a backup; publish never rewrites versioned metadata.";
  let json: JsonValue;
  try {
    json = parseJson(bytes.toString("utf8"));
  } catch (err) {
    throw new UpdraftError(ErrorCodes.METADATA_INVALID, `${path} is not valid JSON: ${(err as Error).message}`, {
      cause: err,
      hint,
    });
  }
  if (!isJsonObject(json))
    throw new UpdraftError(ErrorCodes.METADATA_INVALID, `${path} is not a JSON object`, { hint });
  return { bytes, json };
}

/** Runs `parse` on a metadata file's JSON, turning its failure into `METADATA_INVALID` naming the file. */
export function parsed<T>(name: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UpdraftError(
      ErrorCodes.METADATA_INVALID,
      `${name} is not valid TUF metadata: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** Loads the current state: latest root, then timestamp.json → `<N>.snapshot.json` → `<M>.targets.json`. */
export async function loadRepository(paths: AppPaths): Promise<RepoState> {
  if (!(await hasRepository(paths))) {
    throw new UpdraftError(ErrorCodes.REPO_NOT_FOUND, `App "${paths.app}" is not initialised in ${paths.repoDir}`, {
      hint: `Run \`updraft init --repo ${paths.repoDir} --app ${paths.app}\` first, or check --repo and --app.`,
    });
  }
  const latest = await readMetadataFile(paths, "root.json");
  const latestRoot = parsed("root.json", () => Metadata.fromJSON(MetadataKind.Root, latest.json));
  // root.json is a convenience copy; the versioned file is the one clients walk.
  const rootName = `${latestRoot.signed.version}.root.json`;
  const versioned = await readMetadataFile(paths, rootName);
  const root = parsed(rootName, () => Metadata.fromJSON(MetadataKind.Root, versioned.json));
  const ts = await readMetadataFile(paths, "timestamp.json");
  const timestamp = parsed("timestamp.json", () => Metadata.fromJSON(MetadataKind.Timestamp, ts.json));
  const snapName = `${timestamp.signed.snapshotMeta.version}.snapshot.json`;
  const snap = await readMetadataFile(paths, snapName);
  const snapshot = parsed(snapName, () => Metadata.fromJSON(MetadataKind.Snapshot, snap.json));
  const targetsMeta = snapshot.signed.meta["targets.json"];
  if (!targetsMeta) {
    throw new UpdraftError(ErrorCodes.METADATA_INVALID, `${snapName} does not list targets.json`);
  }
  const targetsName = `${targetsMeta.version}.targets.json`;
  const tg = await readMetadataFile(paths, targetsName);
  const targets = parsed(targetsName, () => Metadata.fromJSON(MetadataKind.Targets, tg.json));
  return { paths, root, rootBytes: versioned.bytes, timestamp, snapshot, targets };
}

/** Checks that the given keys are the ones the app's root trusts for `roles` (else clients would reject them). */
export function assertKeysMatchRoot(root: Metadata<Root>, keys: KeySet, roles: readonly RoleName[]): void {
  for (const role of roles) {
    const key = keys[role];
    if (!key) continue;
    const trusted = root.signed.roles[role]?.keyIDs ?? [];
    if (!trusted.includes(key.keyId)) {
      throw new UpdraftError(
        ErrorCodes.KEY_INVALID,
        `The ${role} key from ${key.source} (key id ${key.keyId.slice(0, 16)}…) is not the one this app's root trusts`,
        { hint: "Use the key folder the app was initialised with (--keys DIR) or its UPDRAFT_*_KEY variables." },
      );
    }
  }
}

/** Absolute path where a target is stored: `<dir>/<sha256>.<basename>` under the app's targets folder. */
export function consistentTargetPath(paths: AppPaths, name: string, sha256: string): string {
  const slash = name.lastIndexOf("/");
  const stored = slash < 0 ? `${sha256}.${name}` : `${name.slice(0, slash)}/${sha256}.${name.slice(slash + 1)}`;
  return safeJoin(paths.targetsDir, stored);
}

/** Builds a target entry with `hashes.sha256`, `length` and `custom.updraft`. */
export function makeTargetFile(
  name: string,
  length: number,
  sha256: string,
  updraft: Record<string, string>,
): TargetFile {
  return new TargetFile({ path: name, length, hashes: { sha256 }, unrecognizedFields: { custom: { updraft } } });
}

/** Stores in-memory target content under its consistent name (durably) and returns its length and hash. */
export async function storeTargetBytes(
  paths: AppPaths,
  name: string,
  data: Uint8Array,
): Promise<{ path: string; length: number; sha256: string }> {
  const sha256 = sha256Hex(data);
  const path = consistentTargetPath(paths, name, sha256);
  if (!(await exists(path))) await writeFileAtomic(path, data);
  return { path, length: data.byteLength, sha256 };
}

/** Moves an already written (and fsynced) file into place as a target under its consistent name. */
export async function storeTargetFile(paths: AppPaths, name: string, file: string, sha256: string): Promise<string> {
  const path = consistentTargetPath(paths, name, sha256);
  await rename(file, path);
  await fsyncDir(dirname(path));
  return path;
}

/** A temporary path next to where target `name` will be stored (same file system, so rename works). */
export function tempTargetPath(paths: AppPaths, name: string): string {
  const full = safeJoin(paths.targetsDir, name);
  return join(dirname(full), `.${randomSuffix()}.tmp`);
}

interface WriteRolesOptions {
  /** New targets metadata (already carrying its new version), or undefined to keep the current one. */
  targets: Metadata<Targets>;
  keys: KeySet;
  expiry: ExpiryDays;
  now: Date;
  snapshotVersion: number;
  timestampVersion: number;
  /** When false, `targets` is the current one and is not rewritten. */
  writeTargets?: boolean;
  /** The current snapshot, reused (not re-signed) when given. */
  keepSnapshot?: Metadata<Snapshot>;
}

/** Signs and writes `<M>.targets.json`, `<N>.snapshot.json`, then `timestamp.json` (atomic rename), in that order. */
async function writeRoles(paths: AppPaths, o: WriteRolesOptions): Promise<void> {
  const targetsVersion = o.targets.signed.version;
  const targetsFile = join(paths.metadataDir, `${targetsVersion}.targets.json`);
  let targetsBytes: Buffer | undefined;
  if (o.writeTargets !== false) {
    o.targets.sign(requireKey(o.keys, "targets").signer, false);
    targetsBytes = serializeMetadata(o.targets);
    await writeFileAtomic(targetsFile, targetsBytes);
  }
  let snapshot = o.keepSnapshot;
  let snapshotBytes: Buffer;
  if (snapshot) snapshotBytes = await readFile(join(paths.metadataDir, `${snapshot.signed.version}.snapshot.json`));
  else {
    snapshot = new Metadata(
      new Snapshot({
        version: o.snapshotVersion,
        specVersion: SPEC_VERSION,
        expires: expiresAfter(o.now, o.expiry.snapshot),
        meta: { "targets.json": metaFileOf(targetsVersion, targetsBytes ?? (await readFile(targetsFile))) },
      }),
    );
    snapshot.sign(requireKey(o.keys, "snapshot").signer, false);
    snapshotBytes = serializeMetadata(snapshot);
    await writeFileAtomic(join(paths.metadataDir, `${o.snapshotVersion}.snapshot.json`), snapshotBytes);
  }
  const timestamp = new Metadata(
    new Timestamp({
      version: o.timestampVersion,
      specVersion: SPEC_VERSION,
      expires: expiresAfter(o.now, o.expiry.timestamp),
      snapshotMeta: metaFileOf(snapshot.signed.version, snapshotBytes),
    }),
  );
  timestamp.sign(requireKey(o.keys, "timestamp").signer, false);
  await writeFileAtomic(join(paths.metadataDir, "timestamp.json"), serializeMetadata(timestamp));
}

/** Versions written by a commit. */
export interface CommittedVersions {
  targetsVersion: number;
  snapshotVersion: number;
  timestampVersion: number;
}

/** What a refresh of the metadata did. */
export interface RefreshedVersions extends CommittedVersions {
  /** Roles re-signed with a new version. */
  resigned: ("targets" | "snapshot" | "timestamp")[];
  /** New `expires` of the timestamp. */
  timestampExpires: string;
}

// ---------------------------------------------------------------------------------------------
// Publish lock

/**
 * Takes `REPO/<app>/.publish.lock` (see src/core/lock.ts), waiting up to `waitMs` for another
 * publisher to finish, or throws `LOCKED` naming the other publisher.
 */
export async function acquirePublishLock(paths: AppPaths, waitMs = 0): Promise<LockToken> {
  await mkdir(paths.appDir, { recursive: true });
  return acquireLock(paths.lockFile, {
    purpose: "publishing",
    waitMs,
    busyError: (holder) =>
      new UpdraftError(
        ErrorCodes.LOCKED,
        `Another publish of "${paths.app}" is running${holder ? ` (process ${holder.pid})` : ""}: ${paths.lockFile} exists`,
        {
          hint: "Wait for it to finish. If no publisher is running, delete the lock file.",
          details: { lockFile: paths.lockFile, ...(holder ? { pid: holder.pid } : {}) },
        },
      ),
  });
}

/** Runs `fn` while holding the app's publish lock (waiting up to `waitMs` for it). */
export async function withPublishLock<T>(paths: AppPaths, fn: () => Promise<T>, waitMs = 0): Promise<T> {
  const lock = await acquirePublishLock(paths, waitMs);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

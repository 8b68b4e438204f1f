/**
 * Hand-made TUF metadata for attack tests, written with @tufjs/models into a repository the real
 * publisher created: re-sign a role with chosen keys, versions and expiry, chain targets →
 * snapshot → timestamp with correct lengths and hashes, and rotate the root.
 */
import { createHash, generateKeyPairSync } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Metadata, MetadataKind } from "@tufjs/models";
import { type RoleKey, type RoleName, roleKeyOf } from "../../src/publish/keys.js";
import type { TestRepo } from "./repo.js";

/** The JSON of a signed metadata file. */
export interface SignedDoc {
  signed: Record<string, unknown> & { version: number; expires: string };
  signatures: { keyid: string; sig: string }[];
}

/** A `meta` entry of snapshot or timestamp. */
export interface MetaEntry {
  version: number;
  length?: number;
  hashes?: Record<string, string>;
}

type JSONObject = Parameters<typeof Metadata.fromJSON>[1];

/** Folder of the app's metadata. */
export function metadataDir(repo: TestRepo): string {
  return join(repo.repoDir, repo.app, "metadata");
}

/** Reads a metadata file as JSON. */
export async function readDoc(repo: TestRepo, name: string): Promise<SignedDoc> {
  return JSON.parse(await readFile(join(metadataDir(repo), name), "utf8")) as SignedDoc;
}

/** Writes a metadata document as the publisher does; returns its bytes. */
export async function writeDoc(repo: TestRepo, name: string, doc: SignedDoc): Promise<Buffer> {
  const bytes = Buffer.from(`${JSON.stringify(doc, null, 2)}\n`);
  await writeFile(join(metadataDir(repo), name), bytes);
  return bytes;
}

/** A fresh ed25519 key for `role` that no repository trusts yet. */
export function newKey(role: RoleName): RoleKey {
  return roleKeyOf(role, generateKeyPairSync("ed25519").privateKey, "test");
}

type Kind = "root" | "targets" | "snapshot" | "timestamp";

function parse(kind: Kind, json: JSONObject) {
  switch (kind) {
    case "root":
      return Metadata.fromJSON(MetadataKind.Root, json);
    case "targets":
      return Metadata.fromJSON(MetadataKind.Targets, json);
    case "snapshot":
      return Metadata.fromJSON(MetadataKind.Snapshot, json);
    default:
      return Metadata.fromJSON(MetadataKind.Timestamp, json);
  }
}

/** Signs `doc.signed` (as a role of `kind`) with `signers`, replacing its signatures. */
export function signDoc(kind: Kind, doc: SignedDoc, signers: RoleKey[]): SignedDoc {
  const md = parse(kind, structuredClone({ ...doc, signatures: [] }) as unknown as JSONObject);
  for (const s of signers) md.sign(s.signer, true);
  return md.toJSON() as unknown as SignedDoc;
}

/** `meta` entry for bytes written as version `version`. */
export function metaOf(version: number, bytes: Buffer): MetaEntry {
  return { version, length: bytes.length, hashes: { sha256: createHash("sha256").update(bytes).digest("hex") } };
}

/** An ISO date `days` from now, without milliseconds. */
export function daysFromNow(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** How to forge one role. */
export interface RoleEdit {
  /** Version to write (default: current + 1). */
  version?: number;
  expires?: string;
  /** Keys to sign with (default: the repository's key of that role). */
  signers?: RoleKey[];
  /** Changes the `signed` part before signing. */
  mutate?: (signed: SignedDoc["signed"]) => void;
}

/** Versions the forged chain wrote. */
export interface ForgedVersions {
  targets: number;
  snapshot: number;
  timestamp: number;
}

function edited(doc: SignedDoc, edit: RoleEdit): SignedDoc {
  const out = structuredClone(doc);
  out.signed.version = edit.version ?? doc.signed.version + 1;
  if (edit.expires) out.signed.expires = edit.expires;
  return out;
}

/**
 * Writes new metadata: targets (if `targets` is given), snapshot (if targets changed or `snapshot`
 * is given) and always a new timestamp, each referencing the one below with its real length and hash.
 */
export async function forgeChain(
  repo: TestRepo,
  edits: { targets?: RoleEdit; snapshot?: RoleEdit; timestamp?: RoleEdit },
): Promise<ForgedVersions> {
  const ts = await readDoc(repo, "timestamp.json");
  const snapMeta = (ts.signed.meta as Record<string, MetaEntry>)["snapshot.json"]!;
  const snap = await readDoc(repo, `${snapMeta.version}.snapshot.json`);
  const targetsMeta = (snap.signed.meta as Record<string, MetaEntry>)["targets.json"]!;
  let newTargetsMeta: MetaEntry | undefined;
  let targetsVersion = targetsMeta.version;
  if (edits.targets) {
    const tg = edited(await readDoc(repo, `${targetsMeta.version}.targets.json`), edits.targets);
    edits.targets.mutate?.(tg.signed);
    targetsVersion = tg.signed.version;
    const bytes = await writeDoc(
      repo,
      `${targetsVersion}.targets.json`,
      signDoc("targets", tg, edits.targets.signers ?? [repo.keys.targets!]),
    );
    newTargetsMeta = metaOf(targetsVersion, bytes);
  }
  let newSnapMeta: MetaEntry | undefined;
  let snapshotVersion = snapMeta.version;
  if (edits.targets || edits.snapshot) {
    const edit = edits.snapshot ?? {};
    const s = edited(snap, edit);
    if (newTargetsMeta) (s.signed.meta as Record<string, MetaEntry>)["targets.json"] = newTargetsMeta;
    edit.mutate?.(s.signed);
    snapshotVersion = s.signed.version;
    const bytes = await writeDoc(
      repo,
      `${snapshotVersion}.snapshot.json`,
      signDoc("snapshot", s, edit.signers ?? [repo.keys.snapshot!]),
    );
    newSnapMeta = metaOf(snapshotVersion, bytes);
  }
  const edit = edits.timestamp ?? {};
  const t = edited(ts, edit);
  if (newSnapMeta) (t.signed.meta as Record<string, MetaEntry>)["snapshot.json"] = newSnapMeta;
  edit.mutate?.(t.signed);
  await writeDoc(repo, "timestamp.json", signDoc("timestamp", t, edit.signers ?? [repo.keys.timestamp!]));
  return { targets: targetsVersion, snapshot: snapshotVersion, timestamp: t.signed.version };
}

/** The root's `signed` part, typed enough for key and role edits. */
export interface RootSigned {
  keys: Record<string, unknown>;
  roles: Record<string, { keyids: string[]; threshold: number }>;
}

/** Makes `keys` the keys of `role` in a root's signed part, with `threshold`. */
export function setRoleKeys(signed: SignedDoc["signed"], role: RoleName, keys: RoleKey[], threshold = 1): void {
  const root = signed as unknown as RootSigned;
  for (const k of keys) root.keys[k.keyId] = k.tufKey.toJSON();
  root.roles[role] = { keyids: keys.map((k) => k.keyId), threshold };
}

/** Writes root version N+1 (or `edit.version`) as `<v>.root.json` and `root.json`, signed by `edit.signers`. */
export async function rotateRoot(repo: TestRepo, edit: RoleEdit & { signers: RoleKey[] }): Promise<number> {
  const current = await readDoc(repo, "root.json");
  const next = edited(current, edit);
  edit.mutate?.(next.signed);
  const signed = signDoc("root", next, edit.signers);
  await writeDoc(repo, `${next.signed.version}.root.json`, signed);
  await writeDoc(repo, "root.json", signed);
  return next.signed.version;
}

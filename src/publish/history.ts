/**
 * Repository metadata layout v2 (docs/design/metadata-layout-v2.md): where each release's targets
 * are signed, so that a check and a publish cost the same at release 300 as at release 3.
 *
 * - The top-level `targets` role lists the channel documents and delegates, newest first, to
 *   {@link RECENT_SLOTS} slot roles `recent-<n>` (one release each, paths `releases/<v>/…`) and
 *   last to `archive` (every other release path). A check that finds an update fetches `targets`
 *   and the one slot of the newest release.
 * - When a publish needs a slot, the oldest release in the slots moves to the open archive bin
 *   `archive-<i>` (reached through `archive`), keeping only its manifest and full archive: deltas
 *   and manifest patches towards an old release are of no use once newer ones exist. A bin holds
 *   {@link ARCHIVE_BIN_RELEASES} releases; once full it is sealed (its paths name its versions) and
 *   never re-signed again, and the next one opens (paths: every release).
 * - TUF clients refuse a snapshot that drops a role the previous one listed, so role names are
 *   never retired: slots are reused, an emptied bin's name is reused by the next bin, and a role
 *   left without content is re-signed empty. Each role written gets the new snapshot's version as
 *   its own, so a reused name never goes back in version.
 */
import { join } from "node:path";
import { Metadata, MetadataKind, MetaFile, Snapshot, TargetFile, Targets, Timestamp } from "@tufjs/models";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import type { JsonObject } from "../core/json.js";
import { compareVersions } from "../core/version.js";
import { releaseOfTarget, releaseTargetPrefix } from "../formats/native.js";
import { type KeySet, requireKey } from "./keys.js";
import {
  type CommittedVersions,
  DEFAULT_EXPIRY_DAYS,
  type ExpiryDays,
  expiresAfter,
  metaFileOf,
  parsed,
  type RefreshedVersions,
  type RepoState,
  readMetadataFile,
  SPEC_VERSION,
} from "./tuf-repo.js";

/** How many releases have a slot role of their own (the newest ones): what checks and rollouts need. */
export const RECENT_SLOTS = 3;
/** Releases per archive bin: the snapshot grows by one entry per this many releases. */
export const ARCHIVE_BIN_RELEASES = 64;

const SLOT_PREFIX = "recent-";
const ARCHIVE_ROLE = "archive";
const BIN_PREFIX = "archive-";
/** Release targets are 1 to 3 segments below `releases/<version>/` (`<platform>/deltas/<file>` at most). */
const MAX_DEPTH_BELOW_RELEASE = 3;

/** The targets of one release: every target under `releases/<version>/`. */
export interface ReleaseTargets {
  version: string;
  targets: Record<string, TargetFile>;
}

/** One archive bin role (`archive-<index>`). */
export interface ArchiveBin {
  index: number;
  /** In the order they were archived. */
  releases: ReleaseTargets[];
  /** A sealed bin names its versions in its delegation and is not re-signed when a release is archived. */
  sealed: boolean;
}

/** What a delegated role signs, to tell whether it must be re-signed. */
interface RoleRecord {
  version: number;
  /** The signed targets and delegations, and the signing key, as JSON; undefined when not read. */
  content: string | undefined;
  expires: string;
}

/** Every release's targets as the repository signs them, and the roles holding them. */
export interface RepositoryHistory {
  /** Top-level targets that belong to no release (channel documents). */
  topLevel: Record<string, TargetFile>;
  /** Releases with a slot role, newest first. */
  recent: { slot: number; release: ReleaseTargets }[];
  /** Archive bins in the order they were opened; the open one (if any) last. */
  bins: ArchiveBin[];
  /** Every delegated role the current snapshot lists. */
  roles: Map<string, RoleRecord>;
}

function slotRole(slot: number): string {
  return `${SLOT_PREFIX}${slot}`;
}

function binRole(index: number): string {
  return `${BIN_PREFIX}${index}`;
}

/** Groups targets by the release they belong to (in first-seen order); other targets are returned apart. */
function groupReleases(targets: Record<string, TargetFile>): {
  releases: ReleaseTargets[];
  other: Record<string, TargetFile>;
} {
  const byVersion = new Map<string, ReleaseTargets>();
  const other: Record<string, TargetFile> = {};
  for (const [name, target] of Object.entries(targets)) {
    const version = releaseOfTarget(name);
    if (version === undefined) {
      other[name] = target;
      continue;
    }
    let release = byVersion.get(version);
    if (!release) {
      release = { version, targets: {} };
      byVersion.set(version, release);
    }
    release.targets[name] = target;
  }
  return { releases: [...byVersion.values()], other };
}

function roleContent(signed: Targets, keyIds: readonly string[]): string {
  const json = signed.toJSON();
  return JSON.stringify({ targets: json.targets, delegations: json.delegations ?? null, keyIds });
}

/** Loads every role of the repository's targets tree: slots, archive and bins. v1 releases go to the archive. */
export async function loadHistory(state: RepoState): Promise<RepositoryHistory> {
  const meta = state.snapshot.signed.meta;
  const roles = new Map<string, RoleRecord>();
  const load = async (name: string): Promise<Metadata<Targets>> => {
    const entry = meta[`${name}.json`];
    if (!entry) {
      throw new UpdraftError(ErrorCodes.METADATA_INVALID, `The snapshot does not list the delegated role ${name}`, {
        hint: "Restore the metadata folder from a backup; publish never rewrites versioned metadata.",
      });
    }
    const file = `${entry.version}.${name}.json`;
    const { json } = await readMetadataFile(state.paths, file);
    const md = parsed(file, () => Metadata.fromJSON(MetadataKind.Targets, json));
    roles.set(name, {
      version: md.signed.version,
      content: roleContent(md.signed, Object.keys(md.signatures)),
      expires: md.signed.expires,
    });
    return md;
  };
  const top = groupReleases(state.targets.signed.targets);
  const history: RepositoryHistory = { topLevel: top.other, recent: [], bins: [], roles };
  for (const role of Object.values(state.targets.signed.delegations?.roles ?? {})) {
    const md = await load(role.name);
    if (role.name.startsWith(SLOT_PREFIX)) {
      const slot = Number(role.name.slice(SLOT_PREFIX.length));
      for (const release of groupReleases(md.signed.targets).releases) history.recent.push({ slot, release });
    } else if (role.name === ARCHIVE_ROLE) {
      for (const bin of Object.values(md.signed.delegations?.roles ?? {})) {
        const binMd = await load(bin.name);
        history.bins.push({
          index: Number(bin.name.slice(BIN_PREFIX.length)),
          releases: groupReleases(binMd.signed.targets).releases,
          sealed: !(bin.paths ?? []).some((p) => p.startsWith("releases/*/")),
        });
      }
    }
  }
  for (const [file, entry] of Object.entries(meta)) {
    const name = file.replace(/\.json$/, "");
    if (name !== "targets" && !roles.has(name))
      roles.set(name, { version: entry.version, content: undefined, expires: "" });
  }
  // A v1 repository signed every release in the top-level role: the first v2 publish archives them.
  for (const release of top.releases.sort((a, b) => compareVersions(a.version, b.version))) {
    archiveRelease(history, release);
  }
  return history;
}

/** Every release the repository signs: slots (newest first), then the archive (oldest bin first). */
export function allReleases(history: RepositoryHistory): ReleaseTargets[] {
  return [...history.recent.map((r) => r.release), ...history.bins.flatMap((b) => b.releases)];
}

/** The signed release of a version equal to `version` (`1.2` equals `1.2.0`), wherever it is. */
export function findRelease(history: RepositoryHistory, version: string): ReleaseTargets | undefined {
  return allReleases(history).find((r) => compareVersions(r.version, version) === 0);
}

/** Every release target in one map (what the delta builder searches for previous releases). */
export function releaseTargetMap(history: RepositoryHistory): Record<string, TargetFile> {
  return Object.assign({}, ...allReleases(history).map((r) => r.targets)) as Record<string, TargetFile>;
}

/** Removes the release of a version equal to `version` from wherever it is signed; returns it. */
export function removeRelease(history: RepositoryHistory, version: string): ReleaseTargets | undefined {
  const i = history.recent.findIndex((r) => compareVersions(r.release.version, version) === 0);
  if (i >= 0) return history.recent.splice(i, 1)[0]?.release;
  for (const bin of history.bins) {
    const j = bin.releases.findIndex((r) => compareVersions(r.version, version) === 0);
    if (j < 0) continue;
    const [removed] = bin.releases.splice(j, 1);
    if (bin.releases.length === 0) history.bins.splice(history.bins.indexOf(bin), 1);
    return removed;
  }
  return undefined;
}

/** Adds a new release as the newest: it takes a free slot, or the slot of the oldest, which is archived. */
export function addRelease(history: RepositoryHistory, release: ReleaseTargets): void {
  const used = new Set(history.recent.map((r) => r.slot));
  let slot = [...Array(RECENT_SLOTS).keys()].find((s) => !used.has(s));
  if (slot === undefined) {
    const oldest = history.recent.pop()!;
    slot = oldest.slot;
    archiveRelease(history, oldest.release);
  }
  history.recent.unshift({ slot, release });
}

/** True for targets an archived release keeps: its manifest and full archive, not deltas or patches towards it. */
function keptWhenArchived(name: string): boolean {
  return !name.includes("/deltas/") && !name.endsWith(".zpatch");
}

function archiveRelease(history: RepositoryHistory, release: ReleaseTargets): void {
  const targets = Object.fromEntries(Object.entries(release.targets).filter(([name]) => keptWhenArchived(name)));
  let open = history.bins.at(-1);
  if (!open || open.sealed) {
    const taken = new Set(history.bins.map((b) => b.index));
    let index = 1;
    while (taken.has(index)) index++;
    open = { index, releases: [], sealed: false };
    history.bins.push(open);
  }
  open.releases.push({ version: release.version, targets });
  if (open.releases.length >= ARCHIVE_BIN_RELEASES) open.sealed = true;
}

/** Delegation paths covering `version`'s targets (`*` for every release), one pattern per depth. */
function releasePaths(version: string, depths: Iterable<number>): string[] {
  return [...new Set(depths)].sort().map((d) => `${releaseTargetPrefix(version)}${Array(d).fill("*").join("/")}`);
}

function depthsOf(release: ReleaseTargets): number[] {
  const base = releaseTargetPrefix(release.version).length;
  // Depths 1 and 2 always: a lookup of a target the release lacks stops at its role, not the archive.
  return [1, 2, ...Object.keys(release.targets).map((name) => name.slice(base).split("/").length)];
}

/** Placeholder expiry of drafts compared by content only. */
const EPOCH = "1970-01-01T00:00:00Z";

const EVERY_RELEASE = releasePaths(
  "*",
  [...Array(MAX_DEPTH_BELOW_RELEASE).keys()].map((d) => d + 1),
);

/** A delegation as TUF metadata spells it (`@tufjs/models` builds its classes from this form only). */
interface DelegatedRoleJson {
  name: string;
  keyids: string[];
  threshold: number;
  terminating: boolean;
  paths: string[];
}

interface RoleDraft {
  targets: Record<string, TargetFile>;
  delegations?: { keys: Record<string, JsonObject>; roles: DelegatedRoleJson[] };
}

/** The unsigned `targets` role a draft describes. */
function targetsOf(draft: RoleDraft, version: number, expires: string): Targets {
  return Targets.fromJSON({
    _type: MetadataKind.Targets,
    spec_version: SPEC_VERSION,
    version,
    expires,
    targets: Object.fromEntries(Object.entries(draft.targets).map(([name, t]) => [name, t.toJSON()])),
    ...(draft.delegations ? { delegations: draft.delegations as unknown as JsonObject } : {}),
  });
}

/** The key the root trusts for the targets role: every delegation names it (one key signs the whole tree). */
function targetsKeyOf(state: RepoState): { keyId: string; key: JsonObject } {
  const keyId = state.root.signed.roles.targets?.keyIDs[0];
  const key = keyId === undefined ? undefined : state.root.signed.keys[keyId];
  if (keyId === undefined || !key) {
    throw new UpdraftError(ErrorCodes.METADATA_INVALID, "The root names no key for the targets role");
  }
  return { keyId, key: key.toJSON() };
}

/** The signed content of every role for `history` (the top-level one under the name `targets`). */
function draftRoles(history: RepositoryHistory, key: { keyId: string; key: JsonObject }): Map<string, RoleDraft> {
  const delegate = (name: string, paths: string[]): DelegatedRoleJson => ({
    name,
    keyids: [key.keyId],
    threshold: 1,
    terminating: true,
    paths,
  });
  const delegations = (roles: DelegatedRoleJson[]) => ({ keys: { [key.keyId]: key.key }, roles });
  const drafts = new Map<string, RoleDraft>();
  for (const { slot, release } of history.recent) drafts.set(slotRole(slot), { targets: release.targets });
  for (const bin of history.bins) {
    drafts.set(binRole(bin.index), { targets: Object.assign({}, ...bin.releases.map((r) => r.targets)) });
  }
  drafts.set(ARCHIVE_ROLE, {
    targets: {},
    delegations: delegations(
      history.bins.map((bin) =>
        delegate(
          binRole(bin.index),
          bin.sealed ? bin.releases.flatMap((r) => releasePaths(r.version, depthsOf(r))) : EVERY_RELEASE,
        ),
      ),
    ),
  });
  drafts.set("targets", {
    targets: history.topLevel,
    delegations: delegations([
      ...history.recent.map(({ slot, release }) =>
        delegate(slotRole(slot), releasePaths(release.version, depthsOf(release))),
      ),
      delegate(ARCHIVE_ROLE, EVERY_RELEASE),
    ]),
  });
  // Names the snapshot lists that hold nothing now (a freed slot, an emptied bin) are signed empty.
  for (const name of history.roles.keys()) if (!drafts.has(name)) drafts.set(name, { targets: {} });
  return drafts;
}

/** Options of {@link commitHistory}. */
export interface CommitHistoryOptions {
  keys: KeySet;
  expiry?: Partial<ExpiryDays>;
  now?: Date;
  /** Re-sign the top-level targets role even when its content is unchanged (a publish always does). */
  resignTargets?: boolean;
  /** Re-sign every role (and the snapshot) that expires before this date, changed or not. */
  renewBefore?: Date;
  /** Re-sign the snapshot even when no role changed (its key changed). */
  resignSnapshot?: boolean;
}

/** What {@link commitHistory} wrote. */
export interface CommittedHistory extends CommittedVersions {
  /** Roles signed anew, in writing order (`targets`, delegated roles, `snapshot`, `timestamp`). */
  resigned: string[];
  /** Bytes of metadata written: the cost of a publish that must not grow with the history. */
  metadataBytes: number;
}

/** Compact JSON (signatures cover canonical JSON, so the layout of the file is free): fewer bytes per check. */
function serializeCompact(md: Metadata<Targets> | Metadata<Snapshot> | Metadata<Timestamp>): Buffer {
  return Buffer.from(JSON.stringify(md.toJSON()));
}

/**
 * Signs and writes the roles whose content changed (or that expire before `renewBefore`), then a
 * new snapshot when any role changed, then `timestamp.json` by atomic rename (the publish order of
 * docs/format.md). Unchanged roles, sealed bins above all, keep their version and file.
 */
export async function commitHistory(
  state: RepoState,
  history: RepositoryHistory,
  options: CommitHistoryOptions,
): Promise<CommittedHistory> {
  const now = options.now ?? new Date();
  const expiry = { ...DEFAULT_EXPIRY_DAYS, ...options.expiry };
  const key = targetsKeyOf(state);
  requireKey(options.keys, "timestamp");
  const renewBefore = options.renewBefore;
  const expiresSoon = (expires: string) => renewBefore !== undefined && new Date(expires) < renewBefore;
  const snapshotVersion = state.snapshot.signed.version + 1;
  const drafts = draftRoles(history, key);
  const resigned: string[] = [];
  let metadataBytes = 0;
  const sign = async (name: string, version: number, draft: RoleDraft, fileName: string) => {
    const md = new Metadata(targetsOf(draft, version, expiresAfter(now, expiry.targets)));
    md.sign(requireKey(options.keys, "targets").signer, false);
    const bytes = serializeCompact(md);
    await writeFileAtomic(join(state.paths.metadataDir, fileName), bytes);
    resigned.push(name);
    metadataBytes += bytes.length;
    return bytes;
  };

  const snapshotMeta: Record<string, MetaFile> = {};
  const pending: [string, RoleDraft][] = [];
  for (const [name, draft] of drafts) {
    if (name === "targets") continue;
    const old = history.roles.get(name);
    const content = roleContent(targetsOf(draft, 1, EPOCH), [key.keyId]);
    if (old && old.content === content && !expiresSoon(old.expires))
      snapshotMeta[`${name}.json`] = new MetaFile({ version: old.version });
    else if (old && old.content === undefined && Object.keys(draft.targets).length === 0 && !draft.delegations) {
      // A name listed but not reached (emptied before): already empty or unreachable; keep it as it is.
      snapshotMeta[`${name}.json`] = new MetaFile({ version: old.version });
    } else pending.push([name, draft]);
  }
  const top = drafts.get("targets")!;
  const topContent = roleContent(targetsOf(top, 1, EPOCH), [key.keyId]);
  const topChanged =
    options.resignTargets === true ||
    topContent !== roleContent(state.targets.signed, Object.keys(state.targets.signatures)) ||
    expiresSoon(state.targets.signed.expires);
  const anyChange =
    topChanged || pending.length > 0 || options.resignSnapshot === true || expiresSoon(state.snapshot.signed.expires);
  if (anyChange) requireKey(options.keys, "snapshot"); // before any write
  if (topChanged || pending.length > 0) requireKey(options.keys, "targets");

  // Delegated roles first, then targets, snapshot and timestamp: a reader following the old
  // timestamp sees none of the new files; one following the new one finds all of them.
  for (const [name, draft] of pending) {
    await sign(name, snapshotVersion, draft, `${snapshotVersion}.${name}.json`);
    snapshotMeta[`${name}.json`] = new MetaFile({ version: snapshotVersion });
  }
  let targetsVersion = state.targets.signed.version;
  let targetsMeta = state.snapshot.signed.meta["targets.json"];
  if (topChanged) {
    targetsVersion += 1;
    const bytes = await sign("targets", targetsVersion, top, `${targetsVersion}.targets.json`);
    targetsMeta = metaFileOf(targetsVersion, bytes);
  }
  let snapshot = state.snapshot;
  let snapshotBytes: Buffer | undefined;
  if (anyChange) {
    snapshot = new Metadata(
      new Snapshot({
        version: snapshotVersion,
        specVersion: SPEC_VERSION,
        expires: expiresAfter(now, expiry.snapshot),
        meta: { "targets.json": targetsMeta!, ...snapshotMeta },
      }),
    );
    snapshot.sign(requireKey(options.keys, "snapshot").signer, false);
    snapshotBytes = serializeCompact(snapshot);
    await writeFileAtomic(join(state.paths.metadataDir, `${snapshotVersion}.snapshot.json`), snapshotBytes);
    resigned.push("snapshot");
    metadataBytes += snapshotBytes.length;
  } else {
    snapshotBytes = (await readMetadataFile(state.paths, `${snapshot.signed.version}.snapshot.json`)).bytes;
  }
  const timestampVersion = state.timestamp.signed.version + 1;
  const timestamp = new Metadata(
    new Timestamp({
      version: timestampVersion,
      specVersion: SPEC_VERSION,
      expires: expiresAfter(now, expiry.timestamp),
      snapshotMeta: metaFileOf(snapshot.signed.version, snapshotBytes),
    }),
  );
  timestamp.sign(requireKey(options.keys, "timestamp").signer, false);
  const timestampBytes = serializeCompact(timestamp);
  await writeFileAtomic(join(state.paths.metadataDir, "timestamp.json"), timestampBytes);
  resigned.push("timestamp");
  metadataBytes += timestampBytes.length;
  return { targetsVersion, snapshotVersion: snapshot.signed.version, timestampVersion, resigned, metadataBytes };
}

/**
 * Re-signs the chain without changing what it lists: the timestamp always, and the roles that
 * expire before `renewBefore` or that the options force (after a key change). Reported as a refresh.
 */
export async function refreshHistory(state: RepoState, options: CommitHistoryOptions): Promise<RefreshedVersions> {
  const now = options.now ?? new Date();
  const committed = await commitHistory(state, await loadHistory(state), { ...options, now });
  const topRoles: readonly string[] = ["targets", "snapshot", "timestamp"];
  return {
    targetsVersion: committed.targetsVersion,
    snapshotVersion: committed.snapshotVersion,
    timestampVersion: committed.timestampVersion,
    resigned: committed.resigned.filter((role): role is RefreshedVersions["resigned"][number] =>
      topRoles.includes(role),
    ),
    timestampExpires: expiresAfter(now, { ...DEFAULT_EXPIRY_DAYS, ...options.expiry }.timestamp),
  };
}

/** A target entry with length and sha256 only: what a release path already says is not repeated in `custom`. */
export function leanTargetFile(name: string, length: number, sha256: string): TargetFile {
  return new TargetFile({ path: name, length, hashes: { sha256 } });
}

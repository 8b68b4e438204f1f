/**
 * `updraft mirror sync`: copies one app's repository from a server to a folder or an object
 * store, verifying every file against a pinned root while copying, so a mirror holds only what
 * the publisher signed. What a client reads of it:
 *
 * 1. the root chain from the pinned root, `timestamp.json`, the snapshot and the top-level
 *    targets, checked by the client's own trust session (tuf-js) whose fetcher hands over the
 *    exact bytes it accepted;
 * 2. every delegated targets role, walked through the delegations (./roles.ts);
 * 3. every target those roles list, downloaded with its signed length and sha256 checked, unless
 *    the mirror holds its content-addressed name already (incremental).
 *
 * Nothing is written to the mirror until all of it verified: a source serving one altered file
 * fails the sync and leaves the mirror as it was. Then the files go up in the publisher's safe
 * order (`pushChanges`: targets, versioned metadata, `timestamp.json` last), so a reader of the
 * mirror sees the old state or the new one, never a mix, whenever the sync stops. Downloads are
 * staged in a folder named after the destination that outlives a killed sync, so the next run
 * resumes them instead of starting over.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Metadata, MetadataKind, type Root } from "@tufjs/models";
import { downloadArtifact } from "../client/net/download.js";
import { HttpClient, type NetworkOptions } from "../client/net/http.js";
import { chooseRoot } from "../client/trust/root.js";
import { rootVersion, TrustSession } from "../client/trust/session.js";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { safeJoin } from "../core/fs.js";
import { isJsonObject, parseJson } from "../core/json.js";
import { metadataPath } from "../formats/native.js";
import {
  FolderStore,
  isS3Url,
  parseS3Url,
  pushChanges,
  type RepositoryStore,
  S3Store,
  type StoredObject,
} from "../publish/remote/index.js";
import { parseMetadata, verifiedDelegatedRoles } from "./roles.js";

/** Options of {@link syncMirror}. */
export interface MirrorSyncOptions {
  /** Base URL of the repository to copy (the folder that holds `<app>/metadata`). */
  source: string;
  /** Where the mirror is: a folder, or `s3://BUCKET/PREFIX`. */
  dest: string;
  /** The app whose repository is copied. */
  app: string;
  /** A trusted root document (`--root FILE`): the chain is verified from it. */
  root?: Uint8Array;
  /** Fingerprint of the source's `1.root.json` (`--root-sha256`), as `updraft init` printed it. */
  rootSha256?: string;
  /** Endpoint of an S3-compatible store, for an `s3://` destination. */
  s3Endpoint?: string;
  /** How the source is read (proxy, CA, token, retries, timeouts). */
  network?: NetworkOptions;
  /** Told each file as it is copied to the mirror. */
  onCopied?: (key: string) => void;
}

/** What a sync did. */
export interface MirrorSyncReport {
  readonly app: string;
  readonly source: string;
  readonly dest: string;
  /** The mirror's timestamp version after the sync. */
  readonly timestampVersion: number;
  /** Keys (`<app>/targets/…`, `<app>/metadata/…`) written to the mirror, in the order written. */
  readonly copied: readonly string[];
  /** Targets the mirror held already (content-addressed names), not copied again. */
  readonly targetsPresent: number;
  /** Targets copied now. */
  readonly targetsCopied: number;
  /** Bytes downloaded from the source for targets (resumed downloads count only the new bytes). */
  readonly bytesDownloaded: number;
}

/** A target to have in the mirror: its key, and the signed length and sha256 it must have. */
interface WantedTarget {
  readonly key: string;
  readonly url: string;
  readonly length: number;
  readonly sha256: string;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

/** The store a destination names. */
function storeFor(dest: string, s3Endpoint: string | undefined): RepositoryStore {
  if (isS3Url(dest)) return new S3Store(parseS3Url(dest), s3Endpoint !== undefined ? { endpoint: s3Endpoint } : {});
  return new FolderStore(resolve(dest));
}

/** Where the downloads of a sync to `dest` wait to be pushed: the same folder for every run, to resume. */
function stagingDir(dest: string, app: string): string {
  const id = createHash("sha256")
    .update(`${isS3Url(dest) ? dest : resolve(dest)}\n${app}`)
    .digest("hex")
    .slice(0, 16);
  return join(tmpdir(), `updraft-mirror-${id}`);
}

/** The version and consistent-snapshot flag of a verified root document. */
function rootInfo(bytes: Buffer): { version: number; consistentSnapshot: boolean } {
  const doc = parseJson(bytes.toString("utf8"));
  if (!isJsonObject(doc)) throw new UpdraftError(ErrorCodes.METADATA_INVALID, "root.json is not a JSON object");
  const root: Metadata<Root> = Metadata.fromJSON(MetadataKind.Root, doc);
  return { version: root.signed.version, consistentSnapshot: root.signed.consistentSnapshot };
}

/**
 * Copies `options.app`'s repository from `options.source` to `options.dest`, verified (see the
 * file's comment). Throws `USAGE` without a root to verify from, the trust codes of the client
 * when the source's metadata does not verify, `TARGET_MISMATCH` for an altered target,
 * `REPO_CONFLICT` when another sync wrote the mirror meanwhile.
 */
export async function syncMirror(options: MirrorSyncOptions): Promise<MirrorSyncReport> {
  const { app, dest } = options;
  const source = trimSlash(options.source);
  if (options.root === undefined && options.rootSha256 === undefined) {
    throw new UpdraftError(ErrorCodes.USAGE, "A mirror sync needs the root to verify the source against", {
      hint: "Pass --root-sha256 with the fingerprint `updraft init` printed (or --root with a root file).",
    });
  }
  const store = storeFor(dest, options.s3Endpoint);
  const http = new HttpClient({ ...options.network, userAgent: "updraft-mirror" });
  const work = await mkdtemp(join(tmpdir(), "updraft-mirror-work-"));
  try {
    // 1. The root chain, timestamp, snapshot and top-level targets, as a client verifies them.
    const metadataDir = join(work, "metadata");
    const root = await chooseRoot({
      metadataDir,
      keepTrusted: false,
      ...(options.root !== undefined ? { rootFile: options.root } : {}),
      ...(options.rootSha256 !== undefined ? { pin: options.rootSha256 } : {}),
      firstUse: "refuse",
      repository: { repoUrl: source, app, http },
    });
    if (!root) throw new UpdraftError(ErrorCodes.INTERNAL, "No root was chosen although one was given");
    await TrustSession.seedRoot(metadataDir, root.root);
    const metadataKey = (file: string) => `${metadataPath(app)}/${file}`;
    const metadata = new Map<string, Buffer>([[metadataKey(`${rootVersion(root.root)}.root.json`), root.root]]);
    const trust = new TrustSession({ repoUrl: source, app }, metadataDir, join(work, "cache"), http, (url, bytes) =>
      metadata.set(metadataKey(decodeURIComponent(url.slice(url.lastIndexOf("/") + 1))), bytes),
    );
    await trust.refresh();
    const latestRoot = await readFile(join(metadataDir, "root.json"));
    const { consistentSnapshot } = rootInfo(latestRoot);
    if (!consistentSnapshot) {
      throw new UpdraftError(ErrorCodes.METADATA_INVALID, `${source} does not use consistent snapshots`, {
        hint: "Only a repository with consistent snapshots (every Updraft repository) can be mirrored safely.",
      });
    }
    metadata.set(metadataKey("root.json"), latestRoot);
    const snapshot = parseMetadata(
      MetadataKind.Snapshot,
      await readFile(join(metadataDir, "snapshot.json")),
      "snapshot.json",
    );
    const topTargets = parseMetadata(
      MetadataKind.Targets,
      await readFile(join(metadataDir, "targets.json")),
      "targets.json",
    );
    const timestampVersion = signedVersion(await readFile(join(metadataDir, "timestamp.json")));

    // 2. Every delegated role, verified against its delegator.
    const roles = await verifiedDelegatedRoles({
      snapshot,
      targets: topTargets,
      metadataUrl: `${source}/${metadataPath(app)}`,
      consistentSnapshot,
      http,
    });
    for (const role of roles) metadata.set(metadataKey(role.file), role.bytes);

    // 3. The targets every role lists, by their content-addressed names.
    const wanted = new Map<string, WantedTarget>();
    for (const role of [topTargets, ...roles.map((r) => r.metadata)]) {
      for (const info of Object.values(role.signed.targets)) {
        const sha256 = info.hashes.sha256;
        if (sha256 === undefined) {
          throw new UpdraftError(ErrorCodes.METADATA_INVALID, `Target ${info.path} has no sha256 in the metadata`);
        }
        const url = trust.targetUrl(info);
        const key = url.slice(source.length + 1);
        wanted.set(key, { key, url, length: info.length, sha256 });
      }
    }

    const seen = await store.list(`${app}/`);
    const staging = stagingDir(dest, app);
    const writes = new Map<string, string>();
    const stale = new Set<string>();
    let targetsPresent = 0;
    let bytesDownloaded = 0;
    for (const target of [...wanted.values()].sort((a, b) => a.key.localeCompare(b.key))) {
      const present = seen.get(target.key);
      if (present?.size === target.length) {
        targetsPresent++;
        continue;
      }
      if (present) stale.add(target.key); // damaged (another size): written again, unconditionally
      const file = join(staging, target.sha256);
      const outcome = await downloadArtifact(http, {
        url: target.url,
        dest: file,
        length: target.length,
        sha256: target.sha256,
      });
      bytesDownloaded += outcome.fetched;
      writes.set(target.key, file);
    }
    const targetsCopied = writes.size;

    // Metadata the mirror lacks or holds with other bytes (left by an interrupted sync, or stale `root.json`).
    const out = join(work, "out");
    for (const [key, bytes] of metadata) {
      const file = safeJoin(out, key);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, bytes);
      if (seen.get(key)?.size === bytes.length && (await sameBytes(store, key, bytes, join(work, "compare")))) continue;
      writes.set(key, file);
    }

    // 4. Up in the safe order: targets, versioned metadata, root.json, timestamp.json last.
    const seenForPush = new Map<string, StoredObject>([...seen].filter(([key]) => !stale.has(key)));
    const pushed = await pushChanges(store, seenForPush, { writes, deletes: [] });
    for (const key of pushed.uploaded) options.onCopied?.(key);
    await rm(staging, { recursive: true, force: true });
    return {
      app,
      source,
      dest,
      timestampVersion,
      copied: pushed.uploaded,
      targetsPresent,
      targetsCopied,
      bytesDownloaded,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The `version` of a verified metadata document. */
function signedVersion(bytes: Buffer): number {
  const doc = parseJson(bytes.toString("utf8"));
  const signed = isJsonObject(doc) ? doc.signed : undefined;
  const version = signed !== undefined && isJsonObject(signed) ? signed.version : undefined;
  return typeof version === "number" ? version : 0;
}

/** True when the store's `key` holds exactly `bytes`. */
async function sameBytes(store: RepositoryStore, key: string, bytes: Buffer, scratch: string): Promise<boolean> {
  await mkdir(scratch, { recursive: true });
  const file = join(scratch, createHash("sha256").update(key).digest("hex"));
  if (!(await store.download(key, file))) return false;
  return (await readFile(file)).equals(bytes);
}

/**
 * The client's TUF session, through tuf-js: keeps the local metadata cache (with a safe copy of the
 * trusted root beside it, since tuf-js writes its files non-atomically), refreshes, and fetches
 * small signed targets (channel pointers, manifests) whole.
 *
 * The metadata folder holds exactly the role files of the spec (`root.json`, `timestamp.json`,
 * `snapshot.json`, `targets.json`, delegated roles): Updraft's own files live beside it.
 */
import { randomBytes } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { TargetFile } from "@tufjs/models";
import { BaseFetcher, Updater as TufUpdater } from "tuf-js";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { ensureDir, removeGroupOtherWrite, writeFileAtomic } from "../../core/fs.js";
import { isJsonObject, parseJson } from "../../core/json.js";
import { readCapped } from "../../core/read-capped.js";
import { channelTarget, metadataPath, targetsPath } from "../../formats/native.js";
import { trustedRootFile } from "../install/layout.js";
import type { HttpClient } from "../net/http.js";
import { mapTufError, metadataTooLarge } from "./tuf-errors.js";

const ROOT_FILE = "root.json";
/** Where earlier versions kept the safe root copy: inside the metadata folder (moved out on first use). */
const LEGACY_SAFE_ROOT_FILE = "trusted-root.json";
/** Cap of a local root file (tuf-js's own limit for a root is 512000 bytes). */
const ROOT_FILE_CAP = 512 * 1024;
/** Cap of the local targets metadata read to list channels. */
const TARGETS_FILE_CAP = 16 * 1024 * 1024;

/**
 * Thrown by the fetcher when the next root version is not there (403 or 404): the root chain ends
 * at the root trusted now. tuf-js stops its root loop only on its own `DownloadHTTPError`, which
 * its package does not export, so {@link TrustSession.refresh} goes on from that root itself.
 */
class NoNewerRoot extends Error {
  constructor(readonly failure: UpdraftError) {
    super(failure.message, { cause: failure });
    this.name = "NoNewerRoot";
  }
}

/**
 * Adapts {@link HttpClient} to tuf-js: each file is fetched whole with the client's retries,
 * stall timeout and deadline, capped at the length tuf-js allows; a missing next root version ends
 * the root chain ({@link NoNewerRoot}), and the last transport failure is kept so its code
 * survives tuf-js's wrapping.
 */
class TufFetcher extends BaseFetcher {
  /** The last network error (cleared on each new file), for {@link mapTufError}. */
  lastFailure: UpdraftError | undefined;
  /** Where versioned root files are (`<base><version>.root.json`), with its trailing slash. */
  private readonly metadataBase: string;

  constructor(
    private readonly http: HttpClient,
    private readonly tmpDir: string,
    metadataBaseUrl: string,
    private readonly onVerified?: VerifiedFileListener,
  ) {
    super();
    this.metadataBase = metadataBaseUrl.endsWith("/") ? metadataBaseUrl : `${metadataBaseUrl}/`;
  }

  override async fetch(url: string): Promise<ReadableStream<Uint8Array<ArrayBuffer>>> {
    try {
      const res = await this.http.get(url);
      return ReadableStream.from(res.body) as ReadableStream<Uint8Array<ArrayBuffer>>;
    } catch (err) {
      throw this.translate(err, url);
    }
  }

  override async downloadFile<T>(url: string, maxLength: number, handler: (file: string) => Promise<T>): Promise<T> {
    this.lastFailure = undefined;
    let bytes: Buffer;
    try {
      bytes = await this.http.getBytes(url, maxLength, undefined, {
        tooLarge: () => metadataTooLarge(url, maxLength),
      });
    } catch (err) {
      throw this.translate(err, url);
    }
    await ensureDir(this.tmpDir);
    const file = join(this.tmpDir, `.fetch-${randomBytes(6).toString("hex")}`);
    try {
      await writeFile(file, bytes, { mode: 0o600 });
      // tuf-js's handler verifies the file and throws when it does not: what it accepts is told.
      const result = await handler(file);
      this.onVerified?.(url, bytes);
      return result;
    } finally {
      await rm(file, { force: true });
    }
  }

  private translate(err: unknown, url: string): unknown {
    if (!(err instanceof UpdraftError)) return err;
    this.lastFailure = err;
    const status = err.code === ErrorCodes.HTTP_STATUS ? Number(err.details?.status) : undefined;
    if ((status === 403 || status === 404) && this.isRootVersion(url)) return new NoNewerRoot(err);
    return err;
  }

  /** True for `<metadata base>/<version>.root.json`, joined the way tuf-js joins it. */
  private isRootVersion(url: string): boolean {
    const version = /\/(\d+)\.root\.json$/.exec(url)?.[1];
    return version !== undefined && url === new URL(`${this.metadataBase}${version}.root.json`).toString();
  }
}

/**
 * Hears each file the session fetched and tuf-js then accepted (root versions, timestamp,
 * snapshot, targets): its URL and exact bytes. A mirror copies what it hears.
 */
export type VerifiedFileListener = (url: string, bytes: Buffer) => void;

/** Where an app's TUF data lives: the repository base URL plus the app name. */
export interface TrustLocation {
  repoUrl: string;
  app: string;
  /** Metadata base URL, when not `<repoUrl>/<app>/metadata` (the tuf-conformance client). */
  metadataUrl?: string;
  /** Targets base URL, when not `<repoUrl>/<app>/targets`. */
  targetsUrl?: string;
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, "")}/${path}`;
}

/** Reads the `version` of a root document, or undefined if the bytes are not a usable root. */
export function rootVersion(bytes: Buffer | undefined): number | undefined {
  if (!bytes) return undefined;
  try {
    const doc = parseJson(bytes.toString("utf8"));
    const signed = isJsonObject(doc) ? doc.signed : undefined;
    if (signed === undefined || !isJsonObject(signed) || signed._type !== "root") return undefined;
    return typeof signed.version === "number" ? signed.version : undefined;
  } catch {
    return undefined;
  }
}

/** A local file's bytes, or undefined if it is missing, unreadable or over `cap`. */
async function readIfExists(path: string, cap = ROOT_FILE_CAP): Promise<Buffer | undefined> {
  try {
    return await readCapped(path, cap);
  } catch {
    return undefined;
  }
}

/** True if `bytes` have the length and hashes that `info` signs. */
async function matchesTarget(info: TargetFile, bytes: Buffer): Promise<boolean> {
  try {
    await info.verify(Readable.from([bytes]));
    return true;
  } catch {
    return false;
  }
}

/**
 * Moves the safe root copy that earlier versions kept inside the metadata folder to its place
 * beside it (keeping the newer of the two), so the folder holds role files only.
 */
async function migrateSafeRoot(metadataDir: string): Promise<void> {
  const legacyPath = join(metadataDir, LEGACY_SAFE_ROOT_FILE);
  const legacy = await readIfExists(legacyPath);
  if (legacy === undefined) return;
  const safePath = trustedRootFile(metadataDir);
  const vLegacy = rootVersion(legacy);
  const vSafe = rootVersion(await readIfExists(safePath));
  if (vLegacy !== undefined && (vSafe === undefined || vLegacy > vSafe)) await writeFileAtomic(safePath, legacy);
  await rm(legacyPath, { force: true });
}

/** The channel whose pointer is target `name`, or undefined for another target. */
function channelOfTarget(name: string): string | undefined {
  const [prefix, suffix] = channelTarget("\0").split("\0") as [string, string];
  if (!name.startsWith(prefix) || !name.endsWith(suffix) || name.length <= prefix.length + suffix.length)
    return undefined;
  return name.slice(prefix.length, name.length - suffix.length);
}

/** The channels a targets document lists. */
function channelsOf(targetsJson: Buffer | undefined): string[] {
  if (!targetsJson) return [];
  try {
    const doc = parseJson(targetsJson.toString("utf8"));
    const signed = isJsonObject(doc) ? doc.signed : undefined;
    const targets = signed !== undefined && isJsonObject(signed) ? signed.targets : undefined;
    return Object.keys(targets !== undefined && isJsonObject(targets) ? targets : {})
      .map(channelOfTarget)
      .filter((c): c is string => c !== undefined)
      .sort();
  } catch {
    return [];
  }
}

/** A signed patch that rebuilds a target from bytes held locally (see {@link TrustSession.fetchSmallTarget}). */
export interface TargetPatch {
  /** The patch's own signed target. */
  info: TargetFile;
  /** The local bytes the patch applies to. */
  base: Buffer;
  /** Applies the patch to `base`, producing at most `maxLength` bytes; throws when it cannot. */
  apply: (base: Buffer, patch: Buffer, maxLength: number) => Buffer;
}

/** One refresh of an app's signed metadata, and access to its targets. */
export class TrustSession {
  private tuf: TufUpdater | undefined;
  private fetcher: TufFetcher | undefined;

  constructor(
    private readonly location: TrustLocation,
    private readonly metadataDir: string,
    private readonly cacheDir: string,
    private readonly http: HttpClient,
    private readonly onVerified?: VerifiedFileListener,
  ) {}

  /** Writes the first trusted root of a fresh install (from a pinned file or trust-on-first-use). */
  static async seedRoot(metadataDir: string, rootBytes: Buffer): Promise<void> {
    if (rootVersion(rootBytes) === undefined) {
      throw new UpdraftError(ErrorCodes.METADATA_INVALID, "The trusted root is not a TUF root document");
    }
    await ensureDir(metadataDir);
    await rm(join(metadataDir, LEGACY_SAFE_ROOT_FILE), { force: true });
    await writeFileAtomic(trustedRootFile(metadataDir), rootBytes);
    await writeFileAtomic(join(metadataDir, ROOT_FILE), rootBytes);
  }

  /**
   * The newest root this metadata folder trusts (`root.json`, or its safe copy where it is now or
   * was), or undefined when it trusts none yet.
   */
  static async trustedRoot(metadataDir: string): Promise<Buffer | undefined> {
    let newest: { bytes: Buffer; version: number } | undefined;
    for (const f of [
      join(metadataDir, ROOT_FILE),
      trustedRootFile(metadataDir),
      join(metadataDir, LEGACY_SAFE_ROOT_FILE),
    ]) {
      const bytes = await readIfExists(f);
      const version = rootVersion(bytes);
      if (bytes && version !== undefined && (!newest || version > newest.version)) newest = { bytes, version };
    }
    return newest?.bytes;
  }

  /**
   * Restores `root.json` from the safe copy when tuf-js left it truncated or older, then checks
   * the repository: root chain, timestamp, snapshot, targets. Throws mapped {@link UpdraftError}s.
   */
  async refresh(): Promise<void> {
    await ensureDir(this.metadataDir);
    await ensureDir(this.cacheDir);
    await migrateSafeRoot(this.metadataDir);
    const rootPath = join(this.metadataDir, ROOT_FILE);
    const safePath = trustedRootFile(this.metadataDir);
    const current = await readIfExists(rootPath);
    const safe = await readIfExists(safePath);
    const vCurrent = rootVersion(current);
    const vSafe = rootVersion(safe);
    if (vCurrent === undefined && vSafe === undefined) {
      throw new UpdraftError(ErrorCodes.NOT_INSTALLED, `No trusted root in ${this.metadataDir}`, {
        hint: "Install the app with `updraft install`, or ship updraft-root.json with it.",
      });
    }
    if (vCurrent === undefined || (vSafe !== undefined && vSafe > vCurrent)) {
      await writeFileAtomic(rootPath, safe!);
    }
    const repo = this.location.repoUrl;
    this.http.checkUrl(this.metadataBaseUrl());
    const fetcher = new TufFetcher(this.http, this.cacheDir, this.metadataBaseUrl(), this.onVerified);
    this.fetcher = fetcher;
    const options = {
      metadataDir: this.metadataDir,
      metadataBaseUrl: this.metadataBaseUrl(),
      targetBaseUrl: `${this.targetsBaseUrl()}/`,
      targetDir: this.cacheDir,
      fetcher,
    };
    try {
      this.tuf = new TufUpdater({ ...options, config: { fetchRetries: 0 } });
      try {
        await this.tuf.refresh();
      } catch (err) {
        if (!(err instanceof NoNewerRoot)) throw err;
        // tuf-js persisted every root it verified before the missing one: a new updater loads the
        // newest, skips the root loop (already done) and checks timestamp, snapshot and targets.
        this.tuf = new TufUpdater({ ...options, config: { fetchRetries: 0, maxRootRotations: 0 } });
        await this.tuf.refresh();
      }
    } catch (err) {
      throw mapTufError(err, repo, fetcher.lastFailure);
    } finally {
      // tuf-js creates role files with the process umask; trusted metadata must not be writable by others.
      await removeGroupOtherWrite(this.metadataDir);
    }
    // Keep the safe copy in step with a root that tuf-js verified and persisted.
    const after = await readIfExists(rootPath);
    const vAfter = rootVersion(after);
    if (after && vAfter !== undefined && (vSafe === undefined || vAfter > vSafe))
      await writeFileAtomic(safePath, after);
  }

  private metadataBaseUrl(): string {
    return this.location.metadataUrl ?? joinUrl(this.location.repoUrl, metadataPath(this.location.app));
  }

  private targetsBaseUrl(): string {
    return (this.location.targetsUrl ?? joinUrl(this.location.repoUrl, targetsPath(this.location.app))).replace(
      /\/+$/,
      "",
    );
  }

  /** The signed description (length, hashes, custom) of a target, or undefined if not listed. */
  async targetInfo(name: string): Promise<TargetFile | undefined> {
    if (!this.tuf) throw new UpdraftError(ErrorCodes.INTERNAL, "TrustSession.refresh() must run first");
    try {
      return await this.tuf.getTargetInfo(name);
    } catch (err) {
      throw mapTufError(err, this.location.repoUrl, this.fetcher?.lastFailure);
    } finally {
      // tuf-js persists the delegated roles it walked (a release's slot) here, with the umask.
      await removeGroupOtherWrite(this.metadataDir);
    }
  }

  /**
   * Same as {@link targetInfo} but throws when the target is not listed: `CHANNEL_NOT_FOUND` (a
   * configuration mistake, naming the channels that exist) for a channel pointer,
   * `TARGET_NOT_FOUND` otherwise.
   */
  async requireTarget(name: string, what: string): Promise<TargetFile> {
    const info = await this.targetInfo(name);
    if (!info) {
      const channel = channelOfTarget(name);
      if (channel !== undefined) {
        const channels = channelsOf(await readIfExists(join(this.metadataDir, "targets.json"), TARGETS_FILE_CAP));
        throw new UpdraftError(
          ErrorCodes.CHANNEL_NOT_FOUND,
          `The repository has no channel "${channel}"${channels.length > 0 ? `; its channels: ${channels.join(", ")}` : ""}`,
          {
            hint:
              channels.length > 0
                ? `Use one of the repository's channels (--channel ${channels[0]}).`
                : "Nothing is published on any channel yet: publish a release first.",
            details: { channel, channels },
          },
        );
      }
      throw new UpdraftError(
        ErrorCodes.TARGET_NOT_FOUND,
        `The repository's signed metadata does not list ${what} (${name})`,
        {
          hint: "Check the app name and channel, or publish a release first.",
        },
      );
    }
    return info;
  }

  /** URL a target is downloaded from (consistent-snapshot name: `<dir>/<sha256>.<base>`). */
  targetUrl(info: TargetFile): string {
    const slash = info.path.lastIndexOf("/");
    const dir = slash >= 0 ? `${info.path.slice(0, slash)}/` : "";
    const base = info.path.slice(slash + 1);
    const sha = info.hashes.sha256;
    return joinUrl(this.targetsBaseUrl(), `${dir}${sha}.${base}`);
  }

  /**
   * Downloads a target to `filePath` (length and hashes checked by tuf-js before the copy), unless
   * a verified copy is already there. Returns whether the file was already present.
   */
  async downloadTargetTo(info: TargetFile, filePath: string): Promise<{ cached: boolean }> {
    if (!this.tuf) throw new UpdraftError(ErrorCodes.INTERNAL, "TrustSession.refresh() must run first");
    try {
      if (await this.tuf.findCachedTarget(info, filePath)) return { cached: true };
      await this.tuf.downloadTarget(info, filePath);
      return { cached: false };
    } catch (err) {
      const transport = this.fetcher?.lastFailure;
      const message = (err as Error).message ?? String(err);
      if (transport && message.includes(transport.message)) throw transport;
      if (/length|hash/i.test(message)) {
        throw new UpdraftError(ErrorCodes.TARGET_MISMATCH, `${info.path} does not match its signed length and hash`, {
          cause: err,
          hint: "The repository or a mirror is serving altered files.",
        });
      }
      throw mapTufError(err, this.location.repoUrl, transport);
    }
  }

  /**
   * A small signed document (channel pointer, release manifest), checked against its signed length
   * and hashes. It comes from the local cache when a copy there verifies; a missing, partial or
   * damaged copy (another process writing it, a crash) is fetched again, never reported as
   * invalid. The cache is written atomically, so parallel processes never see a partial file.
   */
  /**
   * `info`'s bytes rebuilt from a signed patch against bytes held locally, or undefined when the
   * patch cannot be fetched or applied, or its result is not exactly what `info` signs: the
   * caller then fetches the target whole (a bad patch costs one request, never trust).
   */
  private async patchedTarget(info: TargetFile, patch: TargetPatch): Promise<Buffer | undefined> {
    try {
      const bytes = await this.http.getBytes(this.targetUrl(patch.info), patch.info.length);
      if (!(await matchesTarget(patch.info, bytes))) return undefined;
      const result = patch.apply(patch.base, bytes, info.length);
      return (await matchesTarget(info, result)) ? result : undefined;
    } catch (err) {
      if (err instanceof UpdraftError && err.code === ErrorCodes.ABORTED) throw err;
      return undefined;
    }
  }

  async fetchSmallTarget(info: TargetFile, patch?: TargetPatch): Promise<Buffer> {
    if (!this.tuf) throw new UpdraftError(ErrorCodes.INTERNAL, "TrustSession.refresh() must run first");
    const sha = info.hashes.sha256;
    if (!sha) throw new UpdraftError(ErrorCodes.METADATA_INVALID, `Target ${info.path} has no sha256 in the metadata`);
    const cached = join(this.cacheDir, sha);
    const hit = await readIfExists(cached, info.length);
    if (hit && (await matchesTarget(info, hit))) return hit;
    const patched = patch ? await this.patchedTarget(info, patch) : undefined;
    if (patched) {
      await writeFileAtomic(cached, patched);
      return patched;
    }
    const mismatch = (why: string) =>
      new UpdraftError(
        ErrorCodes.MANIFEST_MISMATCH,
        `${info.path} does not match its signed length and hash (${why})`,
        {
          hint: "The repository or a mirror is serving altered files. Nothing was installed.",
        },
      );
    const bytes = await this.http.getBytes(this.targetUrl(info), info.length, undefined, {
      tooLarge: () => mismatch(`larger than ${info.length} bytes`),
    });
    if (!(await matchesTarget(info, bytes))) throw mismatch(`${bytes.length} bytes with another hash`);
    await writeFileAtomic(cached, bytes);
    return bytes;
  }
}

/**
 * First install of an app from a repository: establish the trusted root (pinned file, pinned
 * fingerprint, or trust on first use with the fingerprint printed, as SSH does), write the
 * install folder's configuration, then install the channel's current release.
 */
import { mkdir, readdir } from "node:fs/promises";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { removePath } from "../core/fs.js";
import { sha256Hex } from "../core/hash.js";
import { APP_NAME_PATTERN, CHANNEL_PATTERN, metadataPath, NATIVE_SCHEMA } from "../formats/native.js";
import type { DownloadProgress } from "./download.js";
import { HttpClient, networkOptionsOf } from "./http.js";
import { installLayout } from "./layout.js";
import { acquireLock } from "./lock.js";
import { readConfig, writeConfig } from "./state.js";
import { TrustSession } from "./trust.js";
import { type InstallResult, Updater, type UpdaterOptions } from "./updater.js";

/** Options of {@link installFromRepository}. */
export interface FirstInstallOptions extends Omit<UpdaterOptions, "installDir" | "repoUrl" | "app"> {
  repoUrl: string;
  app: string;
  installDir: string;
  /** The trusted root's bytes (pinned). */
  root?: Uint8Array;
  /** The expected sha256 (hex) of the repository's `1.root.json`. */
  rootSha256?: string;
  /** Cancels the download (code `ABORTED`). */
  signal?: AbortSignal;
  /** Download progress. */
  onProgress?: (p: DownloadProgress) => void;
}

/** Result of a first install. */
export interface FirstInstallResult extends InstallResult {
  /** sha256 of the trusted root, to compare with what the publisher printed. */
  rootFingerprint: string;
  /** True when the root was trusted on first use (neither pinned nor fingerprint-checked). */
  trustedOnFirstUse: boolean;
}

/** Installs the channel's current release of `app` into a new install folder. */
export async function installFromRepository(options: FirstInstallOptions): Promise<FirstInstallResult> {
  const { repoUrl, app, installDir } = options;
  const channel = options.channel ?? "stable";
  if (!APP_NAME_PATTERN.test(app)) throw new UpdraftError(ErrorCodes.USAGE, `Invalid app name "${app}"`);
  if (!CHANNEL_PATTERN.test(channel)) throw new UpdraftError(ErrorCodes.USAGE, `Invalid channel "${channel}"`);
  if (!/^https?:\/\//.test(repoUrl)) {
    throw new UpdraftError(ErrorCodes.USAGE, `Repository URL must be http(s): "${repoUrl}"`);
  }
  const layout = installLayout(installDir);
  if (
    await readConfig(layout).then(
      () => true,
      () => false,
    )
  ) {
    throw new UpdraftError(ErrorCodes.USAGE, `${installDir} already holds an install`, {
      hint: "Use `updraft update --dir` to update it.",
    });
  }
  await mkdir(installDir, { recursive: true });
  const wasEmpty = (await readdir(installDir)).length === 0;
  const lock = await acquireLock(layout.lockFile, "installing");
  try {
    let rootBytes: Buffer;
    let trustedOnFirstUse = false;
    if (options.root) {
      rootBytes = Buffer.from(options.root);
    } else {
      const http = new HttpClient(networkOptionsOf(options));
      const url = `${repoUrl.replace(/\/+$/, "")}/${metadataPath(app)}/1.root.json`;
      rootBytes = await http.getBytes(url, 512 * 1024, undefined, {
        tooLarge: () =>
          new UpdraftError(ErrorCodes.METADATA_TOO_LARGE, `${metadataPath(app)}/1.root.json is over 512 kB`),
      });
      trustedOnFirstUse = options.rootSha256 === undefined;
    }
    const rootFingerprint = sha256Hex(rootBytes);
    if (options.rootSha256 !== undefined && options.rootSha256.toLowerCase() !== rootFingerprint) {
      throw new UpdraftError(
        ErrorCodes.ROOT_MISMATCH,
        `The repository's root has fingerprint ${rootFingerprint}, not the pinned ${options.rootSha256}`,
        { hint: "Do not install from this repository until the publisher confirms its root fingerprint." },
      );
    }
    await TrustSession.seedRoot(layout.tufDir, rootBytes);
    await writeConfig(layout, { schema: NATIVE_SCHEMA, app, url: repoUrl, channel });
    const updater = new Updater({ ...options, installDir, repoUrl, app, channel });
    const check = await updater.check();
    if (!check.updateAvailable) throw new UpdraftError(ErrorCodes.INTERNAL, "Nothing to install");
    const { signal, onProgress } = options;
    await updater.download({ lock, ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) });
    const result = await updater.install({ lock });
    return { ...result, rootFingerprint, trustedOnFirstUse };
  } catch (err) {
    // A failed first install leaves nothing behind: the folder is as it was.
    await lock.release();
    if (wasEmpty) await removePath(installDir);
    else await removePath(layout.stateDir);
    throw err;
  } finally {
    await lock.release();
  }
}

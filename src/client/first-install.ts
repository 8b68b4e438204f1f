/**
 * First install of an app from a repository: establish the trusted root (pinned file, pinned
 * fingerprint, or trust on first use with the fingerprint printed, as SSH does), install the
 * channel's current release, then write the install folder's configuration.
 *
 * An interrupted first install (Ctrl-C, a killed process, a cut network) is resumed by the same
 * command: the record of the unfinished install says what was started, the download resumes
 * from its partial file, and recovery finishes or undoes a half-done switch. Other failures
 * leave the folder as it was.
 */
import { readdir } from "node:fs/promises";
import { ErrorCodes, isResumableCode, UpdraftError } from "../core/errors.js";
import { ensureDir, removePath } from "../core/fs.js";
import { acquireLock } from "../core/lock.js";
import { APP_NAME_PATTERN, CHANNEL_PATTERN, NATIVE_SCHEMA } from "../formats/native.js";
import { type InstallLayout, installLayout } from "./install/layout.js";
import { readConfig, writeConfig } from "./install/state.js";
import {
  readUnfinishedInstall,
  removeUnfinishedInstall,
  resumeCommand,
  type UnfinishedInstall,
  writeUnfinishedInstall,
} from "./install/unfinished-install.js";
import type { DownloadProgress } from "./net/download.js";
import { HttpClient, networkOptionsOf } from "./net/http.js";
import { chooseRoot, type EstablishedRoot, parseRootPin, trustRoot } from "./trust/root.js";
import { TrustSession } from "./trust/session.js";
import { checkHoldingLock, type InstallResult, installHoldingLock, Updater, type UpdaterOptions } from "./updater.js";

/** Options of {@link installFromRepository}. */
export interface FirstInstallOptions extends Omit<UpdaterOptions, "installDir" | "repoUrl" | "app"> {
  /**
   * Base URL of the repository, http(s) (`https://updates.example.com/repo`): the URL the publisher's
   * repository is served at, without the app's name. Recorded in the install's configuration for later updates.
   */
  repoUrl: string;
  /**
   * The app's name in the repository, as published (`myapp`: lower-case letters, digits, `.`, `_`, `-`);
   * recorded in the install's configuration.
   */
  app: string;
  /**
   * The folder to install into: one that holds no install yet (created when missing), or one whose
   * first install of the same app from the same repository was interrupted (that install is then resumed).
   */
  installDir: string;
  /**
   * The repository's `1.root.json` as the publisher handed it out (pinned): trusted as is, not
   * fetched. Without it (and without `rootSha256`) the fetched root is trusted on first use.
   */
  root?: Uint8Array;
  /**
   * The sha256 of the repository's `1.root.json` as the publisher printed it (hex, with or without
   * `sha256:`, any case): the root (fetched, or `root`) must match it, else `ROOT_MISMATCH` and
   * nothing is installed.
   */
  rootSha256?: string;
  /** Cancels the download (code `ABORTED`). */
  signal?: AbortSignal;
  /** Called as the release's bytes arrive; a resumed install reports the bytes kept from before as transferred. */
  onProgress?: (p: DownloadProgress) => void;
}

/** Result of a first install. */
export interface FirstInstallResult extends InstallResult {
  /** sha256 of the trusted root, to compare with what the publisher printed. */
  rootFingerprint: string;
  /** True when the root was trusted on first use (neither pinned nor fingerprint-checked). */
  trustedOnFirstUse: boolean;
}

/**
 * Installs the channel's current release of `app` into a new install folder, or finishes the
 * interrupted first install of the same app from the same repository there.
 */
export async function installFromRepository(options: FirstInstallOptions): Promise<FirstInstallResult> {
  const { repoUrl, app, installDir } = options;
  const channel = options.channel ?? "stable";
  if (!APP_NAME_PATTERN.test(app)) throw new UpdraftError(ErrorCodes.USAGE, `Invalid app name "${app}"`);
  if (!CHANNEL_PATTERN.test(channel)) throw new UpdraftError(ErrorCodes.USAGE, `Invalid channel "${channel}"`);
  if (!/^https?:\/\//.test(repoUrl)) {
    throw new UpdraftError(ErrorCodes.USAGE, `Repository URL must be http(s): "${repoUrl}"`);
  }
  if (options.rootSha256 !== undefined) parseRootPin(options.rootSha256);
  const layout = installLayout(installDir);
  const unfinished = await readUnfinishedInstall(layout);
  await assertInstallable(layout, unfinished, { app, url: repoUrl });
  await ensureDir(installDir);
  const wasEmpty = unfinished?.wasEmpty ?? (await readdir(installDir)).length === 0;
  const lock = await acquireLock(layout.lockFile, { purpose: "installing" });
  let started = false;
  try {
    const root = await chooseFirstRoot(layout, options);
    const rootSha256 = root.fingerprint;
    // Another root than the interrupted attempt's (pinned anew, or changed by the publisher): as
    // nothing is installed yet, start again from it, as a fresh install would.
    const sameRoot = unfinished?.rootSha256 === rootSha256;
    if (unfinished && !sameRoot) await removePath(layout.tufDir);
    await writeUnfinishedInstall(layout, {
      app,
      url: repoUrl,
      channel,
      rootSha256,
      wasEmpty,
      startedAt: sameRoot ? unfinished.startedAt : new Date().toISOString(),
    });
    started = true;
    if (!sameRoot || (await TrustSession.trustedRoot(layout.tufDir)) === undefined)
      await trustRoot(layout.tufDir, root);
    const updater = new Updater({ ...options, installDir, repoUrl, app, channel });
    const check = await checkHoldingLock(updater, lock);
    let result: InstallResult;
    if (check.status === "available") {
      const { signal, onProgress } = options;
      const download = { ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) };
      result = await installHoldingLock(updater, check.update, download, lock);
    } else if (check.currentVersion !== undefined && check.currentVersion === check.latestVersion) {
      // The interrupted run got as far as the switch; recovery finished it.
      result = {
        version: check.currentVersion,
        previousVersion: undefined,
        folder: layout.versionDir(check.currentVersion),
        filesWritten: 0,
        filesReused: 0,
      };
    } else if (check.notOffered?.reason === "no-build-for-platform") {
      throw new UpdraftError(ErrorCodes.NO_BUILD_FOR_PLATFORM, check.notOffered.message, {
        hint: "Ask the publisher for a build for this platform, or pass --platform for one this machine runs (emulation).",
        details: { platform: check.platform },
      });
    } else {
      const skipped = check.status === "skipped" ? check.skipped : undefined;
      throw new UpdraftError(
        ErrorCodes.INSTALL_FAILED,
        `Cannot install ${app} ${check.latestVersion}${skipped ? `: ${skipped.reason}` : ""}`,
        skipped ? { hint: `It may be tried again after ${skipped.retryAfter}.` } : {},
      );
    }
    const { mirrors, platform } = options;
    await writeConfig(layout, {
      schema: NATIVE_SCHEMA,
      app,
      url: repoUrl,
      channel,
      ...(mirrors !== undefined && mirrors.length > 0 ? { mirrors } : {}),
      ...(platform !== undefined ? { platform } : {}),
    });
    await removeUnfinishedInstall(layout);
    return { ...result, rootFingerprint: rootSha256, trustedOnFirstUse: root.source === "first-use" };
  } catch (err) {
    // After an interruption, the network or a full disk the same command resumes: keep what was done.
    if ((started || unfinished) && err instanceof UpdraftError && isResumableCode(err.code)) {
      throw new UpdraftError(err.code, err.message, {
        cause: err,
        hint: `${err.hint ? `${err.hint} ` : ""}Run the same command again to resume the install.`,
        ...(err.details ? { details: err.details } : {}),
      });
    }
    // Nothing to resume: the folder is left as it was.
    await lock.release();
    if (wasEmpty) await removePath(installDir);
    else await removePath(layout.stateDir);
    throw err;
  } finally {
    await lock.release();
  }
}

/** Refuses a folder that holds a finished install, or another app's unfinished one. */
async function assertInstallable(
  layout: InstallLayout,
  unfinished: UnfinishedInstall | undefined,
  wanted: { app: string; url: string },
): Promise<void> {
  if (unfinished) {
    if (unfinished.app === wanted.app && unfinished.url === wanted.url) return;
    throw new UpdraftError(
      ErrorCodes.USAGE,
      `${layout.dir} holds the unfinished install of ${unfinished.app} from ${unfinished.url}`,
      { hint: `Finish it (${resumeCommand(unfinished, layout.dir)}), or delete the folder.` },
    );
  }
  const installed = await readConfig(layout).then(
    () => true,
    () => false,
  );
  if (installed) {
    throw new UpdraftError(ErrorCodes.USAGE, `${layout.dir} already holds an install`, {
      hint: "Use `updraft update --dir` to update it.",
    });
  }
}

/**
 * The root a first install trusts: the root file given, or the repository's `1.root.json` checked
 * against the pinned fingerprint, or trusted on first use. Nothing the folder holds is trusted
 * (a resumed install's metadata is kept only when this root is the one it started from).
 */
function chooseFirstRoot(layout: InstallLayout, options: FirstInstallOptions): Promise<EstablishedRoot> {
  const { repoUrl, app, root, rootSha256 } = options;
  return chooseRoot({
    metadataDir: layout.tufDir,
    keepTrusted: false,
    ...(root !== undefined ? { rootFile: root } : {}),
    ...(rootSha256 !== undefined ? { pin: rootSha256 } : {}),
    firstUse: "trust",
    repository: { repoUrl, app, http: new HttpClient(networkOptionsOf(options)) },
  });
}

/**
 * The update flow shared by the legacy sources (SAAU labels, update.json, and their signed
 * counterparts): recover from an interrupted swap, confirm a version that reached its next
 * update check, honour the failed-version back-off, record each attempt, stage the release and
 * install it in place, now, through the restart helper once the app has exited, or around a
 * service's stop and start.
 */
import { join } from "node:path";
import { randomSuffix, removePath } from "../../../core/fs.js";
import { acquireLock } from "../../../core/lock.js";
import { compareVersions } from "../../../core/version.js";
import {
  backoffFor,
  confirm,
  DEFAULT_BACKOFF_MS,
  type InPlaceRelease,
  type InstallLayout,
  installInPlace,
  prepareInPlace,
  readState,
  recordAttempt,
  recordFailure,
  recordIfReleaseFault,
  recordSuccess,
  recover,
  rollbackInPlace,
  type Skipped,
  updateState,
} from "../../install/index.js";
import { spawnRestartHelper } from "../../runtime/restart-helper.js";
import { type ServiceCommands, type ServiceOutcome, updateService } from "../../runtime/service.js";

/** A release found by a legacy source, ready to be staged. */
export interface Candidate {
  version: string;
  /** True when it was verified through Updraft's signed metadata. */
  signed: boolean;
  /** Downloads and verifies the release into `workDir`; returns the files to install. */
  stage(workDir: string): Promise<InPlaceRelease>;
}

/** How to restart the app after the swap. */
export interface RestartRequest {
  /** Program and arguments. */
  command: string[];
  /** PID of the running app to wait for. */
  waitPid: number;
  cwd?: string;
  logFile?: string;
}

/** How to install: now (default), after the app exits (`restart`), or around a service (`service`). */
export interface ApplyOptions {
  restart?: RestartRequest;
  service?: ServiceCommands;
}

/** What an update did. */
export interface ApplyResult {
  version: string;
  previousVersion: string;
  signed: boolean;
  /** False when the swap waits for the app to exit (the helper does it). */
  applied: boolean;
  files: number;
  replaced?: number;
  added?: number;
  restarting: boolean;
  helperPid?: number;
  service?: ServiceOutcome;
}

/**
 * Runs at every check and update: finishes or undoes an interrupted swap, and confirms a version
 * on probation that is the installed one (the app got as far as its update check, so it starts).
 */
export async function beginLegacySession(layout: InstallLayout, installed: string): Promise<void> {
  await recover(layout);
  const state = await readState(layout);
  if (state.probation && state.current === installed && state.probation.version === installed) await confirm(layout);
}

/** Why `version` is skipped now, if an attempt at it failed within the window. */
export function skippedVersion(
  layout: InstallLayout,
  version: string,
  backoffMs?: number,
): Promise<Skipped | undefined> {
  return backoffFor(layout, version, { windowMs: backoffMs ?? DEFAULT_BACKOFF_MS });
}

/** True when `candidate` is newer than `installed`. */
export function isNewer(candidate: string, installed: string): boolean {
  return compareVersions(candidate, installed) > 0;
}

/** Records a failed attempt at `version` (for failures found before staging, like a broken label). */
export async function recordFailedAttempt(layout: InstallLayout, version: string, reason: string): Promise<void> {
  await recordAttempt(layout, version);
  await recordFailure(layout, version, reason);
}

/** Stages and installs `candidate` in place, recording the attempt and its outcome. */
export async function applyCandidate(
  layout: InstallLayout,
  installed: string,
  candidate: Candidate,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const lock = await acquireLock(layout.lockFile, { purpose: `updating to ${candidate.version}` });
  const workDir = join(layout.stateDir, "unpack", randomSuffix());
  let deferred = false;
  try {
    await updateState(layout, (s) =>
      s.current === installed && s.mode === "in-place" ? s : { ...s, mode: "in-place", current: installed },
    );
    await recordAttempt(layout, candidate.version);
    try {
      const release = await candidate.stage(workDir);
      const base = {
        version: candidate.version,
        previousVersion: installed,
        signed: candidate.signed,
        files: release.files.length,
      };
      if (options.restart) {
        await prepareInPlace(layout, release, { lock });
        await removePath(workDir);
        await lock.release();
        deferred = true;
        const helperPid = await spawnRestartHelper({
          waitPid: options.restart.waitPid,
          command: options.restart.command,
          cwd: options.restart.cwd ?? layout.dir,
          applyPrepared: layout.dir,
          ...(options.restart.logFile ? { logFile: options.restart.logFile } : {}),
        });
        return { ...base, applied: false, restarting: true, helperPid };
      }
      if (options.service) {
        const { result, service } = await updateService(
          options.service,
          () => installInPlace(layout, release, { lock }),
          () => rollbackInPlace(layout, { lock }),
        );
        await recordSuccess(layout, candidate.version);
        return { ...base, applied: true, replaced: result.replaced, added: result.added, restarting: false, service };
      }
      const outcome = await installInPlace(layout, release, { lock });
      await recordSuccess(layout, candidate.version);
      return { ...base, applied: true, replaced: outcome.replaced, added: outcome.added, restarting: false };
    } catch (err) {
      await recordIfReleaseFault(layout, candidate.version, err).catch(() => {});
      throw err;
    }
  } finally {
    await removePath(workDir).catch(() => {});
    if (!deferred) await lock.release();
  }
}

/**
 * The update flow every in-place source shares (SAAU labels, update.json, and their signed
 * counterparts), driving any {@link UpdateSource}: recover from an interrupted swap, confirm a
 * version that reached its next update check, record where updates come from, compare versions,
 * honour the failed-version back-off, record each attempt, stage the release and install it in
 * place, now, through the restart helper once the app has exited, or around a service's stop and
 * start (or only prepare it, for an app that applies it itself).
 */
import { join } from "node:path";
import { ErrorCodes, isUpdraftError } from "../../../core/errors.js";
import { randomSuffix, removePath } from "../../../core/fs.js";
import { acquireLock, type LockToken } from "../../../core/lock.js";
import { compareVersions } from "../../../core/version.js";
import {
  applyPreparedInPlace,
  backoffFor,
  confirm,
  DEFAULT_BACKOFF_MS,
  type InPlaceOutcome,
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
import { isUnusable, type SourceRelease, type UnusableRelease, type UpdateSource } from "../source.js";
import { writeSourceRecord } from "./source-record.js";

/** How to restart the app after the swap. */
export interface RestartRequest {
  /** Program and arguments. */
  command: string[];
  /** PID of the running app to wait for. */
  waitPid: number;
  cwd?: string;
  logFile?: string;
}

/**
 * How to install: now (default), after the app exits (`restart`), around a service (`service`),
 * or not yet (`prepareOnly`: staged durably, the app's files untouched, for a later
 * `applyPreparedInPlace` by the app or the restart helper).
 */
export interface ApplyOptions {
  restart?: RestartRequest;
  service?: ServiceCommands;
  prepareOnly?: boolean;
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

/** What every answer of {@link checkSource} holds. */
interface CheckedSource<R extends SourceRelease> {
  /** The source that answered (the first one `open` chose). */
  source: UpdateSource<R>;
  /** What the source offers: a release, or one it found broken. */
  found: R | UnusableRelease;
  /** True when the answer comes from Updraft's signed metadata. */
  signed: boolean;
}

/** A newer release that may be installed, with the source that stages it. */
export interface AvailableUpdate<R extends SourceRelease = SourceRelease> extends CheckedSource<R> {
  status: "available";
  release: R;
}

/**
 * The answer of {@link checkSource}: the installed version is `current` (the source offers
 * nothing newer), the newer version is `skipped` (it failed recently and is held back), or an
 * update is `available`.
 */
export type SourceCheck<R extends SourceRelease = SourceRelease> =
  | (CheckedSource<R> & { status: "current" })
  | (CheckedSource<R> & { status: "skipped"; skipped: Skipped })
  | AvailableUpdate<R>;

/** Options of {@link checkSource}. */
export interface CheckSourceOptions {
  /** Back-off window after a failed attempt (default 2 hours). */
  backoffMs?: number;
  /** True when the check is the start of an update: a broken newer release counts as a failed attempt. */
  forUpdate?: boolean;
}

/**
 * Checks for an update of the in-place app at `layout` (version `installed`): finishes or undoes
 * an interrupted swap and confirms the installed version first, then asks `open` which source
 * to use, records it (so `updraft status` tells where updates come from even when the source then
 * fails), and compares what it offers with the installed version and the back-off. Throws when
 * the source fails or offers a broken release that is not held back.
 */
export async function checkSource<R extends SourceRelease>(
  layout: InstallLayout,
  installed: string,
  open: () => Promise<UpdateSource<R>>,
  options: CheckSourceOptions = {},
): Promise<SourceCheck<R>> {
  await beginLegacySession(layout, installed);
  const source = await open();
  await writeSourceRecord(layout, { ...source.origin, checkedAt: new Date().toISOString() });
  const found = await source.latest(installed);
  const held = () => backoffFor(layout, found.version, { windowMs: options.backoffMs ?? DEFAULT_BACKOFF_MS });
  if (isUnusable(found)) {
    if (isNewer(found.version, installed)) {
      const skipped = await held();
      if (skipped) return { status: "skipped", source, found, signed: source.origin.signed, skipped };
      if (options.forUpdate) {
        await recordAttempt(layout, found.version);
        await recordFailure(layout, found.version, found.unusable.message);
      }
    }
    throw found.unusable;
  }
  const checked = { source, found, signed: found.signed };
  if (!isNewer(found.version, installed)) return { status: "current", ...checked };
  const skipped = await held();
  if (skipped) return { status: "skipped", ...checked, skipped };
  return { status: "available", ...checked, release: found };
}

/**
 * Runs at every check and update: finishes or undoes an interrupted swap, and confirms a version
 * on probation that is the installed one (the app got as far as its update check, so it starts).
 */
async function beginLegacySession(layout: InstallLayout, installed: string): Promise<void> {
  await recover(layout);
  const state = await readState(layout);
  if (state.probation && state.current === installed && state.probation.version === installed) await confirm(layout);
}

/** True when `candidate` is newer than `installed`. */
function isNewer(candidate: string, installed: string): boolean {
  return compareVersions(candidate, installed) > 0;
}

/**
 * Stages `update` under the install lock and hands the staged files to `install`, recording the
 * attempt, and its failure when the release itself is at fault. The work folder is removed and
 * the lock released afterwards (`install` may release it sooner).
 */
async function withStagedRelease<T>(
  layout: InstallLayout,
  installed: string,
  update: AvailableUpdate,
  purpose: string,
  install: (release: InPlaceRelease, lock: LockToken) => Promise<T>,
): Promise<T> {
  const { version } = update.release;
  const lock = await acquireLock(layout.lockFile, { purpose: `${purpose} ${version}` });
  const workDir = join(layout.stateDir, "unpack", randomSuffix());
  try {
    await updateState(layout, (s) =>
      s.current === installed && s.mode === "in-place" ? s : { ...s, mode: "in-place", current: installed },
    );
    await recordAttempt(layout, version);
    try {
      return await install(await update.source.stage(update.release, workDir), lock);
    } catch (err) {
      await recordLegacyFailure(layout, version, err).catch(() => {});
      throw err;
    }
  } finally {
    await removePath(workDir).catch(() => {});
    await lock.release();
  }
}

/**
 * Downloads, verifies and stages `update` durably without touching the app's files; the swap
 * happens at `applyPreparedInPlace` (the app's own call, or the restart helper).
 */
export function prepareUpdate(layout: InstallLayout, installed: string, update: AvailableUpdate): Promise<void> {
  return withStagedRelease(layout, installed, update, "downloading", (release, lock) =>
    prepareInPlace(layout, release, { lock }),
  );
}

/**
 * Swaps in the update {@link prepareUpdate} staged (version `version`), all or nothing, and
 * records the outcome. Undefined when nothing is prepared.
 */
export async function applyPreparedUpdate(layout: InstallLayout, version: string): Promise<InPlaceOutcome | undefined> {
  try {
    const outcome = await applyPreparedInPlace(layout);
    await recordSuccess(layout, version);
    return outcome;
  } catch (err) {
    await recordLegacyFailure(layout, version, err).catch(() => {});
    throw err;
  }
}

/**
 * Records a failed in-place attempt. Beyond the release's own faults, SAAU's HitVersion rule holds
 * a version back after a file stayed locked (`FILE_LOCKED`) too, as SAAU clients always did, so an
 * app that cannot be updated while it runs is not retried at every start; the reason says it was
 * a lock, not the release, and a newer version is still tried at once. (Native mode never holds a
 * version back for a lock: see attempts.ts.)
 */
async function recordLegacyFailure(layout: InstallLayout, version: string, err: unknown): Promise<void> {
  if (isUpdraftError(err, ErrorCodes.FILE_LOCKED)) {
    await recordFailure(layout, version, `file locked, not the release's fault (HitVersion): ${err.message}`);
    return;
  }
  await recordIfReleaseFault(layout, version, err);
}

/** Stages and installs `update` in place (now, after the app exits, or around a service). */
export function applyUpdate(
  layout: InstallLayout,
  installed: string,
  update: AvailableUpdate,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  return withStagedRelease(layout, installed, update, "updating to", async (release, lock) => {
    const base = { version: update.release.version, previousVersion: installed, signed: update.release.signed };
    const files = release.files.length;
    if (options.prepareOnly) {
      await prepareInPlace(layout, release, { lock });
      return { ...base, applied: false, files, restarting: false };
    }
    if (options.restart) {
      await prepareInPlace(layout, release, { lock });
      await lock.release();
      const helperPid = await spawnRestartHelper({
        waitPid: options.restart.waitPid,
        command: options.restart.command,
        cwd: options.restart.cwd ?? layout.dir,
        applyPrepared: layout.dir,
        ...(options.restart.logFile ? { logFile: options.restart.logFile } : {}),
      });
      return { ...base, applied: false, files, restarting: true, helperPid };
    }
    if (options.service) {
      const { result, service } = await updateService(
        options.service,
        () => installInPlace(layout, release, { lock }),
        () => rollbackInPlace(layout, { lock }),
      );
      await recordSuccess(layout, base.version);
      return {
        ...base,
        applied: true,
        files,
        replaced: result.replaced,
        added: result.added,
        restarting: false,
        service,
      };
    }
    const outcome = await installInPlace(layout, release, { lock });
    await recordSuccess(layout, base.version);
    return { ...base, applied: true, files, replaced: outcome.replaced, added: outcome.added, restarting: false };
  });
}

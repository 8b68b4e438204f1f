/**
 * The publisher's delta step: for a new release, estimate every delta kind from each of the last K
 * releases of its channel with a fast pass, build at full level those that can win, in worker
 * threads on every core, keep those clearly smaller than the full archive, and store them as
 * targets (`releases/<version>/deltas/<from>.<kind>.udelta`).
 */
import { mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { TargetFile } from "@tufjs/models";
import { removePath } from "../../core/fs.js";
import { DELTA_KINDS, deltaTarget } from "../../formats/delta.js";
import type { ArtifactRef } from "../../formats/native.js";
import type { PackFile } from "../pack.js";
import { type AppPaths, storeTargetFile, tempTargetPath } from "../tuf-repo.js";
import { type DeltaJob, ESTIMATE_FLOOR } from "./build-one.js";
import { extractForDelta, type PreviousRelease, previousReleases } from "./old-releases.js";
import type { PlanLimits } from "./plan.js";
import { type JobOutcome, type PoolProgress, runDeltaJobs } from "./pool.js";
import type { SourceFile } from "./sources.js";

/** Default number of previous releases per channel to build deltas from. */
export const DEFAULT_DELTA_PREVIOUS = 3;
/** A delta is kept only if it is at most this share of the full archive ("clearly smaller"). */
export const DELTA_MAX_RATIO = 0.8;

/** A candidate estimated within this factor of the smallest estimate from the same base is built too. */
export const COMPETITOR_MARGIN = 1.2;

/** The two passes over the candidates: a fast estimate of each, then the full build of those that can win. */
export type DeltaPass = "estimate" | "build";

/** Progress of {@link buildReleaseDeltas}: the pool's, and which pass it is in. */
export interface DeltaProgress extends PoolProgress {
  pass: DeltaPass;
}

/** Options of {@link buildReleaseDeltas}. */
export interface BuildDeltasOptions {
  paths: AppPaths;
  /** The targets currently signed (previous releases are found there). */
  targets: Record<string, TargetFile>;
  version: string;
  channel: string;
  /** The new release's files, in manifest order. */
  files: readonly PackFile[];
  /** Size of the new release's full archive. */
  fullSize: number;
  /** How many previous releases (K); 0 builds none. Default {@link DEFAULT_DELTA_PREVIOUS}. */
  previous?: number;
  /** Kinds to build; default all of {@link DELTA_KINDS}. */
  kinds?: readonly string[];
  /** zstd level, default 19. */
  level?: number;
  /** Worker threads at once. */
  concurrency?: number;
  /** Segment limits (tests use small ones to exercise segmentation). */
  limits?: PlanLimits;
  onProgress?: (progress: DeltaProgress) => void;
}

/** A delta that was built and kept, already stored as a target. */
export interface StoredDelta extends ArtifactRef {
  from: string;
  /** Bytes of new files it carries (the rest is copied from the installed tree). */
  neededBytes: number;
}

/** A delta not published, and why. */
export interface SkippedDelta {
  from: string;
  kind: string;
  reason: string;
}

/** What {@link buildReleaseDeltas} did. */
export interface BuildDeltasResult {
  deltas: StoredDelta[];
  skipped: SkippedDelta[];
}

function newSources(files: readonly PackFile[]): SourceFile[] {
  return files.map(({ path, size, sha256, mode, sourcePath, data }) => ({
    path,
    size,
    sha256,
    mode,
    ...(sourcePath !== undefined ? { absolutePath: sourcePath } : {}),
    ...(data !== undefined ? { data } : {}),
  }));
}

/** Builds, filters and stores the deltas of a new release. Never throws for one bad delta: it is skipped. */
export async function buildReleaseDeltas(options: BuildDeltasOptions): Promise<BuildDeltasResult> {
  const count = options.previous ?? DEFAULT_DELTA_PREVIOUS;
  const kinds = options.kinds ?? DELTA_KINDS;
  const skipped: SkippedDelta[] = [];
  if (count <= 0 || kinds.length === 0) return { deltas: [], skipped };
  const previous = await previousReleases(options.paths, options.targets, options.channel, options.version, count);
  if (previous.length === 0) return { deltas: [], skipped };
  const work = await mkdtemp(join(tmpdir(), "updraft-delta-"));
  try {
    const newFiles = newSources(options.files);
    const jobs: DeltaJob[] = [];
    for (const release of previous) {
      let oldFiles: SourceFile[];
      try {
        oldFiles = await extractForDelta(release, join(work, `old-${jobs.length}`));
      } catch (err) {
        for (const kind of kinds) skipped.push({ from: release.version, kind, reason: (err as Error).message });
        continue;
      }
      for (const kind of kinds) jobs.push(await jobFor(options, release, kind, oldFiles, newFiles));
    }
    const maxBytes = Math.floor(options.fullSize * DELTA_MAX_RATIO);
    const run = (list: DeltaJob[], pass: DeltaPass) =>
      runDeltaJobs(list, {
        ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
        onProgress: (progress) => options.onProgress?.({ ...progress, pass }),
      });
    // A fast pass estimates every candidate; only those that can win get the costly level-19 one.
    const estimated = await run(
      jobs.map((job) => ({ ...job, estimateOnly: true })),
      "estimate",
    );
    const chosen = chooseCandidates(estimated, maxBytes, skipped);
    const outcomes = await run(
      chosen.map((job) => ({ ...job, maxBytes })),
      "build",
    );
    const deltas: StoredDelta[] = [];
    for (const outcome of outcomes) {
      const { job } = outcome;
      if ("gaveUp" in outcome || "estimate" in outcome) {
        const reason = "gaveUp" in outcome ? outcome.gaveUp : "estimated only";
        skipped.push({ from: job.from, kind: job.kind, reason: `cannot beat the full archive: ${reason}` });
        continue;
      }
      if ("error" in outcome) {
        skipped.push({ from: job.from, kind: job.kind, reason: `build failed: ${outcome.error.split("\n")[0]}` });
        await removePath(job.outPath);
        continue;
      }
      const built = outcome.result;
      if (built.size > options.fullSize * DELTA_MAX_RATIO) {
        skipped.push({
          from: job.from,
          kind: job.kind,
          reason: `${built.size} bytes is not clearly smaller than the full archive's ${options.fullSize}`,
        });
        await removePath(job.outPath);
        continue;
      }
      const target = deltaTarget(options.version, job.from, job.kind);
      await storeTargetFile(options.paths, target, job.outPath, built.sha256);
      deltas.push({
        kind: job.kind,
        target,
        size: built.size,
        sha256: built.sha256,
        from: job.from,
        neededBytes: built.neededBytes,
      });
    }
    return { deltas, skipped };
  } finally {
    await removePath(work);
  }
}

/**
 * The candidates worth building at full level, from their estimates: per base release, the one
 * estimated smallest and those within {@link COMPETITOR_MARGIN} of it, unless even the floor of
 * their estimate cannot beat the full archive. The others are recorded in `skipped`.
 */
function chooseCandidates(estimated: readonly JobOutcome[], maxBytes: number, skipped: SkippedDelta[]): DeltaJob[] {
  const best = new Map<string, number>();
  for (const o of estimated) {
    if ("estimate" in o) best.set(o.job.from, Math.min(best.get(o.job.from) ?? Infinity, o.estimate.bytes));
  }
  const chosen: DeltaJob[] = [];
  for (const o of estimated) {
    const { job } = o;
    const skip = (reason: string) => skipped.push({ from: job.from, kind: job.kind, reason });
    if ("error" in o) skip(`build failed: ${o.error.split("\n")[0]}`);
    else if (!("estimate" in o)) skip("estimate failed");
    else if (o.estimate.bytes * ESTIMATE_FLOOR > maxBytes)
      skip(`estimated at ${o.estimate.bytes} bytes, it cannot beat the full archive (at most ${maxBytes})`);
    else if (o.estimate.bytes > best.get(job.from)! * COMPETITOR_MARGIN)
      skip(`estimated at ${o.estimate.bytes} bytes, it cannot beat the other kind's ${best.get(job.from)}`);
    else chosen.push({ ...job, estimateOnly: false });
  }
  return chosen;
}

async function jobFor(
  options: BuildDeltasOptions,
  release: PreviousRelease,
  kind: string,
  oldFiles: SourceFile[],
  newFiles: SourceFile[],
): Promise<DeltaJob> {
  const outPath = tempTargetPath(options.paths, deltaTarget(options.version, release.version, kind));
  await mkdir(dirname(outPath), { recursive: true });
  return {
    kind,
    from: release.version,
    oldFiles,
    newFiles,
    outPath,
    level: options.level ?? 19,
    ...(options.limits ? { limits: options.limits } : {}),
  };
}

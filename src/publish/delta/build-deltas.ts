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
import { type DeltaEstimate, type DeltaJob, ESTIMATE_FLOOR } from "./build-one.js";
import { extractForDelta, type PreviousRelease, previousReleases } from "./old-releases.js";
import type { PlanLimits } from "./plan.js";
import { type JobOutcome, type PoolProgress, runDeltaJobs } from "./pool.js";
import type { SourceFile } from "./sources.js";

/** Default number of previous releases per channel to build deltas from. */
export const DEFAULT_DELTA_PREVIOUS = 3;
/** A delta is kept only if it is at most this share of the full archive ("clearly smaller"). */
export const DELTA_MAX_RATIO = 0.8;

/**
 * Candidates from the same base estimated within this factor of the smallest are all built: the
 * fast estimate ranks near ties wrongly (zod 3.25.76: files 4,920 against tree 5,022 estimated,
 * the tree smaller at level 19), and the client takes the smallest. Further ones are given up.
 */
export const COMPETITOR_MARGIN = 1.05;

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
  /** The build's platform: deltas start only from earlier builds for the same platform. */
  platform: string;
  /** The new release's files, in manifest order. */
  files: readonly PackFile[];
  /**
   * Size of the new release's full archive, or its promise while the archive is still being
   * written: the deltas are then built alongside it (every core busy), given up only past the
   * build's uncompressed size until the archive's is known, then filtered as usual.
   */
  fullSize: number | Promise<number>;
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
  const previous = await previousReleases(options.paths, options.targets, {
    channel: options.channel,
    platform: options.platform,
    version: options.version,
    count,
  });
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
    const totalBytes = options.files.reduce((sum, f) => sum + f.size, 0);
    const bound = typeof options.fullSize === "number" ? options.fullSize : totalBytes;
    const maxBytes = Math.floor(bound * DELTA_MAX_RATIO);
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
    let fullSize: number;
    try {
      fullSize = await options.fullSize;
    } catch (err) {
      for (const { job } of outcomes) await removePath(job.outPath);
      throw err;
    }
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
      if (built.size > fullSize * DELTA_MAX_RATIO) {
        skipped.push({
          from: job.from,
          kind: job.kind,
          reason: `${built.size} bytes is not clearly smaller than the full archive's ${fullSize}`,
        });
        await removePath(job.outPath);
        continue;
      }
      const target = deltaTarget(options.version, job.from, job.kind, options.platform);
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
 * The candidates worth building at full level for each base release: those estimated within
 * {@link COMPETITOR_MARGIN} of the smallest estimate, unless even the floor of their estimate
 * cannot beat the full archive. The others are recorded in `skipped`.
 */
function chooseCandidates(estimated: readonly JobOutcome[], maxBytes: number, skipped: SkippedDelta[]): DeltaJob[] {
  const byBase = new Map<string, { job: DeltaJob; estimate: DeltaEstimate }[]>();
  for (const o of estimated) {
    const skip = (reason: string) => skipped.push({ from: o.job.from, kind: o.job.kind, reason });
    if ("error" in o) skip(`build failed: ${o.error.split("\n")[0]}`);
    else if (!("estimate" in o)) skip("estimate failed");
    else if (o.estimate.bytes * ESTIMATE_FLOOR > maxBytes)
      skip(`estimated at ${o.estimate.bytes} bytes, it cannot beat the full archive (at most ${maxBytes})`);
    else byBase.set(o.job.from, [...(byBase.get(o.job.from) ?? []), { job: o.job, estimate: o.estimate }]);
  }
  const chosen: DeltaJob[] = [];
  for (const candidates of byBase.values()) {
    const best = candidates.reduce((a, b) => (b.estimate.bytes < a.estimate.bytes ? b : a));
    for (const c of candidates) {
      if (c.estimate.bytes <= best.estimate.bytes * COMPETITOR_MARGIN) chosen.push({ ...c.job, estimateOnly: false });
      else
        skipped.push({
          from: c.job.from,
          kind: c.job.kind,
          reason: `estimated at ${c.estimate.bytes} bytes against ${best.estimate.bytes} for ${best.job.kind}, it cannot beat it`,
        });
    }
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
  const outPath = tempTargetPath(options.paths, deltaTarget(options.version, release.version, kind, options.platform));
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

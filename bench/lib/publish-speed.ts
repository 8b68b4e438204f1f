/**
 * Publish speed against the reference tools in the same run: `tar -c | zstd -19 -T0` of a tree
 * (a first publish), plus `zstd --patch-from -19 --long` of the delta against its base (a publish
 * with deltas); and a tree of tiny files published and installed against `tar -x` of its archive.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { PublishResult } from "../../src/publish/publish.js";
import { addApp, archivePath, type BenchRepo, install, publishVersion } from "./app.js";
import { mustRun, note } from "./exec.js";
import { writeTinyFiles } from "./synthetic.js";

function quote(arg: string): string {
  return `'${arg.replaceAll("'", "'\\''")}'`;
}

/** Milliseconds of `tar -c DIR | zstd -19 -T0` (output discarded). */
export async function referencePackMs(dir: string): Promise<number> {
  return (await mustRun("sh", ["-c", `tar -c -C ${quote(dir)} . | zstd -q -19 -T0 -c > /dev/null`])).ms;
}

/** Milliseconds of `zstd --patch-from=OLD -19 --long NEW` (output discarded). */
export async function referencePatchMs(oldTar: string, newTar: string, work: string): Promise<number> {
  const out = join(work, "ref.long-patch");
  const r = await mustRun("zstd", ["-q", "-19", "--long", `--patch-from=${oldTar}`, "-f", newTar, "-o", out]);
  await rm(out, { force: true });
  return r.ms;
}

/**
 * Writes out what is waiting to be written on the file system of `dir` (`sync -f`), so the next
 * timed step does not pay for an earlier one's writes (a copy's 200 MB, say).
 */
export async function settleWrites(dir: string): Promise<void> {
  await mustRun("sync", ["-f", dir]);
}

/** What the tiny-files run measured. */
export interface TinyFilesMeasure {
  files: number;
  bytes: number;
  publishMs: number;
  /** The publisher's own split of `publishMs`. */
  publishTimings: PublishResult["timings"];
  /** `tar -c | zstd -19 -T0` of the same tree. */
  referencePackMs: number;
  installMs: number;
  /** `tar -x` of the published archive (zstd-decompressed by tar). */
  tarExtractMs: number;
}

/**
 * Publishes `count` tiny files as app `tiny` (against `tar -c | zstd -19 -T0` of the tree),
 * installs them, and extracts the same archive with tar. Each timed step starts after
 * {@link settleWrites}, so none pays for the previous one's writes.
 */
export async function measureTinyFiles(
  repo: BenchRepo,
  url: string,
  workDir: string,
  count: number,
  app = "tiny",
): Promise<TinyFilesMeasure> {
  const dir = join(workDir, app);
  const build = join(dir, "build");
  note(`tiny: writing ${count} files`);
  const bytes = await writeTinyFiles(build, count);
  await addApp(repo, app, url);
  note("tiny: tar -c | zstd -19 -T0");
  await settleWrites(dir);
  const referencePack = await referencePackMs(build);
  note("tiny: publish");
  await settleWrites(dir);
  const t0 = performance.now();
  const published = await publishVersion(repo, app, "1.0.0", build);
  const publishMs = performance.now() - t0;
  note("tiny: install");
  await settleWrites(dir);
  const t1 = performance.now();
  await install(repo, app, url, join(dir, "install"));
  const installMs = performance.now() - t1;
  note("tiny: tar -x");
  const extracted = join(dir, "tar-x");
  await mkdir(extracted, { recursive: true });
  await settleWrites(dir);
  const tarX = await mustRun("tar", ["--zstd", "-x", "-f", archivePath(repo, published), "-C", extracted]);
  await rm(dir, { recursive: true, force: true });
  return {
    files: count,
    bytes,
    publishMs,
    publishTimings: published.timings,
    referencePackMs: referencePack,
    installMs,
    tarExtractMs: tarX.ms,
  };
}

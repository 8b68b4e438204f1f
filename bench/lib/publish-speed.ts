/**
 * Publish speed against the reference tools in the same run: `tar -c | zstd -19 -T0` of a tree
 * (a first publish), plus `zstd --patch-from -19 --long` of the delta against its base (a publish
 * with deltas); and a tree of tiny files published and installed against `tar -x` of its archive.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
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

/** What the tiny-files run measured. */
export interface TinyFilesMeasure {
  files: number;
  bytes: number;
  publishMs: number;
  installMs: number;
  /** `tar -x` of the published archive (zstd-decompressed by tar). */
  tarExtractMs: number;
}

/** Publishes `count` tiny files as app `tiny`, installs them, and extracts the same archive with tar. */
export async function measureTinyFiles(
  repo: BenchRepo,
  url: string,
  workDir: string,
  count: number,
): Promise<TinyFilesMeasure> {
  const dir = join(workDir, "tiny");
  const build = join(dir, "build");
  note(`tiny: writing ${count} files`);
  const bytes = await writeTinyFiles(build, count);
  await addApp(repo, "tiny", url);
  note("tiny: publish");
  const t0 = performance.now();
  const published = await publishVersion(repo, "tiny", "1.0.0", build);
  const publishMs = performance.now() - t0;
  note("tiny: install");
  const t1 = performance.now();
  await install(repo, "tiny", url, join(dir, "install"));
  const installMs = performance.now() - t1;
  note("tiny: tar -x");
  const extracted = join(dir, "tar-x");
  await mkdir(extracted, { recursive: true });
  const tarX = await mustRun("tar", ["--zstd", "-x", "-f", archivePath(repo, published), "-C", extracted]);
  await rm(dir, { recursive: true, force: true });
  return { files: count, bytes, publishMs, installMs, tarExtractMs: tarX.ms };
}

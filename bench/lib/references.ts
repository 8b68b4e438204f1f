/**
 * The reference delta tools on the same pair, each on the uncompressed tar of the release (the
 * full archive decompressed): `zstd --patch-from --single-thread -19`, `bsdiff`, `xdelta3 -9`.
 */
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { hasCommand, mustRun, run } from "./exec.js";

/** One tool's result: the delta size, or why it was not run. */
export interface ReferenceResult {
  tool: string;
  bytes?: number;
  ms?: number;
  skipped?: string;
}

/** bsdiff needs ~17× its input in memory and is slow on large inputs: skipped above this size. */
export const BSDIFF_MAX_BYTES = 64 * 1024 * 1024;

async function sizeOf(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** Decompresses a release's `tar.zst` into `out`. */
export async function untarZst(archive: string, out: string): Promise<void> {
  await mustRun("zstd", ["-q", "-d", "-f", archive, "-o", out]);
}

/** Runs every available reference tool from `oldTar` to `newTar` in `work`. */
export async function runReferences(oldTar: string, newTar: string, work: string): Promise<ReferenceResult[]> {
  const out: ReferenceResult[] = [];
  const oldSize = await sizeOf(oldTar);
  const newSize = await sizeOf(newTar);
  if (await hasCommand("zstd")) {
    const dest = join(work, "ref.zst-patch");
    const r = await run("zstd", ["-q", "-19", "--single-thread", `--patch-from=${oldTar}`, "-f", newTar, "-o", dest]);
    out.push(
      r.code === 0
        ? { tool: "zstd --patch-from -19", bytes: await sizeOf(dest), ms: r.ms }
        : { tool: "zstd", skipped: r.stderr.trim() },
    );
    await rm(dest, { force: true });
  } else out.push({ tool: "zstd --patch-from -19", skipped: "not installed" });
  if (!(await hasCommand("bsdiff"))) out.push({ tool: "bsdiff", skipped: "not installed" });
  else if (Math.max(oldSize, newSize) > BSDIFF_MAX_BYTES) out.push({ tool: "bsdiff", skipped: "input > 64 MiB" });
  else {
    const dest = join(work, "ref.bsdiff");
    const r = await run("bsdiff", [oldTar, newTar, dest]);
    out.push(
      r.code === 0
        ? { tool: "bsdiff", bytes: await sizeOf(dest), ms: r.ms }
        : { tool: "bsdiff", skipped: r.stderr.trim() },
    );
    await rm(dest, { force: true });
  }
  if (await hasCommand("xdelta3")) {
    const dest = join(work, "ref.xdelta3");
    const window = String(Math.max(oldSize, 1 << 20));
    const r = await run("xdelta3", ["-9", "-B", window, "-f", "-e", "-s", oldTar, newTar, dest]);
    out.push(
      r.code === 0
        ? { tool: "xdelta3 -9", bytes: await sizeOf(dest), ms: r.ms }
        : { tool: "xdelta3", skipped: r.stderr.trim() },
    );
    await rm(dest, { force: true });
  } else out.push({ tool: "xdelta3 -9", skipped: "not installed" });
  return out;
}

/** The smallest result that ran. */
export function bestReference(results: readonly ReferenceResult[]): ReferenceResult | undefined {
  return results
    .filter((r) => r.bytes !== undefined)
    .reduce<ReferenceResult | undefined>((best, r) => (!best || r.bytes! < best.bytes! ? r : best), undefined);
}

/**
 * `npm run bench:apply`: only the apply-time and tiny-file rows of `npm run bench`, repeated, in a
 * few minutes. Publishes the next.js pair once (level 3: this measures installing, not packing),
 * with `BENCH_APPLY_RUNS` installs of the old release (default 3; 0 skips the pair); updates each with the client in
 * its own process and times `cp -a` of the new tree right after. Then `BENCH_TINY_RUNS` times
 * (default 1) a tree of `BENCH_TINY_FILES` tiny files (default 50,000; 0 skips it) is published
 * against `tar -c | zstd -19 -T0` and installed against `tar -x` of the same archive. Every step is
 * timed after the file system's pending writes are written out; each ratio is the median of the
 * runs' ratios, every run against its own reference.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { addApp, assertInstalled, createRepo, install, publishVersion, storedManifest } from "./lib/app.js";
import { runClient } from "./lib/client.js";
import { cacheDir, PAIRS, packageTree } from "./lib/corpus.js";
import { median, mustRun, note, runMain } from "./lib/exec.js";
import { measureTinyFiles, settleWrites, type TinyFilesMeasure } from "./lib/publish-speed.js";
import { loadNote } from "./lib/report.js";
import { startUpdraftServe } from "./lib/servers.js";
import { int, type Row, renderTable } from "./lib/table.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A row of the median figure, the median reference and the median of the runs' ratios. */
function medianRow(label: string, figures: number[], references: number[], reference: string, goal: number): Row {
  const ratio = median(figures.map((f, i) => f / references[i]!));
  return {
    label: `${label} (median of ${figures.length})`,
    figure: `${int(median(figures))} ms`,
    reference: `${int(median(references))} ms (${reference})`,
    ratio,
    goal: `≤ ${goal}`,
    met: ratio <= goal,
  };
}

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_APPLY_RUNS ?? 3);
  const tinyRuns = Number(process.env.BENCH_TINY_RUNS ?? 1);
  const tinyCount = Number(process.env.BENCH_TINY_FILES ?? 50_000);
  const pair = PAIRS.find((p) => p.id === "next")!;
  const work = join(cacheDir(ROOT), "apply-run");
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const repo = await createRepo(work);
  const serve = await startUpdraftServe(repo.repoDir);
  const rows: Row[] = [];
  try {
    if (runs > 0) {
      const fromDir = await packageTree(ROOT, pair.pkg, pair.from);
      const toDir = await packageTree(ROOT, pair.pkg, pair.to);
      await addApp(repo, pair.id, serve.url);
      note(`${pair.id}: publish ${pair.from} (level 3) and install it ${runs} times`);
      await publishVersion(repo, pair.id, pair.from, fromDir, { level: 3 });
      // Every run's install of the old release is made now, while the channel still offers it.
      const installDirs = Array.from({ length: runs }, (_, i) => join(work, `install-${i}`));
      for (const dir of installDirs) await install(repo, pair.id, serve.url, dir);
      note(`${pair.id}: publish ${pair.to} (level 3, deltas)`);
      const published = await publishVersion(repo, pair.id, pair.to, toDir, { level: 3 });
      const manifest = await storedManifest(repo, published);
      const apply: number[] = [];
      const cp: number[] = [];
      for (const [i, installDir] of installDirs.entries()) {
        await settleWrites(work);
        const update = await runClient("update", installDir);
        if (update.version !== pair.to) throw new Error(`the client installed ${update.version}`);
        await assertInstalled(join(installDir, `app-${pair.to}`), manifest);
        const dest = join(work, `cp-${i}`);
        await settleWrites(work);
        const cpMs = (await mustRun("cp", ["-a", toDir, dest])).ms;
        note(`${pair.id} run ${i + 1}: apply ${int(update.installMs!)} ms (${update.kind}), cp -a ${int(cpMs)} ms`);
        apply.push(update.installMs!);
        cp.push(cpMs);
        await rm(dest, { recursive: true, force: true });
        await rm(installDir, { recursive: true, force: true });
      }
      rows.push(medianRow(`${pair.id} apply`, apply, cp, "cp -a", 0.3));
    }
    if (tinyCount > 0) {
      const tiny: TinyFilesMeasure[] = [];
      for (let i = 0; i < tinyRuns; i++) {
        const m = await measureTinyFiles(repo, serve.url, work, tinyCount, `tiny-${i}`);
        note(
          `tiny run ${i + 1}: publish ${int(m.publishMs)} ms (scan ${int(m.publishTimings.scanMs)}, pack ${int(m.publishTimings.packMs)}, sign ${int(m.publishTimings.signMs)}), tar|zstd ${int(m.referencePackMs)} ms, install ${int(m.installMs)} ms, tar -x ${int(m.tarExtractMs)} ms`,
        );
        tiny.push(m);
      }
      const label = `${int(tinyCount)} tiny files`;
      const ms = (pick: (m: TinyFilesMeasure) => number) => tiny.map(pick);
      rows.push(
        medianRow(
          `${label} publish`,
          ms((m) => m.publishMs),
          ms((m) => m.referencePackMs),
          "tar|zstd -19",
          3,
        ),
        medianRow(
          `${label} install`,
          ms((m) => m.installMs),
          ms((m) => m.tarExtractMs),
          "tar -x",
          2,
        ),
      );
    }
  } finally {
    await serve.stop();
  }
  const table = renderTable([{ title: "Apply time", figureHeader: "updraft", referenceHeader: "reference", rows }]);
  process.stdout.write(`${table}Notes:\n  ${loadNote()}\n`);
  await rm(work, { recursive: true, force: true });
}

runMain(main);

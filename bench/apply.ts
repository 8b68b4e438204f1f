/**
 * `npm run bench:apply`: only the apply-time rows of `npm run bench`, repeated, in a few minutes.
 * Publishes the next.js pair once (level 3: this measures installing, not packing), with
 * `BENCH_APPLY_RUNS` installs of the old release (default 3); updates each with the client in its
 * own process, and times `cp -a` of the new tree right after; and a tree of tiny files
 * (`BENCH_TINY_FILES`, default 50,000; 0 skips it) installed against `tar -x` of the same archive.
 * Each ratio is the median of the runs' ratios, every run against its own reference.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  addApp,
  archivePath,
  assertInstalled,
  createRepo,
  install,
  publishVersion,
  storedManifest,
} from "./lib/app.js";
import { runClient } from "./lib/client.js";
import { cacheDir, PAIRS, packageTree } from "./lib/corpus.js";
import { median, mustRun, note, runMain } from "./lib/exec.js";
import { loadNote } from "./lib/report.js";
import { startUpdraftServe } from "./lib/servers.js";
import { writeTinyFiles } from "./lib/synthetic.js";
import { int, type Row, renderTable } from "./lib/table.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_APPLY_RUNS ?? 3);
  const tinyCount = Number(process.env.BENCH_TINY_FILES ?? 50_000);
  const pair = PAIRS.find((p) => p.id === "next")!;
  const work = join(cacheDir(ROOT), "apply-run");
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const repo = await createRepo(work);
  const serve = await startUpdraftServe(repo.repoDir);
  const rows: Row[] = [];
  try {
    const fromDir = await packageTree(ROOT, pair.pkg, pair.from);
    const toDir = await packageTree(ROOT, pair.pkg, pair.to);
    await addApp(repo, pair.id, serve.url);
    note(`${pair.id}: publish ${pair.from} and ${pair.to} (level 3, deltas)`);
    await publishVersion(repo, pair.id, pair.from, fromDir, { level: 3 });
    // Every run's install of the old release is made now, while the channel still offers it.
    const installDirs = Array.from({ length: runs }, (_, i) => join(work, `install-${i}`));
    for (const dir of installDirs) await install(repo, pair.id, serve.url, dir);
    const published = await publishVersion(repo, pair.id, pair.to, toDir, { level: 3 });
    const manifest = await storedManifest(repo, published);
    const apply: number[] = [];
    const cp: number[] = [];
    for (let i = 0; i < runs; i++) {
      const installDir = installDirs[i]!;
      const update = await runClient("update", installDir);
      if (update.version !== pair.to) throw new Error(`the client installed ${update.version}`);
      await assertInstalled(join(installDir, `app-${pair.to}`), manifest);
      const dest = join(work, `cp-${i}`);
      const cpMs = (await mustRun("cp", ["-a", toDir, dest])).ms;
      note(`${pair.id} run ${i + 1}: apply ${int(update.installMs!)} ms (${update.kind}), cp -a ${int(cpMs)} ms`);
      apply.push(update.installMs!);
      cp.push(cpMs);
      await rm(dest, { recursive: true, force: true });
      await rm(installDir, { recursive: true, force: true });
    }
    const ratios = apply.map((a, i) => a / cp[i]!);
    rows.push({
      label: `${pair.id} apply (median of ${runs})`,
      figure: `${int(median(apply))} ms`,
      reference: `${int(median(cp))} ms (cp -a)`,
      ratio: median(ratios),
      goal: "≤ 0.3",
      met: median(ratios) <= 0.3,
    });
    if (tinyCount > 0) {
      const build = join(work, "tiny-build");
      note(`tiny: writing and publishing ${tinyCount} files`);
      await writeTinyFiles(build, tinyCount);
      await addApp(repo, "tiny", serve.url);
      const tiny = await publishVersion(repo, "tiny", "1.0.0", build, { level: 3 });
      const installs: number[] = [];
      const tars: number[] = [];
      for (let i = 0; i < runs; i++) {
        const dir = join(work, `tiny-install-${i}`);
        const t0 = performance.now();
        await install(repo, "tiny", serve.url, dir);
        installs.push(performance.now() - t0);
        const extracted = join(work, `tiny-tar-${i}`);
        await mkdir(extracted, { recursive: true });
        tars.push((await mustRun("tar", ["--zstd", "-x", "-f", archivePath(repo, tiny), "-C", extracted])).ms);
        note(`tiny run ${i + 1}: install ${int(installs.at(-1)!)} ms, tar -x ${int(tars.at(-1)!)} ms`);
        await rm(dir, { recursive: true, force: true });
        await rm(extracted, { recursive: true, force: true });
      }
      const ratios = installs.map((a, i) => a / tars[i]!);
      rows.push({
        label: `${int(tinyCount)} tiny files install (median of ${runs})`,
        figure: `${int(median(installs))} ms`,
        reference: `${int(median(tars))} ms (tar -x)`,
        ratio: median(ratios),
        goal: "≤ 2",
        met: median(ratios) <= 2,
      });
    }
  } finally {
    await serve.stop();
  }
  const table = renderTable([{ title: "Apply time", figureHeader: "updraft", referenceHeader: "reference", rows }]);
  process.stdout.write(`${table}Notes:\n  ${loadNote()}\n`);
  await rm(work, { recursive: true, force: true });
}

runMain(main);

/**
 * `npm run bench`: Updraft against named references, on real release pairs from the npm registry
 * (stand-in apps) and a 200 MB release. Prints one table, each figure next to its reference
 * measured in this run, as a ratio. Installs the Debian reference tools when missing (as root),
 * fetches the corpus with `npm pack` into `.bench-cache/`. `BENCH_PAIRS=esbuild,vite` limits the
 * pairs; `BENCH_BIG_MB` sets the large release's size (default 200); `BENCH_TINY_FILES` the number
 * of tiny files published and installed against `tar -x` (default 50,000; 0 skips it).
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRepo } from "./lib/app.js";
import { cacheDir, PAIRS, packageTree } from "./lib/corpus.js";
import { note, runMain } from "./lib/exec.js";
import { measurePair, type PairMeasure } from "./lib/pair.js";
import { measureTinyFiles } from "./lib/publish-speed.js";
import { loadNote, mbps, pairSections, publishSection, referenceNotes } from "./lib/report.js";
import { serverSpeedSection } from "./lib/server-speed.js";
import { startNginx, startUpdraftServe } from "./lib/servers.js";
import { renderTable, type Section } from "./lib/table.js";
import { downloadThroughput, publishBig } from "./lib/throughput.js";
import { ensureTools } from "./lib/tools.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

async function main(): Promise<void> {
  const started = performance.now();
  await ensureTools();
  const only = process.env.BENCH_PAIRS?.split(",").filter(Boolean);
  const pairs = PAIRS.filter((p) => !only || only.includes(p.id));
  const work = join(cacheDir(ROOT), "run");
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const repo = await createRepo(work);
  const serve = await startUpdraftServe(repo.repoDir);
  const measures: PairMeasure[] = [];
  const sections: Section[] = [];
  try {
    for (const pair of pairs) {
      const fromDir = await packageTree(ROOT, pair.pkg, pair.from);
      const toDir = await packageTree(ROOT, pair.pkg, pair.to);
      measures.push(
        await measurePair(repo, serve.url, work, {
          id: pair.id,
          label: `${pair.pkg} ${pair.from} → ${pair.to}`,
          covers: pair.covers,
          fromVersion: pair.from,
          toVersion: pair.to,
          fromDir,
          toDir,
          references: true,
          cpRuns: 3,
        }),
      );
    }
    sections.push(...pairSections(measures, "next"));
    const tinyCount = Number(process.env.BENCH_TINY_FILES ?? 50_000);
    const tiny = tinyCount > 0 ? await measureTinyFiles(repo, serve.url, work, tinyCount) : undefined;
    sections.push(publishSection(measures, tiny));

    const bigBytes = Number(process.env.BENCH_BIG_MB ?? 200) * 1024 * 1024;
    const big = await publishBig(repo, serve.url, work, bigBytes);
    const nginxDir = join(work, "nginx");
    await mkdir(nginxDir, { recursive: true });
    const nginx = await startNginx(repo.repoDir, nginxDir);
    try {
      note("download throughput: client vs curl (nginx), 3 runs each");
      const dl = await downloadThroughput(big, nginx.url, work, 3);
      sections.push({
        title: `Download ${(big.bytes / 1e6).toFixed(0)} MB`,
        figureHeader: "updraft client",
        referenceHeader: "curl",
        rows: [
          {
            label: "from nginx (median of 3)",
            figure: mbps(dl.client),
            reference: mbps(dl.curl),
            ratio: dl.client / dl.curl,
            goal: "≥ 0.9",
            met: dl.client / dl.curl >= 0.9,
          },
          {
            label: "client peak RSS",
            figure: `${(dl.clientRssKB / 1024).toFixed(0)} MB`,
            reference: "256 MB (goal)",
            ratio: dl.clientRssKB / 1024 / 256,
            goal: "≤ 1",
            met: dl.clientRssKB / 1024 <= 256,
          },
        ],
      });
      note("wrk: updraft serve (2 workers, as nginx) vs nginx, metadata and large file");
      const servers = await startUpdraftServe(repo.repoDir, ["--workers", "2"]);
      try {
        sections.push(await serverSpeedSection(servers.url, nginx.url, big));
      } finally {
        await servers.stop();
      }
    } finally {
      await nginx.stop();
    }
  } finally {
    await serve.stop();
  }
  const lines = [
    "Corpus (npm packages as stand-in apps):",
    ...measures.map((m) => `  ${m.id.padEnd(11)} ${m.label} — ${m.covers}`),
    "",
    renderTable(sections),
    "Notes:",
    "  updraft download = bytes of the artifact the client chose and fetched (signed metadata is under 'Check').",
    "  Reference tools run on the uncompressed tar of each release (the full archive decompressed).",
    ...referenceNotes(measures).map((n) => `  ${n}`),
    `  ${loadNote()}`,
    `  Total bench time: ${((performance.now() - started) / 60000).toFixed(1)} min.`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  await rm(work, { recursive: true, force: true });
}

runMain(main);

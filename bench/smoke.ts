/**
 * `npm run bench:smoke`: the benchmark's whole path on a generated pair of a few hundred
 * kilobytes, so `.ci/run` notices when it breaks. Installs nothing, downloads nothing, uses the
 * reference tools only if they are already there, and fails only if the update itself goes wrong
 * (never on timing).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRepo } from "./lib/app.js";
import { hasCommand, runMain } from "./lib/exec.js";
import { measurePair } from "./lib/pair.js";
import { measureTinyFiles } from "./lib/publish-speed.js";
import { loadNote, mbps, pairSections, publishSection, referenceNotes } from "./lib/report.js";
import { startUpdraftServe } from "./lib/servers.js";
import { writeSyntheticApp } from "./lib/synthetic.js";
import { renderTable } from "./lib/table.js";
import { downloadThroughput, publishBig } from "./lib/throughput.js";

async function main(): Promise<void> {
  const started = performance.now();
  const work = await mkdtemp(join(tmpdir(), "updraft-bench-smoke-"));
  try {
    const repo = await createRepo(work);
    const serve = await startUpdraftServe(repo.repoDir);
    try {
      const fromDir = await writeSyntheticApp(join(work, "v1"), "1.0.0");
      const toDir = await writeSyntheticApp(join(work, "v2"), "1.0.1");
      const measure = await measurePair(repo, serve.url, work, {
        id: "synthetic",
        label: "generated app 1.0.0 → 1.0.1",
        covers: "smoke test",
        fromVersion: "1.0.0",
        toVersion: "1.0.1",
        fromDir,
        toDir,
        references: await hasCommand("zstd"),
        cpRuns: 1,
      });
      const problems: string[] = [];
      if (!measure.update.kind?.startsWith("delta-")) problems.push(`the client chose ${measure.update.kind}`);
      if (measure.update.fallbacks.length > 0) problems.push(`fallbacks: ${JSON.stringify(measure.update.fallbacks)}`);
      if ((measure.update.fetched ?? 0) >= measure.full.size)
        problems.push("the delta is not smaller than the archive");
      if (measure.current.updateAvailable) problems.push("a check after the update still offers one");
      const tiny = (await hasCommand("zstd")) ? await measureTinyFiles(repo, serve.url, work, 1000) : undefined;
      const sections = [...pairSections([measure]), publishSection([measure], tiny)];
      if (await hasCommand("curl")) {
        const big = await publishBig(repo, serve.url, work, 4 * 1024 * 1024);
        const dl = await downloadThroughput(big, serve.url, work, 1);
        sections.push({
          title: "Download 4 MB",
          figureHeader: "updraft client",
          referenceHeader: "curl",
          rows: [
            {
              label: "from updraft serve",
              figure: mbps(dl.client),
              reference: mbps(dl.curl),
              ratio: dl.client / dl.curl,
            },
          ],
        });
      }
      process.stdout.write(
        `${renderTable(sections)}\nNotes:\n  ${[...referenceNotes([measure]), loadNote()].join("\n  ")}\n  Smoke bench time: ${((performance.now() - started) / 1000).toFixed(1)} s.\n`,
      );
      if (problems.length > 0) throw new Error(`bench smoke failed: ${problems.join("; ")}`);
    } finally {
      await serve.stop();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

runMain(main);

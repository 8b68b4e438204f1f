/**
 * `updraft serve --access-log` and `updraft stats`: real clients install and update through a
 * real server writing its access log, and the statistics count exactly what they did. nginx's
 * combined format gives the same figures.
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { installFromRepository } from "../src/client/first-install.js";
import { Updater } from "../src/client/updater.js";
import { openAccessLog } from "../src/server/index.js";
import { parseJson, runCli } from "./helpers/cli.js";
import { createTestRepo, publish } from "./helpers/repo.js";
import { startServer } from "./helpers/server.js";
import { tempDir } from "./helpers/tmp.js";
import { pseudoText } from "./helpers/trees.js";
import { availableUpdate } from "./helpers/updates.js";

const INSTALLS = 25;

function files(version: string): Record<string, string> {
  return {
    "app.sh": `#!/bin/sh\necho ${version}\n`,
    "lib/big.js": pseudoText(6000, 1).replace("// 100\n", `// changed in ${version}\n`),
  };
}

test("stats counts exactly the 50 updates across 3 versions that real clients made through the logged server", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  const logFile = join(work, "access.log");
  const log = await openAccessLog(logFile);
  const { url } = await startServer(t, repo.repoDir, { accessLog: { write: log.write } });
  await publish(repo, work, "1.0.0", files("1.0.0"), url);
  const installs = Array.from({ length: INSTALLS }, (_, i) => join(work, `install-${i}`));
  for (const installDir of installs) {
    await installFromRepository({ repoUrl: url, app: repo.app, installDir, rootSha256: repo.rootSha256 });
  }
  let checks = 0;
  const updateAll = async (): Promise<void> => {
    for (const installDir of installs) {
      const updater = new Updater({ installDir });
      const update = await availableUpdate(updater);
      checks++;
      assert.ok(update.artifactKind.startsWith("delta-"), update.artifactKind);
      await updater.install(await updater.download(update));
    }
  };
  await publish(repo, work, "1.1.0", files("1.1.0"), undefined, 1);
  await updateAll();
  await publish(repo, work, "1.2.0", files("1.2.0"), undefined, 1);
  await updateAll();
  // One new user installs 1.2.0: its full size tells what the deltas to 1.2.0 saved.
  const newcomer = join(work, "newcomer");
  await installFromRepository({ repoUrl: url, app: repo.app, installDir: newcomer, rootSha256: repo.rootSha256 });
  await log.close();

  const lines = (await readFile(logFile, "utf8")).trim().split("\n");
  assert.ok(
    lines.every((line) => !/"ip"|127\.0\.0\.1/.test(line)),
    "no address without --log-ip",
  );
  const result = await runCli(["stats", logFile, "--json"]);
  assert.equal(result.code, 0, result.stderr);
  const { days } = parseJson(result) as { days: Record<string, unknown>[] };
  assert.equal(days.length, 1);
  const day = days[0]!;
  assert.equal(day.app, repo.app);
  assert.equal(day.deltaDownloads, 2 * INSTALLS);
  assert.equal(day.fullDownloads, INSTALLS + 1);
  assert.equal(day.downloads, 3 * INSTALLS + 1);
  assert.deepEqual(day.byVersion, {
    "1.0.0→1.1.0": INSTALLS,
    "1.1.0→1.2.0": INSTALLS,
    "?→1.0.0": INSTALLS,
    "?→1.2.0": 1,
  });
  assert.equal(day.checks, INSTALLS + 1 + checks, "one check per install and per update");
  assert.ok((day.bytesServed as number) > 0);
  assert.ok((day.bytesSavedByDeltas as number) > 0, "1.2.0 was downloaded whole: the deltas to it saved bytes");
  t.diagnostic(`${lines.length} log lines, ${day.checks} checks`);
});

test("stats reads nginx's combined format and --since keeps later days only", async (t) => {
  const dir = await tempDir(t);
  const hash = "ab".repeat(32);
  const line = (time: string, path: string, status: number, bytes: number): string =>
    `203.0.113.9 - - [${time}] "GET ${path} HTTP/1.1" ${status} ${bytes} "-" "updraft/1.0"`;
  const logFile = join(dir, "access.log");
  await writeFile(
    logFile,
    [
      line("30/Nov/2026:23:30:00 -0200", "/demo/metadata/timestamp.json?x=1", 200, 700),
      line("01/Dec/2026:10:00:00 +0000", "/demo/metadata/timestamp.json", 304, 0),
      line("01/Dec/2026:10:00:01 +0000", `/demo/targets/releases/1.1.0/${hash}.demo-1.1.0.tar.zst`, 200, 10_000),
      line(
        "01/Dec/2026:10:00:02 +0000",
        `/demo/targets/releases/1.1.0/deltas/${hash}.1.0.0.delta-files.udelta`,
        200,
        1_000,
      ),
      line("01/Dec/2026:10:00:03 +0000", "/updraft-keys/root.key", 404, 0),
      "garbage",
    ].join("\n"),
  );
  const all = parseJson(await runCli(["stats", logFile, "--json"])) as {
    days: Record<string, unknown>[];
    skippedLines: number;
  };
  // 23:30 at -02:00 is 01:30 UTC on 1 December: every request falls on one UTC day.
  assert.equal(all.days.length, 1);
  const day = all.days[0]!;
  assert.equal(day.day, "2026-12-01");
  assert.equal(day.checks, 2);
  assert.deepEqual(day.byVersion, { "1.0.0→1.1.0": 1, "?→1.1.0": 1 });
  assert.equal(day.deltaShare, 0.5);
  assert.equal(day.bytesSavedByDeltas, 9_000);
  assert.equal(day.bytesServed, 11_700);
  assert.equal(all.skippedLines, 2);
  const later = parseJson(await runCli(["stats", logFile, "--json", "--since", "2026-12-02"])) as { days: unknown[] };
  assert.deepEqual(later.days, []);
  const human = await runCli(["stats", logFile]);
  assert.match(human.stdout, /2026-12-01 demo: 2 checks, 2 downloads \(1 delta, 1 full, 50% delta\)/);
});

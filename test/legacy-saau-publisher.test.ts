/**
 * A SAAU repository written by Updraft's publisher (`updraft publish --format saau`): the label and
 * flat zip an old SAAU client reads, next to signed metadata. An app installed by an old SAAU
 * client updates from 10.0.1.0 to 10.0.2.0 through the signed path and restarts; a mirror holding
 * only the label and zip still updates (unsigned); a build with two files of one name is refused.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFile, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import yauzl from "yauzl";
import { parseVersao } from "../src/formats/versao.js";
import { parseJson, runCli } from "./helpers/cli.js";
import { serveStatic } from "./helpers/publish-fixtures.js";
import { createTestRepo } from "./helpers/repo.js";
import { actualSet, appEnv, type SaauFile, targetOf, tsprintFiles } from "./helpers/saau.js";
import { tempDir } from "./helpers/tmp.js";
import { waitFor } from "./helpers/wait.js";

async function writeBuildOf(dir: string, files: SaauFile[]): Promise<string> {
  for (const f of files) {
    const full = join(dir, ...targetOf(f).split("/"));
    await mkdir(join(full, ".."), { recursive: true });
    await writeFile(full, f.content);
  }
  return dir;
}

async function zipNames(path: string): Promise<string[]> {
  const zip = await yauzl.openPromise(path, { lazyEntries: true });
  const names: string[] = [];
  for await (const e of zip.eachEntry()) names.push(e.fileName);
  zip.close();
  return names;
}

test("publisher-written SAAU repository: old client's install updates to 10.0.2.0 via signatures and restarts", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work, "tsprint");
  const publish = async (version: string, extra: string[] = []) => {
    const build = await writeBuildOf(join(work, `build-${version}`), tsprintFiles(version));
    const r = await runCli([
      "publish",
      build,
      "--format",
      "saau",
      "--repo",
      repo.repoDir,
      "--app",
      "TSPrint",
      "--version",
      version,
      "--keys",
      repo.keysDir,
      "--level",
      "3",
      ...extra,
      "--json",
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return parseJson(r);
  };
  const usleep = join(work, "usleep.exe");
  await writeFile(usleep, "MZ usleep");
  await publish("10.0.1.0");

  // The folder an old SAAU client left after installing 10.0.1.0: the listed files and the label copy.
  const appDir = join(work, "TSPrint");
  await writeBuildOf(appDir, tsprintFiles("10.0.1.0"));
  await copyFile(join(repo.repoDir, "tsprint", "versao.txt"), join(appDir, "versao.txt"));

  const published = await publish("10.0.2.0", ["--zip-extra", usleep]);
  const saau = published.saau as { label: string; zip: string };
  const label = parseVersao(await readFile(saau.label));
  assert.equal(label.version, "10.0.2.0");
  assert.equal(label.zipName, "tsprint_v10.0.2.0.zip");
  assert.deepEqual(
    label.files.map((f) => `${f.name}|${f.path}`),
    ["TSFingerCap_NIT.exe|.\\", "TSImgCap.exe|.\\", "TSPrint.exe|.\\", "report.dll|.\\lib\\"],
  );
  assert.deepEqual((await zipNames(saau.zip)).sort(), [
    "TSFingerCap_NIT.exe",
    "TSImgCap.exe",
    "TSPrint.exe",
    "report.dll",
    "usleep.exe",
    "versao.txt",
  ]);

  const server = await serveStatic(repo.repoDir);
  t.after(() => server.close());
  const report = join(work, "report");
  const app = spawn("sh", [join(appDir, "TSPrint.exe")], { env: appEnv(appDir, report, server.url), stdio: "ignore" });
  const exit = await new Promise((r) => app.on("exit", r));
  assert.equal(exit, 0, await readFile(`${report}.update-10.0.1.0.json`, "utf8").catch(() => "(no output)"));
  const first = JSON.parse(await readFile(`${report}.update-10.0.1.0.json`, "utf8"));
  assert.equal(first.updated, true, JSON.stringify(first));
  assert.equal(first.signed, true, "the signed metadata was used");
  await waitFor("the restarted app", async () => {
    const lines = (await readFile(report, "utf8")).split("\n").filter(Boolean);
    return lines.length >= 2 ? lines : undefined;
  });
  assert.deepEqual((await readFile(report, "utf8")).split("\n").filter(Boolean), ["10.0.1.0", "10.0.2.0"]);
  const second = await waitFor("the new version's check", async () => {
    const text = await readFile(`${report}.update-10.0.2.0.json`, "utf8").catch(() => "");
    return text.trim() ? JSON.parse(text) : undefined;
  });
  assert.equal(second.updated, false, JSON.stringify(second));
  assert.equal(second.currentVersion, "10.0.2.0");

  const expected = new Map<string, string>();
  for (const f of tsprintFiles("10.0.2.0")) expected.set(targetOf(f), Buffer.from(f.content).toString("base64"));
  expected.set("versao.txt", (await readFile(saau.label)).toString("base64"));
  assert.deepEqual(await actualSet(appDir, expected.keys()), expected);
  await stat(join(appDir, "updraft-root.json")); // signed releases carry the root: trust is pinned from now on
  await assert.rejects(stat(join(appDir, "usleep.exe")));

  const status = parseJson(await runCli(["status", "--dir", appDir, "--json"]));
  assert.equal(status.signed, true);
  assert.match(String(status.verification), /^signed/);
});

test("a mirror with only the publisher's versao.txt and zip still updates, without signatures", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work, "tsprint");
  const build = await writeBuildOf(join(work, "build"), tsprintFiles("10.0.2.0"));
  const r = await runCli([
    "publish",
    build,
    "--format",
    "saau",
    "--repo",
    repo.repoDir,
    "--app",
    "tsprint",
    "--version",
    "10.0.2.0",
    "--keys",
    repo.keysDir,
    "--level",
    "3",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const mirror = join(work, "mirror", "tsprint");
  await mkdir(mirror, { recursive: true });
  for (const f of ["versao.txt", "tsprint_v10.0.2.0.zip"])
    await copyFile(join(repo.repoDir, "tsprint", f), join(mirror, f));
  const server = await serveStatic(join(work, "mirror"));
  t.after(() => server.close());
  const appDir = join(work, "app");
  await writeBuildOf(appDir, tsprintFiles("10.0.1.0"));
  const u = await runCli([
    "update",
    "--dir",
    appDir,
    "--saau",
    server.url,
    "--app",
    "TSPrint",
    "--current-version",
    "10.0.1.0",
    "--json",
  ]);
  assert.equal(u.code, 0, u.stdout + u.stderr);
  const res = parseJson(u);
  assert.equal(res.updated, true);
  assert.equal(res.signed, false);
  assert.equal(await readFile(join(appDir, "lib", "report.dll"), "utf8"), "report.dll of 10.0.2.0\n");
});

test("publish --format saau refuses two files of one name in different folders", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work, "tsprint");
  const build = join(work, "build");
  await mkdir(join(build, "a"), { recursive: true });
  await mkdir(join(build, "b"), { recursive: true });
  await writeFile(join(build, "a", "util.dll"), "a");
  await writeFile(join(build, "b", "util.dll"), "b");
  const r = await runCli([
    "publish",
    build,
    "--format",
    "saau",
    "--repo",
    repo.repoDir,
    "--app",
    "tsprint",
    "--version",
    "1.0.0.0",
    "--keys",
    repo.keysDir,
    "--json",
  ]);
  assert.equal(r.code, 3);
  const err = parseJson(r).error as { code: string; message: string };
  assert.equal(err.code, "BUILD_INVALID");
  assert.match(
    err.message,
    /"a\/util\.dll" and "b\/util\.dll" have the same name; a SAAU zip holds every file at its root/,
  );
});

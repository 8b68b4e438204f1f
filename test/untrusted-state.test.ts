/**
 * Files on disk are untrusted input, and nothing is written before the input is validated: a
 * planted `state.json` or journal can never make Updraft touch a path outside the install folder,
 * a state file that is a folder or is huge is a clear error, entry points on a missing or wrong
 * `--dir` fail before creating anything, bad library options are refused before any work, and
 * what an install creates is never writable by other users, whatever the umask.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { lstat, mkdir, readdir, readFile, readlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { Updater } from "../src/client/updater.js";
import { parseJson, runCli } from "./helpers/cli.js";
import { installedApp } from "./helpers/installed.js";
import { publish } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";

const files = (version: string) => ({ "app.sh": `#!/bin/sh\necho ${version}\n`, VERSION: version });

async function plantedVictim(work: string): Promise<string> {
  const victim = join(work, "victim");
  await mkdir(victim);
  await writeFile(join(victim, "precious.txt"), "keep me");
  return victim;
}

test("a planted state.json naming ../ paths never makes Updraft touch a folder outside the install", async (t) => {
  const { work, appDir } = await installedApp(t, files("1.0.0"));
  const victim = await plantedVictim(work);
  const outside = "../../../victim"; // app-../../../victim resolves to the victim folder
  const expired = { since: "2000-01-01T00:00:00.000Z", deadline: "2000-01-01T00:01:00.000Z" };
  await writeFile(
    join(appDir, ".updraft", "state.json"),
    JSON.stringify({
      schema: 1,
      mode: "versioned",
      current: outside,
      previous: "1.0.0",
      probation: {
        version: outside,
        previous: "1.0.0",
        ...expired,
        launchedAt: expired.since,
        launches: 9,
        maxLaunches: 3,
      },
      attempts: { [outside]: { at: expired.since, outcome: "failed" } },
    }),
  );
  for (const args of [["status"], ["recover", "--launch"], ["rollback"], ["confirm"], ["check"]]) {
    const run = await runCli([...args, "--dir", appDir, "--json"]);
    assert.notEqual(run.code, 1, `${args[0]}: not an internal error: ${run.stdout}${run.stderr}`);
    assert.equal(await readFile(join(victim, "precious.txt"), "utf8"), "keep me", `${args[0]} left the victim alone`);
  }
  assert.equal(await readlink(join(appDir, "current")), "app-1.0.0");
  const status = parseJson(await runCli(["status", "--dir", appDir, "--json"]));
  assert.equal(status.currentVersion, "1.0.0");
  assert.deepEqual(status.failed, [], "invented versions are dropped, not reported");
});

test("a planted journal naming ../ paths is moved aside and nothing it names is touched", async (t) => {
  const { work, repo, appDir } = await installedApp(t, files("1.0.0"));
  const victim = await plantedVictim(work);
  const journal = join(appDir, ".updraft", "journal.json");
  await writeFile(journal, JSON.stringify({ schema: 1, mode: "versioned", to: "../../../victim", from: "1.0.0" }));
  const status = await runCli(["status", "--dir", appDir, "--json"]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(await readFile(join(victim, "precious.txt"), "utf8"), "keep me");
  assert.match(await readFile(`${journal}.damaged`, "utf8"), /victim/);
  await assert.rejects(lstat(journal), { code: "ENOENT" });
  // The install goes on: an update works.
  await publish(repo, work, "1.1.0", files("1.1.0"));
  assert.equal((await runCli(["update", "--dir", appDir, "--json"])).code, 0);
  assert.equal(await readlink(join(appDir, "current")), "app-1.1.0");
});

test("a state file that is a folder, or is huge, is a clear error (not INTERNAL), and nothing is changed", async (t) => {
  const { appDir } = await installedApp(t, files("1.0.0"));
  const stateFile = join(appDir, ".updraft", "state.json");
  const before = await readFile(stateFile, "utf8");
  await writeFile(join(appDir, ".updraft", "state.saved"), before);
  for (const [label, plant] of [
    ["a folder", async () => mkdir(stateFile)],
    ["huge", async () => writeFile(stateFile, Buffer.alloc(3 << 20, 0x20))],
  ] as const) {
    await import("node:fs/promises").then((fs) => fs.rm(stateFile, { recursive: true, force: true }));
    await plant();
    const run = await runCli(["status", "--dir", appDir, "--json"]);
    assert.equal(run.code, 6, `${label}: ${run.stdout}${run.stderr}`);
    const error = parseJson(run).error as { code: string; message: string; hint: string };
    assert.equal(error.code, "FILE_ERROR");
    assert.match(error.message, /state/);
    assert.match(error.hint, /move it away/);
  }
});

test("confirm, recover, rollback, status and check on a missing folder or a file fail before creating anything", async (t) => {
  const work = await tempDir(t);
  const missing = join(work, "no-such-install");
  const file = join(work, "a-file");
  await writeFile(file, "not a folder");
  const empty = join(work, "empty");
  await mkdir(empty);
  for (const dir of [missing, file, empty, "/proc/no-such-updraft-install"]) {
    for (const command of ["confirm", "recover", "rollback", "status", "check"]) {
      const run = await runCli([command, "--dir", dir, "--json"]);
      assert.equal(run.code, 3, `${command} --dir ${dir}: ${run.stdout}${run.stderr}`);
      assert.equal((parseJson(run).error as { code: string }).code, "NOT_INSTALLED");
    }
  }
  await assert.rejects(lstat(missing), { code: "ENOENT" });
  assert.equal(await readFile(file, "utf8"), "not a folder");
  assert.deepEqual(await readdir(empty), []);
});

test("bad library options are refused with USAGE before anything is read or written", async (t) => {
  const { appDir } = await installedApp(t, files("1.0.0"));
  const stateBefore = await readFile(join(appDir, ".updraft", "state.json"), "utf8");
  for (const bad of [
    { healthTimeoutMs: -1 },
    { healthTimeoutMs: Number.NaN },
    { healthTimeoutMs: 1e308 },
    { healthTimeoutMs: 1.5 },
    { maxLaunches: 0 },
    { backoffMs: Number.POSITIVE_INFINITY },
  ]) {
    assert.throws(() => new Updater({ installDir: appDir, ...bad }), { code: "USAGE" }, JSON.stringify(bad));
  }
  assert.equal(await readFile(join(appDir, ".updraft", "state.json"), "utf8"), stateBefore);
});

test("with umask 000, nothing an install and an update create is writable by other users", async (t) => {
  const { work, repo, url } = await installedApp(t, files("1.0.0"));
  const appDir = join(work, "open-umask");
  const underOpenUmask = async (body: string) => {
    const modules = {
      firstInstall: new URL("../src/client/first-install.js", import.meta.url).href,
      updater: new URL("../src/client/updater.js", import.meta.url).href,
    };
    const script = `process.umask(0);
      const { installFromRepository } = await import(${JSON.stringify(modules.firstInstall)});
      const { Updater } = await import(${JSON.stringify(modules.updater)});
      ${body}`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "inherit", "inherit"],
    });
    const [code] = await once(child, "exit");
    assert.equal(code, 0);
  };
  await underOpenUmask(`await installFromRepository({ repoUrl: ${JSON.stringify(url)}, app: ${JSON.stringify(repo.app)},
    installDir: ${JSON.stringify(appDir)}, rootSha256: ${JSON.stringify(repo.rootSha256)} });`);
  await publish(repo, work, "1.1.0", { ...files("1.1.0"), "lib/extra/data.txt": "new folder" });
  await underOpenUmask(`const u = new Updater({ installDir: ${JSON.stringify(appDir)} });
    const c = await u.check(); await u.install(await u.download(c.update)); await u.confirm();`);
  assert.equal(await readlink(join(appDir, "current")), "app-1.1.0");
  const open: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isSymbolicLink()) continue;
      if (((await lstat(full)).mode & 0o002) !== 0) open.push(full);
      if (entry.isDirectory()) await walk(full);
    }
  };
  if (((await lstat(appDir)).mode & 0o002) !== 0) open.push(appDir);
  await walk(appDir);
  assert.deepEqual(open, [], "world-writable paths");
});

/**
 * What may ban a version, with real processes: an update stopped by the user (SIGINT, SIGTERM)
 * or killed (SIGKILL) at any point, and a download whose bytes do not match (the mirror or the
 * network, not the release), ban nothing: the next update installs the same version. (A broken
 * release is banned: see legacy-saau-failures.test.ts and health-rollback.test.ts.)
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readlink, rm } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { installFromRepository } from "../src/client/first-install.js";
import { FaultSteps } from "../src/core/fault.js";
import { CLI, parseJson, runCli } from "./helpers/cli.js";
import { startFaultServer } from "./helpers/fault-server.js";
import { killAt, pauseAt } from "./helpers/fault-steps.js";
import { installedApp } from "./helpers/installed.js";
import { createTestRepo, manifestDigest, publish, signedManifest, type TestRepo, treeDigest } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";
import { waitForFile } from "./helpers/wait.js";

/** 1.1.0 is still offered (not skipped) and nothing is listed as failed. */
async function assertNothingBanned(appDir: string, label: string): Promise<void> {
  const check = await runCli(["check", "--dir", appDir, "--json"]);
  assert.equal(check.code, 10, `${label}: ${check.stdout}${check.stderr}`);
  const c = parseJson(check);
  assert.equal(c.latestVersion, "1.1.0");
  assert.equal(c.skipped, undefined, label);
  const status = parseJson(await runCli(["status", "--dir", appDir, "--json"]));
  assert.equal(status.currentVersion, "1.0.0", label);
  assert.deepEqual(status.failed, [], label);
}

async function assertUpdatesTo110(appDir: string, repo: TestRepo): Promise<void> {
  const update = await runCli(["update", "--dir", appDir, "--json"]);
  assert.equal(update.code, 0, update.stdout + update.stderr);
  assert.equal(parseJson(update).version, "1.1.0");
  assert.equal(await readlink(join(appDir, "current")), "app-1.1.0");
  assert.deepEqual(await treeDigest(join(appDir, "current/")), manifestDigest(await signedManifest(repo, "1.1.0")));
}

test("an update stopped by SIGINT, SIGTERM or SIGKILL while installing bans nothing: the next update installs the same version", async (t) => {
  const { work, repo, appDir } = await installedApp(t, { "app.txt": "1.0.0\n" });
  await publish(repo, work, "1.1.0", { "app.txt": "1.1.0\n", "more.txt": "new\n" });
  const pauseFile = join(work, "paused");
  const paused = pauseAt(FaultSteps.VERSIONED_STAGED, pauseFile);
  const stops: [string, Record<string, string>, NodeJS.Signals][] = [
    ["SIGINT once staged", paused, "SIGINT"],
    ["SIGTERM once staged", paused, "SIGTERM"],
    ["SIGKILL once the journal is written", killAt(FaultSteps.VERSIONED_JOURNAL_WRITTEN), "SIGKILL"],
    ["SIGKILL once the folder is in place", killAt(FaultSteps.VERSIONED_FOLDER_IN_PLACE), "SIGKILL"],
  ];
  for (const [label, env, signal] of stops) {
    const child = spawn(process.execPath, [CLI, "update", "--dir", appDir, "--json"], {
      env: { ...process.env, ...env },
      stdio: "ignore",
    });
    t.after(() => child.kill("SIGKILL"));
    const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    if (signal !== "SIGKILL") {
      await waitForFile(pauseFile, `${label}: the update to pause`);
      child.kill(signal);
    }
    const [code, got] = await exited;
    // SIGKILL ends the process; the CLI answers SIGINT and SIGTERM by cancelling (exit 4, ABORTED).
    if (signal === "SIGKILL") assert.equal(got, signal, `${label}: killed`);
    else assert.equal(code, 4, `${label}: cancelled by ${signal}`);
    await rm(pauseFile, { force: true });
    await assertNothingBanned(appDir, label);
  }
  await assertUpdatesTo110(appDir, repo);
});

test("a download whose bytes do not match (a mirror flipping a byte) bans nothing; once the mirror is fixed the update installs", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  await publish(repo, work, "1.0.0", { "app.txt": "1.0.0\n" });
  const server = await startFaultServer(t, repo.repoDir);
  const appDir = join(work, "install");
  await installFromRepository({ repoUrl: server.url, app: repo.app, installDir: appDir, rootSha256: repo.rootSha256 });
  await publish(repo, work, "1.1.0", { "app.txt": "1.1.0\n", "more.txt": "new\n" });
  server.addFault({ match: /1\.1\.0\/any\/[0-9a-f]{64}\.full\.tar\.zst$/, fault: { kind: "flip", atByte: 10 } });

  const bad = await runCli(["update", "--dir", appDir, "--json"]);
  assert.equal(bad.code, 5, bad.stdout + bad.stderr);
  assert.equal((parseJson(bad).error as { code: string }).code, "TARGET_MISMATCH");
  await assertNothingBanned(appDir, "after a mismatching download");

  server.clearFaults();
  await assertUpdatesTo110(appDir, repo);
});

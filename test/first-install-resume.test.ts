/**
 * An interrupted first install is finished by the same command. A real `updraft install` is
 * stopped by Ctrl-C (SIGINT), SIGTERM or SIGKILL during the download and at every step of the
 * install; until it is run again, `update` and `check` say the first install did not finish
 * (NOT_INSTALLED, naming the command) instead of "Up to date"; the same command then resumes the
 * download where it stopped and leaves exactly the release, with no version banned.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readdir, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { FaultSteps } from "../src/core/fault.js";
import { fullArchiveTarget } from "../src/formats/native.js";
import { CLI, parseJson, runCli } from "./helpers/cli.js";
import { type FaultServer, startFaultServer } from "./helpers/fault-server.js";
import { killAt, pauseAt, VERSIONED_STEPS } from "./helpers/fault-steps.js";
import {
  createTestRepo,
  manifestDigest,
  publish,
  signedManifest,
  type TestRepo,
  targetFilePath,
  treeDigest,
} from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";
import { pseudoRandom } from "./helpers/trees.js";
import { waitFor, waitForFile } from "./helpers/wait.js";

const ARCHIVE = /1\.0\.0\/any\/[0-9a-f]{64}\.full\.tar\.zst$/;

interface Setup {
  work: string;
  repo: TestRepo;
  server: FaultServer;
  archiveSize: number;
}

async function setup(t: TestContext): Promise<Setup> {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  // Incompressible, so the archive is big enough to stop in the middle of.
  await publish(repo, work, "1.0.0", { "app.sh": "#!/bin/sh\necho 1.0.0\n", "data.bin": pseudoRandom(4 << 20, 9) });
  const server = await startFaultServer(t, repo.repoDir);
  const archive = (await signedManifest(repo, "1.0.0")).artifacts.find((a) => a.kind === "full")!;
  return { work, repo, server, archiveSize: archive.size };
}

const installArgs = (s: Setup, appDir: string) => [
  "install",
  s.server.url,
  "--app",
  s.repo.app,
  "--dir",
  appDir,
  "--root-sha256",
  s.repo.rootSha256,
  "--json",
];

function startInstall(t: TestContext, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: "ignore" });
  t.after(() => child.kill("SIGKILL"));
  return child;
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  child.kill(signal);
  const [code, got] = await exited;
  // SIGKILL ends the process; the CLI answers SIGINT and SIGTERM by cancelling (exit 4, ABORTED).
  if (signal === "SIGKILL") assert.equal(got, signal, "the install was killed");
  else assert.equal(code, 4, `the install was cancelled by ${signal}`);
}

async function partialBytes(appDir: string): Promise<number> {
  const dir = join(appDir, ".updraft", "downloads");
  let total = 0;
  for (const name of await readdir(dir).catch(() => [])) {
    if (name.endsWith(".part")) total += (await stat(join(dir, name))).size;
  }
  return total;
}

/** `update` and `check` on the half-installed folder: NOT_INSTALLED, naming the command to run. */
async function assertSaysUnfinished(appDir: string): Promise<void> {
  for (const command of ["update", "check"]) {
    const r = await runCli([command, "--dir", appDir, "--json"]);
    assert.equal(r.code, 3, `${command}: ${r.stdout}${r.stderr}`);
    const error = parseJson(r).error as { code: string; message: string; hint: string };
    assert.equal(error.code, "NOT_INSTALLED");
    assert.match(error.message, /first install of hello .* did not finish/);
    assert.match(
      error.hint,
      /Run the same install command again.*updraft install http:\/\/127\.0\.0\.1:\d+ --app hello --dir /,
    );
  }
}

/** Exactly 1.0.0 installed, nothing of the interrupted attempt left, nothing banned. */
async function assertInstalledExactly(s: Setup, appDir: string): Promise<void> {
  assert.deepEqual((await readdir(appDir)).sort(), [".updraft", "app-1.0.0", "current"]);
  assert.equal(await readlink(join(appDir, "current")), "app-1.0.0");
  assert.deepEqual(await treeDigest(join(appDir, "current/")), manifestDigest(await signedManifest(s.repo, "1.0.0")));
  const own = await readdir(join(appDir, ".updraft"));
  for (const leftover of ["first-install.json", "lock", "lock.break", "journal.json"]) {
    assert.ok(!own.includes(leftover), `${leftover} is gone (${own.join(", ")})`);
  }
  assert.deepEqual(await readdir(join(appDir, ".updraft", "staging")).catch(() => []), []);
  const status = parseJson(await runCli(["status", "--dir", appDir, "--json"]));
  assert.equal(status.currentVersion, "1.0.0");
  assert.deepEqual(status.failed, []);
  const check = await runCli(["check", "--dir", appDir, "--json"]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.equal(parseJson(check).currentVersion, "1.0.0");
}

for (const signal of ["SIGINT", "SIGKILL"] as const) {
  test(`${signal} during the download of a first install: the same command resumes the download and finishes`, async (t) => {
    const s = await setup(t);
    const appDir = join(s.work, "install");
    const half = Math.floor(s.archiveSize / 2);
    s.server.addFault({ match: ARCHIVE, fault: { kind: "stall", afterBytes: half }, times: 1 });
    const child = startInstall(t, installArgs(s, appDir));
    await waitFor("half of the archive on disk", async () => ((await partialBytes(appDir)) >= half ? true : undefined));
    await stop(child, signal);
    await assertSaysUnfinished(appDir);

    const again = await runCli(installArgs(s, appDir));
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal(parseJson(again).version, "1.0.0");
    const archive = s.server.requests(ARCHIVE);
    assert.equal(archive.length, 2, "one request cut, one resumed");
    assert.equal(archive[1]!.range, `bytes=${half}-`);
    assert.equal(archive[1]!.status, 206);
    assert.equal(
      archive.reduce((n, r) => n + r.bytesSent, 0),
      s.archiveSize,
      "the archive was sent once in total",
    );
    await assertInstalledExactly(s, appDir);
  });
}

test("a download killed right after its first bytes reached the disk is resumed, not restarted", async (t) => {
  const s = await setup(t);
  const appDir = join(s.work, "install");
  // The first response stops at half, so the first bytes written are never the whole file.
  const half = Math.floor(s.archiveSize / 2);
  s.server.addFault({ match: ARCHIVE, fault: { kind: "stall", afterBytes: half }, times: 1 });
  const killed = await runCli(installArgs(s, appDir), { env: killAt(FaultSteps.DOWNLOAD_FIRST_BYTES) });
  assert.equal(killed.signal, "SIGKILL", `killed at the step: ${killed.stdout}${killed.stderr}`);
  const onDisk = await partialBytes(appDir);
  assert.ok(onDisk > 0, "bytes reached the .part file");
  const again = await runCli(installArgs(s, appDir));
  assert.equal(again.code, 0, again.stdout + again.stderr);
  const archive = s.server.requests(ARCHIVE);
  assert.equal(archive.length, 2);
  assert.equal(archive[1]!.range, `bytes=${onDisk}-`, "the resume record was on disk before the bytes");
  await assertInstalledExactly(s, appDir);
});

test("a download killed after its last byte but before its rename is verified and used, not fetched again", async (t) => {
  const s = await setup(t);
  const appDir = join(s.work, "install");
  const half = Math.floor(s.archiveSize / 2);
  s.server.addFault({ match: ARCHIVE, fault: { kind: "stall", afterBytes: half }, times: 1 });
  const killed = await runCli(installArgs(s, appDir), { env: killAt(FaultSteps.DOWNLOAD_FIRST_BYTES) });
  assert.equal(killed.signal, "SIGKILL");
  // Complete the .part with the archive's real bytes, as if the kill had come after the last write.
  const downloads = join(appDir, ".updraft", "downloads");
  const part = join(downloads, (await readdir(downloads)).find((n) => n.endsWith(".part"))!);
  const archive = await readFile(await targetFilePath(s.repo, fullArchiveTarget(s.repo.app, "1.0.0", "any")));
  await writeFile(part, archive);
  const again = await runCli(installArgs(s, appDir));
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal(s.server.requests(ARCHIVE).length, 1, "the whole .part was used: the archive was not requested again");
  await assertInstalledExactly(s, appDir);
});

test("a first install killed (SIGKILL) at every install step, or stopped by SIGINT or SIGTERM once staged: the same command finishes it", async (t) => {
  const s = await setup(t);
  const outcomes: string[] = [];
  const stops: [string, Record<string, string>, NodeJS.Signals][] = VERSIONED_STEPS.map((step) => [
    step,
    killAt(step),
    "SIGKILL",
  ]);
  const pauseFile = join(s.work, "paused");
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    stops.push([`${signal} when staged`, pauseAt(FaultSteps.VERSIONED_STAGED, pauseFile), signal]);
  }
  for (const [i, [label, env, signal]] of stops.entries()) {
    const appDir = join(s.work, `install-${i}`);
    const child = startInstall(t, installArgs(s, appDir), env);
    if (signal === "SIGKILL") {
      const [code, got] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
      assert.equal(got, "SIGKILL", `${label}: the install killed itself there (exit ${code})`);
    } else {
      await waitForFile(pauseFile, `${label}: the install to pause`);
      await stop(child, signal);
      await rm(pauseFile);
    }
    const pointer = await readlink(join(appDir, "current")).catch(() => "none");
    await assertSaysUnfinished(appDir);
    const again = await runCli(installArgs(s, appDir));
    assert.equal(again.code, 0, `${label}: ${again.stdout}${again.stderr}`);
    assert.equal(parseJson(again).version, "1.0.0");
    await assertInstalledExactly(s, appDir);
    outcomes.push(`${label}: current was ${pointer}, finished by the same command`);
  }
  t.diagnostic(outcomes.join("\n"));
});

test("a folder with another app's unfinished install, or a finished install: `install` refuses and says what to do", async (t) => {
  const s = await setup(t);
  const appDir = join(s.work, "install");
  const child = startInstall(t, installArgs(s, appDir), killAt(FaultSteps.VERSIONED_STAGED));
  await once(child, "exit");
  const other = await runCli(["install", s.server.url, "--app", "other", "--dir", appDir, "--json"]);
  assert.equal(other.code, 2, other.stdout + other.stderr);
  const error = parseJson(other).error as { code: string; message: string; hint: string };
  assert.equal(error.code, "USAGE");
  assert.match(error.message, /holds the unfinished install of hello from http:\/\/127\.0\.0\.1/);
  assert.match(error.hint, /updraft install .* --app hello --dir/);

  assert.equal((await runCli(installArgs(s, appDir))).code, 0);
  const twice = await runCli(installArgs(s, appDir));
  assert.equal(twice.code, 2);
  assert.match((parseJson(twice).error as { message: string }).message, /already holds an install/);
  await assertInstalledExactly(s, appDir);
});

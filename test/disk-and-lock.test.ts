/**
 * A real full disk (a small tmpfs mounted by the test) and two updaters at once on one install:
 * in two processes and in one, through the CLI and the library; the one that waits its turn gets
 * `LOCKED` and nothing is marked failed.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { installFromRepository } from "../src/client/first-install.js";
import { Updater } from "../src/client/updater.js";
import { ErrorCodes, UpdraftError } from "../src/core/errors.js";
import { FaultSteps } from "../src/core/fault.js";
import { createRepositoryServer } from "../src/server/static-server.js";
import { CLI, parseJson, runCli } from "./helpers/cli.js";
import { pauseAt } from "./helpers/fault-steps.js";
import { installedApp } from "./helpers/installed.js";
import { createTestRepo, manifestDigest, publish, signedManifest, treeDigest } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";
import { availableUpdate } from "./helpers/updates.js";
import { waitForFile } from "./helpers/wait.js";

const run = promisify(execFile);
const LIBRARY_INSTALL = fileURLToPath(new URL("./helpers/library-install.js", import.meta.url));
const LOCK_CHILD = fileURLToPath(new URL("./helpers/lock-child.js", import.meta.url));

async function repoWithUpdate(
  t: import("node:test").TestContext,
  installDir: (work: string) => Promise<string>,
  big: number,
) {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  const server = createRepositoryServer({ root: repo.repoDir });
  const { url } = await server.listen();
  t.after(() => server.close());
  await publish(repo, work, "1.0.0", { "app.txt": "1.0.0\n" });
  const appDir = await installDir(work);
  await installFromRepository({ repoUrl: url, app: repo.app, installDir: appDir, rootSha256: repo.rootSha256 });
  // Zeros compress to almost nothing, so the download fits but the unpacked release does not.
  await publish(repo, work, "1.1.0", { "app.txt": "1.1.0\n", "big.bin": Buffer.alloc(big) });
  return { work, repo, appDir };
}

async function mountTmpfs(dir: string, size: string): Promise<string | undefined> {
  await mkdir(dir, { recursive: true });
  try {
    await run("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs here (${(err as Error).message.split("\n")[0]})`;
  }
}

async function assertUntouched(appDir: string, repo: Awaited<ReturnType<typeof createTestRepo>>) {
  assert.equal(await readlink(join(appDir, "current")), "app-1.0.0");
  assert.deepEqual(await treeDigest(join(appDir, "current/")), manifestDigest(await signedManifest(repo, "1.0.0")));
  assert.deepEqual((await readdir(appDir)).sort(), [".updraft", "app-1.0.0", "current"]);
  assert.deepEqual(await readdir(join(appDir, ".updraft", "staging")).catch(() => []), [], "staging cleaned");
}

test("a full disk (real ENOSPC on a small tmpfs): refused up front, or cleaned up mid-staging; the installed version is untouched", async (t) => {
  let mountPoint = "";
  const { repo, appDir } = await repoWithUpdate(
    t,
    async (work) => {
      // Outside the test's temporary folder, so it is unmounted before that folder is removed.
      mountPoint = await mkdtemp(join(tmpdir(), "updraft-small-disk-"));
      const why = await mountTmpfs(mountPoint, "6m");
      if (why) {
        await rm(mountPoint, { recursive: true, force: true });
        mountPoint = "";
      } else {
        t.after(async () => {
          await run("umount", [mountPoint]).catch(() => run("umount", ["-l", mountPoint]));
          await rm(mountPoint, { recursive: true, force: true });
        });
      }
      return join(mountPoint || work, "install");
    },
    10 << 20,
  );
  if (!mountPoint) {
    t.skip("SKIPPED: cannot mount a tmpfs on this machine (needs root); the ENOSPC test did not run");
    return;
  }
  const freeBefore = Number((await statfs(mountPoint)).bavail);

  // With the free-space check: refused before anything is staged, saying how much is needed.
  const checked = new Updater({ installDir: appDir });
  await assert.rejects(
    async () => {
      await checked.update();
    },
    (e: unknown) => e instanceof UpdraftError && e.code === ErrorCodes.DISK_FULL && /needed/.test(e.message),
  );
  await assertUntouched(appDir, repo);

  // Without it (file systems that misreport free space): the real ENOSPC while unpacking.
  const unchecked = new Updater({ installDir: appDir, checkDiskSpace: false, backoffMs: 1 });
  await assert.rejects(
    async () => {
      await unchecked.update();
    },
    (e: unknown) =>
      e instanceof UpdraftError && e.code === ErrorCodes.DISK_FULL && /filled up while staging/.test(e.message),
  );
  await assertUntouched(appDir, repo);
  const freeAfter = Number((await statfs(mountPoint)).bavail);
  assert.ok(
    freeAfter >= freeBefore - 16,
    `the space used by staging was given back (${freeBefore} -> ${freeAfter} blocks)`,
  );
  const status = parseJson(await runCli(["status", "--dir", appDir, "--json"]));
  assert.equal(status.currentVersion, "1.0.0");
});

test("two updaters at once: one proceeds, the other reports the lock, nothing is corrupted", async (t) => {
  const { work, repo, appDir } = await repoWithUpdate(t, async (w) => join(w, "install"), 1 << 20);
  const pauseFile = join(work, "paused");
  const first = spawn(process.execPath, [CLI, "update", "--dir", appDir, "--json"], {
    env: { ...process.env, ...pauseAt(FaultSteps.VERSIONED_STAGED, pauseFile) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let firstOut = "";
  first.stdout.on("data", (d: Buffer) => {
    firstOut += d.toString();
  });
  await waitForFile(pauseFile, "the first updater to pause while holding the lock");

  const second = await runCli(["update", "--dir", appDir, "--json"]);
  assert.equal(second.code, 7, second.stdout + second.stderr);
  assert.equal((parseJson(second).error as { code: string }).code, "LOCKED");
  const rollback = await runCli(["rollback", "--dir", appDir, "--json"]);
  assert.equal((parseJson(rollback).error as { code: string }).code, "LOCKED");

  await rm(pauseFile);
  const [code] = (await once(first, "exit")) as [number];
  assert.equal(code, 0, firstOut);
  assert.equal(JSON.parse(firstOut).version, "1.1.0");
  assert.equal(await readlink(join(appDir, "current")), "app-1.1.0");
  assert.deepEqual(await treeDigest(join(appDir, "current/")), manifestDigest(await signedManifest(repo, "1.1.0")));
  assert.deepEqual(await treeDigest(join(appDir, "app-1.0.0")), manifestDigest(await signedManifest(repo, "1.0.0")));
});

/** The update to 1.1.0 installed exactly, with nothing marked failed. */
async function assertUpdatedCleanly(appDir: string, repo: Awaited<ReturnType<typeof createTestRepo>>) {
  assert.equal(await readlink(join(appDir, "current")), "app-1.1.0");
  assert.deepEqual(await treeDigest(join(appDir, "current/")), manifestDigest(await signedManifest(repo, "1.1.0")));
  assert.deepEqual(await treeDigest(join(appDir, "app-1.0.0")), manifestDigest(await signedManifest(repo, "1.0.0")));
  assert.deepEqual((await readdir(appDir)).sort(), [".updraft", "app-1.0.0", "app-1.1.0", "current"]);
  const status = parseJson(await runCli(["status", "--dir", appDir, "--json"]));
  assert.equal(status.currentVersion, "1.1.0");
  assert.deepEqual(status.failed, [], "nothing is marked failed");
}

test("two Updaters on one folder in one process: the second install() gets LOCKED, nothing is marked failed", async (t) => {
  const { repo, appDir } = await repoWithUpdate(t, async (w) => join(w, "install"), 1 << 20);
  const first = new Updater({ installDir: appDir });
  const second = new Updater({ installDir: appDir });
  const updates = [await availableUpdate(first), await availableUpdate(second)] as const;
  const outcomes = await Promise.allSettled([first.install(updates[0]), second.install(updates[1])]);
  // Either may take the lock first; exactly one installs and the other is refused.
  const won = outcomes.filter((o) => o.status === "fulfilled");
  const lost = outcomes.filter((o) => o.status === "rejected");
  assert.equal(won.length, 1, outcomes.map((o) => (o.status === "rejected" ? String(o.reason) : o.status)).join("; "));
  assert.equal(won[0]!.value.version, "1.1.0");
  const refused = lost[0]!.reason as unknown;
  assert.ok(refused instanceof UpdraftError && refused.code === ErrorCodes.LOCKED, String(refused));
  assert.equal(refused.details?.pid, process.pid);
  await assertUpdatedCleanly(appDir, repo);
  // The refused one's turn now: its update is installed already, and nothing is left to install.
  const loserIndex = outcomes[0]!.status === "rejected" ? 0 : 1;
  const loser = [first, second][loserIndex]!;
  await assert.rejects(loser.install(updates[loserIndex]!), (e: unknown) => {
    assert.ok(e instanceof UpdraftError && e.code === ErrorCodes.NO_UPDATE, String(e));
    assert.match(e.message, /1\.1\.0 is installed already/);
    return true;
  });
  assert.equal((await loser.check()).status, "current");
});

test("update() keeps its lock through its own check and recovery: another process and another Updater get LOCKED", async (t) => {
  const { work, repo, appDir } = await repoWithUpdate(t, async (w) => join(w, "install"), 1 << 20);
  const pauseFile = join(work, "paused");
  const child = spawn(process.execPath, [LIBRARY_INSTALL, appDir], {
    env: { ...process.env, ...pauseAt(FaultSteps.VERSIONED_STAGED, pauseFile) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  t.after(() => child.kill("SIGKILL"));
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = once(child, "exit");
  await waitForFile(pauseFile, "the install to pause after its nested check and download");
  const lock = JSON.parse(await readFile(join(appDir, ".updraft", "lock"), "utf8")) as { pid: number };
  assert.equal(lock.pid, child.pid, "the lock is still the installer's");

  const cli = await runCli(["update", "--dir", appDir, "--json"]);
  assert.equal(cli.code, 7, cli.stdout + cli.stderr);
  assert.equal((parseJson(cli).error as { code: string }).code, "LOCKED");
  await assert.rejects(
    new Updater({ installDir: appDir }).update(),
    (e: unknown) => e instanceof UpdraftError && e.code === ErrorCodes.LOCKED && e.details?.pid === child.pid,
  );

  await rm(pauseFile);
  const [code] = (await exited) as [number];
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(out), { ok: true, version: "1.1.0" });
  await assertUpdatedCleanly(appDir, repo);
});

test("an app's confirm while another process briefly holds the lock (a status check, the helper) waits for it instead of failing", async (t) => {
  const { work, appDir } = await installedApp(t, { "app.txt": "1.0.0\n" });
  const holder = spawn(process.execPath, [LOCK_CHILD, join(appDir, ".updraft", "lock")], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  t.after(() => holder.kill("SIGKILL"));
  await once(holder.stdout, "data");
  const pauseFile = join(work, "confirm-waiting");
  const confirming = runCli(["confirm", "--dir", appDir, "--json"], {
    env: pauseAt(FaultSteps.LOCK_WAITING, pauseFile),
  });
  await waitForFile(pauseFile, "the confirmation to find the lock taken");
  holder.stdin.end();
  await once(holder, "exit");
  await rm(pauseFile);
  const confirmed = await confirming;
  assert.equal(confirmed.code, 0, confirmed.stdout + confirmed.stderr);
  assert.equal(parseJson(confirmed).version, "1.0.0");
});

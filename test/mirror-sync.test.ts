/**
 * `updraft mirror sync`: a verified copy of an app's repository, synced from `updraft serve` into a
 * folder served by a plain static server (or into a bucket of a real S3 protocol server), that
 * serves installs and updates; incremental, safe to kill, and refusing a source that alters files.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { type TestContext, test } from "node:test";
import { installFromRepository } from "../src/client/first-install.js";
import { Updater } from "../src/client/updater.js";
import { parseJson, runCli, startCli } from "./helpers/cli.js";
import { createTestRepo, publish, type TestRepo } from "./helpers/repo.js";
import { startS3 } from "./helpers/s3.js";
import { type RunningServer, startPlainStaticServer, startUpdraftServe } from "./helpers/servers.js";
import { tempDir } from "./helpers/tmp.js";
import { waitForFile } from "./helpers/wait.js";

const LIMIT = { limitMs: 120_000 };

/** Every file under `dir` (relative POSIX path → sha256), hidden names included. */
async function tree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for (const entry of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else
        out.set(
          relative(dir, p).split(sep).join("/"),
          createHash("sha256")
            .update(await readFile(p))
            .digest("hex"),
        );
    }
  };
  await walk(dir);
  return out;
}

async function serve(t: TestContext, dir: string, start: (dir: string) => Promise<RunningServer>) {
  const server = await start(dir);
  t.after(() => server.stop());
  return server;
}

/** A repository with 1.0.0 published, served by `updraft serve`. */
async function origin(t: TestContext, work: string): Promise<{ repo: TestRepo; url: string }> {
  const repo = await createTestRepo(join(work, "origin"), "hello");
  await publish(repo, work, "1.0.0", { "app.txt": "one", "lib/data.bin": Buffer.alloc(300_000, 7) });
  const server = await serve(t, repo.repoDir, startUpdraftServe);
  return { repo, url: server.url };
}

function syncArgs(source: string, dest: string, repo: TestRepo): string[] {
  return ["mirror", "sync", source, dest, "--app", repo.app, "--root-sha256", `sha256:${repo.rootSha256}`, "--json"];
}

async function sync(source: string, dest: string, repo: TestRepo, env: NodeJS.ProcessEnv = {}) {
  const r = await runCli(syncArgs(source, dest, repo), { env, ...LIMIT });
  assert.equal(r.code, 0, `mirror sync: ${r.stdout} ${r.stderr}`);
  return parseJson(r) as { copied: string[]; targetsCopied: number; targetsPresent: number; timestampVersion: number };
}

/** Target files of the app in a repository folder. */
async function targetFiles(repoDir: string, app: string): Promise<Set<string>> {
  return new Set([...(await tree(join(repoDir, app, "targets"))).keys()].map((k) => `${app}/targets/${k}`));
}

test("a mirror synced from updraft serve serves an install and an update; the second sync copies only new files", async (t) => {
  const work = await tempDir(t);
  const { repo, url } = await origin(t, work);
  const mirrorDir = join(work, "mirror");
  const first = await sync(url, mirrorDir, repo);
  assert.ok(first.targetsCopied > 0);
  const mirror = await serve(t, mirrorDir, startPlainStaticServer);

  const installDir = join(work, "i");
  await installFromRepository({ repoUrl: mirror.url, app: "hello", installDir, rootSha256: repo.rootSha256 });
  assert.equal(await readFile(join(installDir, "current", "app.txt"), "utf8"), "one");

  const before = await targetFiles(repo.repoDir, "hello");
  await publish(repo, work, "1.1.0", { "app.txt": "two", "lib/data.bin": Buffer.alloc(300_000, 7) }, undefined, 1);
  const added = [...(await targetFiles(repo.repoDir, "hello"))].filter((k) => !before.has(k)).sort();
  assert.ok(added.length >= 3, "the release added a manifest, an archive and a delta");
  const second = await sync(url, mirrorDir, repo);
  const copiedTargets = second.copied.filter((k) => k.startsWith("hello/targets/")).sort();
  assert.deepEqual(copiedTargets, added, "only the new release's files were copied");
  assert.ok(second.targetsPresent > 0, "1.0.0's files were already there");
  assert.equal(second.copied.at(-1), "hello/metadata/timestamp.json", "the timestamp goes up last");

  const result = await new Updater({ installDir }).update();
  assert.equal(result.version, "1.1.0");
  assert.equal(await readFile(join(installDir, "current", "app.txt"), "utf8"), "two");

  const third = await sync(url, mirrorDir, repo);
  assert.deepEqual(third.copied, [], "nothing changed, nothing copied");
});

test("a sync killed mid-way leaves the old mirror readable; run again, it finishes", async (t) => {
  const work = await tempDir(t);
  const { repo, url } = await origin(t, work);
  const mirrorDir = join(work, "mirror");
  await sync(url, mirrorDir, repo);
  const mirror = await serve(t, mirrorDir, startPlainStaticServer);
  const installDir = join(work, "i");
  await installFromRepository({ repoUrl: mirror.url, app: "hello", installDir, rootSha256: repo.rootSha256 });
  await publish(repo, work, "1.1.0", { "app.txt": "two", "lib/data.bin": Buffer.alloc(2_000_000, 9) });

  // Stopped in the middle of its first download, then killed like a power cut.
  const pauseFile = join(work, "paused");
  const run = startCli(t, syncArgs(url, mirrorDir, repo), {
    env: { UPDRAFT_PAUSE_STEP: "download:first-bytes", UPDRAFT_PAUSE_FILE: pauseFile },
  });
  await waitForFile(pauseFile, "the sync to pause in its first download");
  run.child.kill("SIGKILL");
  assert.equal((await run.exited).signal, "SIGKILL");
  const check = await new Updater({ installDir }).check();
  assert.equal(check.status, "current", "readers see the old state");

  const again = await sync(url, mirrorDir, repo);
  assert.ok(again.targetsCopied > 0);
  assert.equal((await new Updater({ installDir }).update()).version, "1.1.0");
});

test("a source serving an altered target fails the sync clearly and leaves the mirror as it was", async (t) => {
  const work = await tempDir(t);
  const { repo, url } = await origin(t, work);
  const mirrorDir = join(work, "mirror");
  await sync(url, mirrorDir, repo);
  const untouched = await tree(mirrorDir);

  await publish(repo, work, "1.1.0", { "app.txt": "two" });
  const altered = join(work, "altered");
  await cp(repo.repoDir, altered, { recursive: true });
  const release = join(altered, "hello", "targets", "releases", "1.1.0", "any");
  const archive = (await readdir(release)).find((f) => f.endsWith(".tar.zst"));
  assert.ok(archive);
  const bytes = await readFile(join(release, archive));
  bytes[bytes.length >> 1]! ^= 0xff;
  await writeFile(join(release, archive), bytes);
  const bad = await serve(t, altered, startUpdraftServe);

  const r = await runCli(syncArgs(bad.url, mirrorDir, repo), LIMIT);
  assert.notEqual(r.code, 0);
  const error = (parseJson(r).error ?? {}) as { code?: string; message?: string };
  assert.equal(error.code, "TARGET_MISMATCH", r.stdout);
  assert.deepEqual(await tree(mirrorDir), untouched, "not one file of the mirror changed");

  const wrongRoot = await runCli(
    ["mirror", "sync", url, mirrorDir, "--app", "hello", "--root-sha256", `sha256:${"0".repeat(64)}`, "--json"],
    LIMIT,
  );
  assert.equal((parseJson(wrongRoot).error as { code: string }).code, "ROOT_MISMATCH");
  const noRoot = await runCli(["mirror", "sync", url, mirrorDir, "--app", "hello", "--json"], LIMIT);
  assert.equal((parseJson(noRoot).error as { code: string }).code, "USAGE");
  await rm(altered, { recursive: true, force: true });
});

test("a mirror synced to s3:// serves an install from the bucket's HTTP endpoint", async (t) => {
  const work = await tempDir(t);
  const { repo, url } = await origin(t, work);
  const s3 = await startS3(t);
  const dest = `s3://${s3.bucket}/mirror`;
  const first = await sync(url, dest, repo, s3.env);
  assert.ok(first.targetsCopied > 0);
  const installDir = join(work, "i");
  await installFromRepository({
    repoUrl: s3.httpUrl("mirror"),
    app: "hello",
    installDir,
    rootSha256: repo.rootSha256,
  });
  assert.equal(await readFile(join(installDir, "current", "app.txt"), "utf8"), "one");
  const res = await fetch(s3.httpUrl("mirror/hello/metadata/timestamp.json"), { method: "HEAD" });
  assert.equal(res.headers.get("cache-control"), "public, max-age=60, must-revalidate");
  assert.deepEqual((await sync(url, dest, repo, s3.env)).copied, [], "a second sync copies nothing");
});

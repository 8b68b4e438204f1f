/**
 * Client mirrors: an install lists mirrors tried before its repository URL. A mirror that is down,
 * or serves an altered archive, is passed over for the next one, and never holds the version back.
 */
import assert from "node:assert/strict";
import { cp, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { installFromRepository } from "../src/client/first-install.js";
import type { RetryInfo } from "../src/client/net/retry.js";
import { Updater } from "../src/client/updater.js";
import { createTestRepo, publish } from "./helpers/repo.js";
import { startServer } from "./helpers/server.js";
import { tempDir } from "./helpers/tmp.js";

/** A copy of `repoDir` whose archives of `version` have one byte flipped. */
async function tamperedCopy(repoDir: string, dest: string, app: string, version: string): Promise<void> {
  await cp(repoDir, dest, { recursive: true });
  const dir = join(dest, app, "targets", "releases", version, "any");
  const archives = (await readdir(dir)).filter((f) => f.endsWith(".tar.zst"));
  assert.ok(archives.length > 0);
  for (const name of archives) {
    const bytes = await readFile(join(dir, name));
    bytes[bytes.length >> 1]! ^= 0xff;
    await writeFile(join(dir, name), bytes);
  }
}

test("a client whose first mirror is down, or serves a tampered archive, updates from the next one", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(join(work, "origin"), "hello");
  const origin = await startServer(t, repo.repoDir);
  await publish(repo, work, "1.0.0", { "app.txt": "one" }, origin.url);
  const installs = [join(work, "a"), join(work, "b")];
  for (const installDir of installs) {
    await installFromRepository({ repoUrl: origin.url, app: "hello", installDir, rootSha256: repo.rootSha256 });
  }
  await publish(repo, work, "1.1.0", { "app.txt": "two" }, origin.url);
  const good = join(work, "good");
  await cp(repo.repoDir, good, { recursive: true });
  const bad = join(work, "bad");
  await tamperedCopy(repo.repoDir, bad, "hello", "1.1.0");
  const goodMirror = await startServer(t, good);
  const badMirror = await startServer(t, bad);
  const down = await startServer(t, good);
  await down.close();
  await origin.close(); // the update can only come from a mirror

  const cases = [
    { installDir: installs[0]!, mirrors: [down.url, goodMirror.url], why: "first mirror down" },
    { installDir: installs[1]!, mirrors: [badMirror.url, goodMirror.url], why: "first mirror tampered" },
  ];
  for (const { installDir, mirrors, why } of cases) {
    const updater = new Updater({ installDir, mirrors, retry: { attempts: 1 } });
    const result = await updater.update();
    assert.equal(result.version, "1.1.0", why);
    assert.equal(await readFile(join(installDir, "current", "app.txt"), "utf8"), "two", why);
    assert.deepEqual((await updater.status()).failed, [], `${why}: a bad mirror holds no version back`);
  }
});

test("a mirror that refuses connections is passed over at once; the last base keeps its retries", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(join(work, "origin"), "hello");
  const origin = await startServer(t, repo.repoDir);
  await publish(repo, work, "1.0.0", { "app.txt": "one" }, origin.url);
  const installDir = join(work, "i");
  await installFromRepository({ repoUrl: origin.url, app: "hello", installDir, rootSha256: repo.rootSha256 });
  await publish(repo, work, "1.1.0", { "app.txt": "two" }, origin.url);
  const down = await startServer(t, repo.repoDir);
  await down.close(); // its port now refuses connections
  const downHost = new URL(down.url).host;
  const retriesAt = (retries: RetryInfo[], host: string) =>
    retries.filter((r) => String(r.error.details?.url ?? "").includes(host));

  const retries: RetryInfo[] = [];
  const updater = new Updater({
    installDir,
    mirrors: [down.url],
    retry: { attempts: 4, baseDelayMs: 1, onRetry: (info) => retries.push(info) },
  });
  assert.equal((await updater.update()).version, "1.1.0");
  assert.deepEqual(retriesAt(retries, downHost), [], "no retry was spent on the refusing mirror");

  // The same refusal on the only (last) base is retried within the policy before it fails.
  const alone: RetryInfo[] = [];
  const stranded = new Updater({
    installDir,
    repoUrl: down.url,
    app: "hello",
    channel: "stable",
    mirrors: [],
    retry: { attempts: 3, baseDelayMs: 1, onRetry: (info) => alone.push(info) },
  });
  await assert.rejects(stranded.check(), { code: "NETWORK" });
  assert.ok(retriesAt(alone, downHost).length >= 2, `the last base was retried (${alone.length} retries)`);
});

test("mirrors are recorded by the first install and checked like the configuration", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(join(work, "origin"), "hello");
  const origin = await startServer(t, repo.repoDir);
  await publish(repo, work, "1.0.0", { "app.txt": "one" }, origin.url);
  const mirrorDir = join(work, "mirror");
  await cp(repo.repoDir, mirrorDir, { recursive: true });
  const mirror = await startServer(t, mirrorDir);
  const installDir = join(work, "i");
  await installFromRepository({
    repoUrl: origin.url,
    app: "hello",
    installDir,
    rootSha256: repo.rootSha256,
    mirrors: [mirror.url],
  });
  const config = JSON.parse(await readFile(join(installDir, ".updraft", "config.json"), "utf8")) as {
    mirrors?: string[];
  };
  assert.deepEqual(config.mirrors, [mirror.url]);
  await publish(repo, work, "1.1.0", { "app.txt": "two" }, origin.url);
  // The mirror is behind (still 1.0.0): the check goes to it first and finds nothing newer.
  assert.equal((await new Updater({ installDir }).check()).status, "current");
  assert.throws(() => new Updater({ installDir, mirrors: ["ftp://x"] }), /mirrors/);
});

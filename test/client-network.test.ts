/**
 * Real HTTP on 127.0.0.1: a download cut mid-way resumes with Range + If-Range and fetches only
 * the missing bytes; a server that ignores Range makes the client start over cleanly; the install
 * lock keeps a second updater out, and a lock left by a dead process is taken over.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFile, readlink, stat, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { installFromRepository } from "../src/client/first-install.js";
import { installLayout } from "../src/client/install/layout.js";
import { Updater } from "../src/client/updater.js";
import { ErrorCodes, UpdraftError } from "../src/core/errors.js";
import { acquireLock } from "../src/core/lock.js";
import { createRepositoryServer } from "../src/server/static-server.js";
import { parseJson, runCli } from "./helpers/cli.js";
import { createTestRepo, manifestDigest, publish, signedManifest, targetFilePath, treeDigest } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";
import { availableUpdate } from "./helpers/updates.js";

/** A proxy in front of the real repository server that can cut the archive download. */
async function faultyProxy(
  upstream: string,
  archiveUrlPart: string,
  plan: { cutAfter?: number; ignoreRange?: boolean },
) {
  const log: { url: string; range: string | undefined; ifRange: string | undefined; sent: number; status: number }[] =
    [];
  let cutsLeft = plan.cutAfter === undefined ? 0 : 1;
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const headers: Record<string, string> = {};
    if (req.headers.range && !plan.ignoreRange) headers.range = req.headers.range;
    if (req.headers["if-range"] && !plan.ignoreRange) headers["if-range"] = String(req.headers["if-range"]);
    const up = await fetch(`${upstream.replace(/\/$/, "")}${req.url}`, { headers });
    const entry = {
      url: req.url!,
      range: req.headers.range,
      ifRange: req.headers["if-range"] as string | undefined,
      sent: 0,
      status: up.status,
    };
    log.push(entry);
    const out: Record<string, string> = {};
    up.headers.forEach((v, k) => {
      out[k] = v;
    });
    res.writeHead(up.status, out);
    const body = Buffer.from(await up.arrayBuffer());
    if (req.url!.includes(archiveUrlPart) && cutsLeft > 0) {
      cutsLeft--;
      // Wait until the bytes are handed to the kernel, and give a loaded client time to read them.
      await new Promise((r) => res.write(body.subarray(0, plan.cutAfter), r));
      entry.sent = plan.cutAfter!;
      await new Promise((r) => setTimeout(r, 250));
      res.socket?.destroy();
      return;
    }
    entry.sent = body.length;
    res.end(body);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function setupWithUpdate(t: import("node:test").TestContext) {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  const server = createRepositoryServer({ root: repo.repoDir });
  const { url } = await server.listen();
  t.after(() => server.close());
  const big = (seed: string) =>
    Buffer.from(Array.from({ length: 60_000 }, (_, i) => `${seed}${(i * 7919) % 10007} `).join(""));
  await publish(repo, work, "1.0.0", { "data.bin": big("a") });
  const appDir = join(work, "install");
  await installFromRepository({ repoUrl: url, app: repo.app, installDir: appDir, rootSha256: repo.rootSha256 });
  await publish(repo, work, "1.1.0", { "data.bin": big("b") });
  const archivePath = await targetFilePath(repo, "releases/1.1.0/any/full.tar.zst");
  return { work, repo, url, appDir, archiveSize: (await stat(archivePath)).size };
}

test("a cut download resumes and fetches only the missing bytes", async (t) => {
  const { repo, url, appDir, archiveSize } = await setupWithUpdate(t);
  const cutAfter = Math.floor(archiveSize / 3);
  const proxy = await faultyProxy(url, "full.tar.zst", { cutAfter });
  t.after(() => proxy.close());
  const updater = new Updater({ installDir: appDir, repoUrl: proxy.url, retry: { attempts: 1 } });
  const progress: number[] = [];
  const update = await availableUpdate(updater);
  await assert.rejects(
    updater.download(update, { onProgress: (p) => progress.push(p.transferred) }),
    (e: unknown) => e instanceof UpdraftError && e.code === ErrorCodes.NETWORK,
  );
  assert.equal(await readlink(join(appDir, "current")), "app-1.0.0", "nothing installed after the cut");
  const resumed = await updater.download(update, { onProgress: (p) => progress.push(p.transferred) });
  assert.equal(resumed.fetched, archiveSize - cutAfter, "only the missing part was fetched");
  const archiveRequests = proxy.log.filter((r) => r.url.includes("full.tar.zst"));
  assert.equal(archiveRequests.length, 2);
  assert.equal(archiveRequests[1]!.range, `bytes=${cutAfter}-`);
  assert.ok(archiveRequests[1]!.ifRange, "If-Range sent with the validator");
  assert.equal(archiveRequests[1]!.status, 206);
  for (let i = 1; i < progress.length; i++)
    assert.ok(progress[i]! >= progress[i - 1]!, "progress never goes backwards");
  await updater.install(resumed);
  assert.equal(await readlink(join(appDir, "current")), "app-1.1.0");
  assert.deepEqual(await treeDigest(join(appDir, "current/")), manifestDigest(await signedManifest(repo, "1.1.0")));
});

test("a server that ignores Range makes the download start over cleanly", async (t) => {
  const { repo, url, appDir, archiveSize } = await setupWithUpdate(t);
  const cutAfter = Math.floor(archiveSize / 2);
  const proxy = await faultyProxy(url, "full.tar.zst", { cutAfter, ignoreRange: true });
  t.after(() => proxy.close());
  const updater = new Updater({ installDir: appDir, repoUrl: proxy.url, retry: { attempts: 1 } });
  const update = await availableUpdate(updater);
  await assert.rejects(
    updater.download(update),
    (e: unknown) => e instanceof UpdraftError && e.code === ErrorCodes.NETWORK,
  );
  const restarts: boolean[] = [];
  const again = await updater.download(update, { onProgress: (p) => restarts.push(p.restarted === true) });
  assert.equal(again.fetched, archiveSize, "the whole archive was fetched again");
  assert.equal(restarts[0], true, "the first progress event says the download restarted");
  await updater.install(again);
  assert.deepEqual(await treeDigest(join(appDir, "current/")), manifestDigest(await signedManifest(repo, "1.1.0")));
});

test("a second updater is refused with LOCKED while the first holds the lock; a dead holder's lock is taken over", async (t) => {
  const { appDir } = await setupWithUpdate(t);
  const layout = installLayout(appDir);
  const held = await acquireLock(layout.lockFile, { purpose: "test" });
  const blocked = await runCli(["update", "--dir", appDir, "--json"]);
  assert.equal(blocked.code, 7, blocked.stderr);
  assert.equal((parseJson(blocked).error as { code: string }).code, "LOCKED");
  assert.equal(await readlink(join(appDir, "current")), "app-1.0.0");
  await held.release();

  // A lock left behind by a process that no longer runs.
  const dead = spawn(process.execPath, ["-e", ""]);
  await once(dead, "exit");
  await writeFile(layout.lockFile, JSON.stringify({ pid: dead.pid, purpose: "crashed", since: "earlier" }));
  const ok = await runCli(["update", "--dir", appDir, "--json"]);
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  assert.equal(parseJson(ok).version, "1.1.0");
  await assert.rejects(readFile(layout.lockFile), "the lock is released after the update");
});

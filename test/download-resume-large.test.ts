/**
 * Resume that always finishes, on a ~200 MB release (random bytes, no delta): the real CLI
 * downloads it from `updraft serve` through a TCP proxy that counts what the server sent; the
 * proxy holds the connection at about 30 %, 60 % or 90 %, and once the `.part` file shows the
 * bytes arrived the CLI is interrupted (SIGINT) or killed (SIGKILL). The next `update` must finish
 * with the exact release, and the server must have sent at most 1.1× the archive in total.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, readdir, readlink, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { installFromRepository } from "../src/client/first-install.js";
import { runCli, startCli } from "./helpers/cli.js";
import {
  createTestRepo,
  manifestDigest,
  publish,
  signedManifest,
  type TestRepo,
  targetFilePath,
  treeDigest,
} from "./helpers/repo.js";
import { type CountingProxy, type RunningServer, startCountingProxy, startUpdraftServe } from "./helpers/servers.js";

const RELEASE_BYTES = 200 * 1000 * 1000;
/** A CLI run or a wait longer than this is a hang. */
const LIMIT_MS = 90_000;
const CASES: [number, NodeJS.Signals][] = [
  [0.3, "SIGINT"],
  [0.6, "SIGKILL"],
  [0.9, "SIGINT"],
  [0.3, "SIGKILL"],
  [0.6, "SIGINT"],
  [0.9, "SIGKILL"],
];

let work: string;
let repo: TestRepo;
let serve: RunningServer;
let proxy: CountingProxy;
let pristine: string;
let archiveSize: number;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "updraft-resume-"));
  repo = await createTestRepo(work);
  await publish(repo, work, "1.0.0", { "bin/app": "#!/bin/sh\necho 1.0.0\n" });
  serve = await startUpdraftServe(repo.repoDir);
  proxy = await startCountingProxy(serve.url);
  pristine = join(work, "pristine");
  await installFromRepository({ repoUrl: proxy.url, app: repo.app, installDir: pristine, rootSha256: repo.rootSha256 });
  await publish(repo, work, "1.1.0", { "bin/app": "#!/bin/sh\necho 1.1.0\n", "data.bin": randomBytes(RELEASE_BYTES) });
  archiveSize = (await stat(await targetFilePath(repo, "releases/1.1.0/any/full.tar.zst"))).size;
  // The build's copy of the data is not needed any more: keep the disk use to the archive.
  for (const name of await readdir(work))
    if (name.startsWith("build-")) await rm(join(work, name), { recursive: true });
});

after(async () => {
  await proxy?.stop();
  await serve?.stop();
  await rm(work, { recursive: true, force: true });
});

/** Size of the partial download in `dir`, 0 while there is none. */
async function partSize(dir: string): Promise<number> {
  const downloads = join(dir, ".updraft", "downloads");
  const names = await readdir(downloads).catch(() => [] as string[]);
  const part = names.find((n) => n.endsWith(".part"));
  return part ? (await stat(join(downloads, part)).catch(() => ({ size: 0 }))).size : 0;
}

/** Polls until `dir` holds a partial download of at least `bytes`, within {@link LIMIT_MS}. */
async function waitForPart(dir: string, bytes: number, exited: () => boolean): Promise<number> {
  const deadline = Date.now() + LIMIT_MS;
  while (Date.now() < deadline) {
    const size = await partSize(dir);
    if (size >= bytes) return size;
    assert.ok(!exited(), "the CLI ended before the partial download reached the interruption point");
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`the partial download did not reach ${bytes} bytes within ${LIMIT_MS} ms`);
}

for (const [fraction, signal] of CASES) {
  test(`200 MB release: ${signal} at ${fraction * 100} %, the next run finishes; the server sends ≤ 1.1× the archive`, async (t) => {
    const dir = join(work, `case-${signal}-${fraction}`);
    await cp(pristine, dir, { recursive: true, verbatimSymlinks: true });
    t.after(() => rm(dir, { recursive: true, force: true }));
    const sentBefore = proxy.bytesFromServer;

    // The proxy holds the archive's connection at the fraction; the CLI is interrupted once the bytes are on disk.
    proxy.holdAfter(Math.round(archiveSize * fraction));
    const first = startCli(t, ["update", "--dir", dir, "--json"], { limitMs: LIMIT_MS });
    let exited = false;
    void first.exited.finally(() => {
      exited = true;
    });
    const held = await waitForPart(dir, Math.round(archiveSize * fraction) - 1024 * 1024, () => exited);
    proxy.holdAfter(undefined);
    first.child.kill(signal);
    const ended = await first.exited;
    const interrupted = { ...ended, stdout: first.stdout(), stderr: first.stderr() };
    assert.ok(interrupted.code !== 0, `the interrupted run must not report success: ${interrupted.stdout}`);
    const lines = interrupted.stdout.split("\n").filter((l) => l.trim() !== "");
    assert.ok(lines.length <= 1, `at most one JSON document: ${interrupted.stdout}`);
    if (lines.length === 1) assert.equal((JSON.parse(lines[0]!) as { ok: boolean }).ok, false);
    assert.equal(await readlink(join(dir, "current")), "app-1.0.0", "the interrupted run changed the install");
    assert.ok((await partSize(dir)) >= held, "the partial download is kept");

    const second = await runCli(["update", "--dir", dir, "--json"], { limitMs: LIMIT_MS });
    const context = `exit ${second.code ?? second.signal}\nstdout: ${second.stdout}\nstderr: ${second.stderr.slice(-2000)}`;
    const docs = second.stdout.split("\n").filter((l) => l.trim() !== "");
    assert.equal(docs.length, 1, `exactly one JSON document. ${context}`);
    const doc = JSON.parse(docs[0]!) as { ok: boolean; version?: string; bytesDownloaded?: number };
    assert.equal(second.code, 0, context);
    assert.equal(doc.version, "1.1.0", context);
    assert.ok(doc.bytesDownloaded! < archiveSize - held + 1024 * 1024, `the re-run resumed: ${context}`);
    assert.equal(await readlink(join(dir, "current")), "app-1.1.0");
    assert.deepEqual(await treeDigest(join(dir, "current/")), manifestDigest(await signedManifest(repo, "1.1.0")));

    const ratio = (proxy.bytesFromServer - sentBefore) / archiveSize;
    t.diagnostic(`${signal} at ${fraction * 100} %: the server sent ${ratio.toFixed(4)}× the archive`);
    assert.ok(ratio <= 1.1, `the server sent ${ratio.toFixed(4)}× the archive`);
  });
}

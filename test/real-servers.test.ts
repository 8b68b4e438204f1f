/**
 * The same updates through every kind of server a repository may sit on: `updraft serve`,
 * `python3 -m http.server` (HTTP/1.0, no Range, one connection per request), nginx with gzip for
 * every type and no keep-alive, nginx with keep-alive, a server sending chunked bodies without a
 * length, one closing the connection after every response (the body ends at the close), and one
 * gzipping every body whatever the client asked. Each run updates a copy of a pristine 1.0.0
 * install: 1.0.0 → 1.1.0 by delta, then → 1.2.0 by the full 20+ MB archive, with the real CLI
 * (`update --json`, which must exit 0 with exactly one JSON document) in even runs and with the
 * library in this process in odd runs; every run must end with the exact signed tree.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, readlink, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { installFromRepository } from "../src/client/first-install.js";
import { Updater } from "../src/client/updater.js";
import { createRepositoryServer } from "../src/server/static-server.js";
import { type CliResult, runCli } from "./helpers/cli.js";
import {
  createTestRepo,
  manifestDigest,
  publish,
  signedManifest,
  type TestRepo,
  targetFilePath,
  treeDigest,
} from "./helpers/repo.js";
import {
  type RunningServer,
  startNginx,
  startPlainStaticServer,
  startRawServer,
  startUpdraftServe,
} from "./helpers/servers.js";

/** Runs per server; each run is two updates. */
const RUNS = 20;
/** Runs in flight at once. */
const PARALLEL = 2;
/** A CLI run that takes longer than this is a hang, and fails the test. */
const CLI_LIMIT_MS = 60_000;

const MB = 1024 * 1024;

function release(version: string, base: { a: Buffer; b: Buffer; c: Buffer }): Record<string, string | Buffer> {
  return {
    "bin/app": `#!/bin/sh\necho ${version}\n`,
    "README.txt": `hello ${version}\n`.repeat(200),
    "lib/a.bin": base.a,
    "lib/b.bin": base.b,
    "lib/c.bin": base.c,
  };
}

interface Fixture {
  repo: TestRepo;
  /** Served folder: `a/` holds the repository up to 1.1.0, `b/` up to 1.2.0. */
  root: string;
  pristine: string;
  fullSize: number;
}

async function buildFixture(work: string): Promise<Fixture> {
  const repo = await createTestRepo(work);
  const base = { a: randomBytes(9 * MB), b: randomBytes(8 * MB), c: randomBytes(5 * MB) };
  await publish(repo, work, "1.0.0", release("1.0.0", base));
  const pristine = join(work, "pristine");
  const server = createRepositoryServer({ root: repo.repoDir });
  const { url } = await server.listen();
  try {
    await installFromRepository({ repoUrl: url, app: repo.app, installDir: pristine, rootSha256: repo.rootSha256 });
  } finally {
    await server.close();
  }
  // 1.1.0 changes a little: a delta carries it.
  const c = Buffer.from(base.c);
  randomBytes(64 * 1024).copy(c, 1 * MB);
  await publish(repo, work, "1.1.0", release("1.1.0", { ...base, c }), undefined, 1);
  const root = join(work, "served");
  await mkdir(root);
  await cp(repo.repoDir, join(root, "a"), { recursive: true });
  // 1.2.0 has no delta: the client downloads the whole archive.
  await publish(repo, work, "1.2.0", release("1.2.0", { a: randomBytes(9 * MB), b: base.b, c }));
  const fullSize = (await stat(await targetFilePath(repo, "releases/1.2.0/any/full.tar.zst"))).size;
  await rename(repo.repoDir, join(root, "b"));
  return { repo: { ...repo, repoDir: join(root, "b") }, root, pristine, fullSize };
}

/** Points an install at another repository URL (what an operator would edit). */
async function setRepoUrl(dir: string, url: string): Promise<void> {
  const file = join(dir, ".updraft", "config.json");
  const config = JSON.parse(await readFile(file, "utf8")) as { url: string };
  config.url = url;
  await writeFile(file, JSON.stringify(config));
}

/** Asserts a `--json` run succeeded with exactly one JSON document, and returns it. */
function oneDocument(run: CliResult, what: string): Record<string, unknown> {
  const context = `${what}: exit ${run.code ?? run.signal}\nstdout: ${run.stdout}\nstderr: ${run.stderr.slice(-3000)}`;
  const lines = run.stdout.split("\n").filter((l) => l.trim() !== "");
  assert.equal(lines.length, 1, `exactly one JSON document expected. ${context}`);
  const doc = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(run.code, 0, context);
  assert.equal(doc.ok, true, context);
  return doc;
}

/** Updates `dir` from `repoUrl` with the CLI or the library; checks the tree; returns the bytes fetched. */
async function updateTo(
  dir: string,
  repoUrl: string,
  version: string,
  fx: Fixture,
  how: "cli" | "library",
  what: string,
): Promise<number> {
  await setRepoUrl(dir, repoUrl);
  let fetched: number;
  if (how === "cli") {
    const doc = oneDocument(
      await runCli(["update", "--dir", dir, "--json", "--retries", "0"], { limitMs: CLI_LIMIT_MS }),
      what,
    );
    assert.equal(doc.version, version, what);
    fetched = Number(doc.bytesDownloaded);
  } else {
    const updater = new Updater({ installDir: dir, retry: { attempts: 1 } });
    const check = await updater.check();
    assert.equal(check.latestVersion, version, what);
    assert.ok(check.status === "available", what);
    const downloaded = await updater.download(check.update);
    fetched = downloaded.fetched;
    assert.equal((await updater.install(downloaded)).version, version, what);
  }
  assert.equal(await readlink(join(dir, "current")), `app-${version}`, what);
  assert.deepEqual(
    await treeDigest(join(dir, "current/")),
    manifestDigest(await signedManifest(fx.repo, version)),
    `${what}: the installed tree is not the signed ${version}`,
  );
  return fetched;
}

const SERVERS: [string, (root: string, work: string) => Promise<RunningServer>][] = [
  ["updraft serve", (root) => startUpdraftServe(root)],
  ["python3 -m http.server", (root) => startPlainStaticServer(root)],
  [
    "nginx, gzip on for every type, no keep-alive",
    (root, work) => startNginx(root, work, { gzip: true, keepalive: false }),
  ],
  ["nginx, keep-alive", (root, work) => startNginx(root, work, { keepalive: true })],
  ["chunked bodies without Content-Length", (root) => startRawServer(root, "chunked")],
  ["connection closed after every response", (root) => startRawServer(root, "close")],
  ["gzip whatever the client asked, no length", (root) => startRawServer(root, "gzip")],
];

let work: string;
let fx: Fixture;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "updraft-matrix-"));
  fx = await buildFixture(work);
  assert.ok(fx.fullSize > 20 * 1000 * 1000, `the full archive is ${fx.fullSize} bytes; the matrix needs 20+ MB`);
});

after(() => rm(work, { recursive: true, force: true }));

for (const [index, [name, start]] of SERVERS.entries()) {
  test(`real servers: ${RUNS} delta + full updates through ${name}, every run exact, no crash`, async () => {
    const serverWork = join(work, `server-${index}`);
    await mkdir(serverWork);
    const server = await start(fx.root, serverWork);
    try {
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < RUNS; i = next++) {
          const dir = join(serverWork, `run-${i}`);
          await cp(fx.pristine, dir, { recursive: true, verbatimSymlinks: true });
          const how = i % 2 === 0 ? "cli" : "library";
          const run = `${name}, run ${i} (${how})`;
          const delta = await updateTo(dir, `${server.url}/a`, "1.1.0", fx, how, `${run}, 1.0.0 → 1.1.0`);
          assert.ok(delta < fx.fullSize / 4, `${run}: 1.1.0 should come as a delta, fetched ${delta} bytes`);
          const full = await updateTo(dir, `${server.url}/b`, "1.2.0", fx, how, `${run}, 1.1.0 → 1.2.0`);
          assert.ok(full >= fx.fullSize, `${run}: 1.2.0 should come whole, fetched ${full} bytes`);
          await rm(dir, { recursive: true, force: true });
        }
      };
      await Promise.all(Array.from({ length: PARALLEL }, worker));
    } finally {
      await server.stop();
      await rm(serverWork, { recursive: true, force: true });
    }
  });
}

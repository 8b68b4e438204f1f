/**
 * The CLI's contract, on the real `updraft` executable as a child process against a repository
 * served on 127.0.0.1: every option value is checked before anything is done; with `--json` every
 * run prints exactly one JSON document (usage errors and interruptions included); SIGINT/SIGTERM
 * unwind cleanly and say how to resume; `--version`; the launcher's Node check; download progress
 * for `install`; user mistakes get their own codes, never INTERNAL; parallel checks share a cache.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, readlink, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { installFromRepository } from "../src/client/first-install.js";
import { installLayout } from "../src/client/install/layout.js";
import { ErrorCodes, ExitCodes, exitCodeFor } from "../src/core/errors.js";
import { type CliResult, parseJson, runCli, startCli } from "./helpers/cli.js";
import { type FaultServer, startFaultServer } from "./helpers/fault-server.js";
import { createTestRepo, publish, type TestRepo, writeBuild } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";
import { waitUntil } from "./helpers/wait.js";

const PACKAGE = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

/** A repository served by a fault server, 1.0.0 installed, 1.1.0 (with 4 MB of noise) published. */
interface Served {
  work: string;
  repo: TestRepo;
  server: FaultServer;
  appDir: string;
}

async function servedUpdate(t: TestContext, options: { install?: boolean } = {}): Promise<Served> {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  await publish(repo, work, "1.0.0", { "bin/app": "#!/bin/sh\necho 1.0.0\n" });
  const server = await startFaultServer(t, repo.repoDir);
  const appDir = join(work, "install");
  if (options.install !== false) {
    await installFromRepository({
      repoUrl: server.url,
      app: repo.app,
      installDir: appDir,
      rootSha256: repo.rootSha256,
    });
  }
  await publish(repo, work, "1.1.0", { "bin/app": "#!/bin/sh\necho 1.1.0\n", "data.bin": randomBytes(4 << 20) });
  return { work, repo, server, appDir };
}

/** The one JSON document of a `--json` run: stdout is exactly one line holding it. */
function onlyDocument(result: CliResult): Record<string, unknown> {
  assert.equal(result.stdout.trimEnd().split("\n").length, 1, `one line on stdout: ${result.stdout}`);
  return parseJson(result);
}

function errorOf(doc: Record<string, unknown>): { code: string; message: string; hint?: string } {
  assert.equal(doc.ok, false, JSON.stringify(doc));
  return doc.error as { code: string; message: string; hint?: string };
}

/** What an install folder holds that an update would change. */
async function installSnapshot(appDir: string): Promise<string> {
  const state = installLayout(appDir).stateDir;
  const entries = (await readdir(state, { recursive: true })).filter((e) => !e.startsWith("cache")).sort();
  const stateFile = await readFile(join(state, "state.json"), "utf8").catch(() => "");
  return JSON.stringify({ current: await readlink(join(appDir, "current")), entries, stateFile });
}

test("update with a bad --health-timeout (abc, 1e308, -1) is a usage error naming the flag; nothing is touched", async (t) => {
  const s = await servedUpdate(t);
  const before = await installSnapshot(s.appDir);
  const requests = s.server.log.length;
  for (const value of ["abc", "1e308", "-1", "0"]) {
    const run = await runCli(["update", "--dir", s.appDir, "--health-timeout", value, "--json"]);
    assert.equal(run.code, ExitCodes.USAGE, `${value}: ${run.stdout}${run.stderr}`);
    const error = errorOf(onlyDocument(run));
    assert.equal(error.code, ErrorCodes.USAGE);
    assert.match(error.message, /--health-timeout/);
    assert.match(error.message, /seconds from 1 to \d+/);
  }
  assert.equal(s.server.log.length, requests, "no request was made");
  assert.equal(await installSnapshot(s.appDir), before, "the install folder is as it was");
  const good = await runCli(["update", "--dir", s.appDir, "--health-timeout", "90", "--json"]);
  assert.equal(good.code, 0, good.stdout + good.stderr);
  assert.equal(await readlink(join(s.appDir, "current")), "app-1.1.0");
});

test("every command checks its option values before acting: usage error (exit 2) naming the flag", async (t) => {
  const s = await servedUpdate(t);
  const build = await writeBuild(join(s.work, "build"), { a: "a" });
  const fresh = join(s.work, "fresh");
  const before = await installSnapshot(s.appDir);
  const requests = s.server.log.length;
  const cases: [string, string[]][] = [
    ["--retries", ["check", "--dir", s.appDir, "--retries", "1.5"]],
    ["--timeout", ["check", "--dir", s.appDir, "--timeout", "0"]],
    ["--stall-timeout", ["update", "--dir", s.appDir, "--stall-timeout", "1e9"]],
    ["--wait-pid", ["update", "--dir", s.appDir, "--restart", "true", "--wait-pid", "abc"]],
    ["--dir", ["check", "--dir", ""]],
    ["--channel", ["update", "--dir", s.appDir, "--channel", "../x"]],
    ["--saau", ["check", "--dir", s.appDir, "--saau", "ftp://host/", "--app", "a"]],
    [
      "--backoff-minutes",
      ["check", "--dir", s.appDir, "--saau", s.server.url, "--app", "a", "--backoff-minutes", "-5"],
    ],
    ["--proxy", ["check", "--dir", s.appDir, "--proxy", "not a url"]],
    ["--token-env", ["check", "--dir", s.appDir, "--token-env", "A B"]],
    ["--port", ["serve", s.repo.repoDir, "--port", "http"]],
    ["--host", ["serve", s.repo.repoDir, "--host", "a b"]],
    ["url", ["install", "ftp://host/", "--app", "hello", "--dir", fresh]],
    ["--app", ["install", s.server.url, "--app", "hello world", "--dir", fresh]],
    ["--version", ["publish", build, "--repo", s.repo.repoDir, "--app", "hello", "--version", "1.x"]],
    ["--level", ["publish", build, "--repo", s.repo.repoDir, "--app", "hello", "--version", "2.0.0", "--level", "30"]],
    [
      "--deltas",
      ["publish", build, "--repo", s.repo.repoDir, "--app", "hello", "--version", "2.0.0", "--deltas", "-1"],
    ],
    [
      "--format",
      ["publish", build, "--repo", s.repo.repoDir, "--app", "hello", "--version", "2.0.0", "--format", "zip"],
    ],
    ["--url", ["init", "--repo", join(s.work, "r2"), "--app", "x", "--url", "file:///etc"]],
  ];
  for (const [flag, args] of cases) {
    const run = await runCli([...args, "--json"], { cwd: s.work });
    assert.equal(run.code, ExitCodes.USAGE, `${args.join(" ")}: ${run.stdout}${run.stderr}`);
    const error = errorOf(onlyDocument(run));
    assert.equal(error.code, ErrorCodes.USAGE, args.join(" "));
    assert.ok(error.message.includes(flag), `${args.join(" ")}: "${error.message}" names ${flag}`);
  }
  assert.equal(s.server.log.length, requests, "no request was made");
  assert.equal(await installSnapshot(s.appDir), before, "the install folder is as it was");
  await assert.rejects(stat(fresh), "no install folder was created");
  await assert.rejects(stat(join(s.work, "r2")), "no repository was created");
});

test("--json prints exactly one JSON document for usage errors: unknown flag, missing argument, typo", async () => {
  for (const args of [
    ["check", "--json", "--dir", "x", "--bogus-flag"],
    ["install", "--json"],
    ["chekc", "--json"],
    ["publish", "--json", "build"],
    ["--json"],
  ]) {
    const run = await runCli(args);
    assert.equal(run.code, ExitCodes.USAGE, args.join(" "));
    const error = errorOf(onlyDocument(run));
    assert.equal(error.code, ErrorCodes.USAGE, args.join(" "));
    assert.ok(error.message.length > 0);
  }
  const human = await runCli(["check", "--dir", "x", "--bogus-flag"]);
  assert.equal(human.code, ExitCodes.USAGE);
  assert.equal(human.stdout, "");
  assert.match(human.stderr, /error \[USAGE\]: unknown option '--bogus-flag'/);
});

test("updraft --version prints the package version (one JSON document with --json)", async () => {
  const plain = await runCli(["--version"]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout.trim(), PACKAGE.version);
  const json = await runCli(["--version", "--json"]);
  assert.equal(json.code, 0);
  assert.deepEqual(onlyDocument(json), { ok: true, version: PACKAGE.version });
});

test("--root-sha256 takes the fingerprint exactly as init prints it (sha256:, any case); a malformed pin is refused before any request", async (t) => {
  const s = await servedUpdate(t, { install: false });
  const malformed = await runCli([
    "install",
    s.server.url,
    "--app",
    s.repo.app,
    "--dir",
    s.appDir,
    "--root-sha256",
    "sha256:f8d5",
    "--json",
  ]);
  assert.equal(malformed.code, ExitCodes.USAGE);
  const error = errorOf(onlyDocument(malformed));
  assert.equal(error.code, ErrorCodes.USAGE);
  assert.match(error.message, /--root-sha256/);
  assert.equal(s.server.log.length, 0, "no request was made");
  await assert.rejects(stat(s.appDir));

  const pin = `sha256:${s.repo.rootSha256.toUpperCase()}`;
  const run = await runCli(["install", s.server.url, "--app", s.repo.app, "--dir", s.appDir, "--root-sha256", pin]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(await readlink(join(s.appDir, "current")), "app-1.1.0");
  assert.doesNotMatch(run.stderr, /Trusted the repository's root on first use/);
});

/** A Node 20 on this machine, if there is one (the launcher must explain itself to it). */
function oldNode(): string | undefined {
  for (const candidate of ["/usr/local/bin/node", "/usr/bin/node", "/bin/node"]) {
    try {
      if (execFileSync(candidate, ["--version"], { encoding: "utf8" }).startsWith("v20.")) return candidate;
    } catch {
      // not there
    }
  }
  return undefined;
}

test("on an unsupported Node the launcher says which Node it needs (exit 3, one JSON document with --json)", async () => {
  const node = oldNode();
  // Without a Node 20 here, the documented test hook makes the launcher judge version 20.
  const env = node ? {} : { UPDRAFT_TEST_NODE_VERSION: "20.20.2" };
  const command = node ?? process.execPath;
  const launcher = new URL("../src/cli/updraft.js", import.meta.url).pathname;
  const run = (args: string[]) => runCli([launcher, ...args], { command, env });
  const human = await run(["check", "--dir", "x"]);
  assert.equal(human.code, ExitCodes.CONFIG, human.stderr);
  assert.match(human.stderr, /UNSUPPORTED_RUNTIME/);
  assert.match(human.stderr, /needs Node \^22\.22\.2 \|\| \^24\.15\.0 \|\| >=26; this is Node 20\./);
  assert.doesNotMatch(human.stderr, /SyntaxError/);
  const json = await run(["check", "--dir", "x", "--json"]);
  assert.equal(json.code, ExitCodes.CONFIG);
  assert.equal(errorOf(onlyDocument(json)).code, ErrorCodes.UNSUPPORTED_RUNTIME);
});

/** Bytes of the partial archive download on disk (the `.part` file). */
async function partialDownloadBytes(appDir: string): Promise<number> {
  const dir = installLayout(appDir).downloadsDir;
  let total = 0;
  for (const name of await readdir(dir).catch(() => [])) {
    if (name.endsWith(".part")) total += (await stat(join(dir, name))).size;
  }
  return total;
}

/**
 * Starts `update` with the archive download stalled after 1 MB, and waits until the client has
 * written that megabyte to disk (so an interruption now has something to keep).
 */
async function stalledUpdate(t: TestContext, s: Served, extra: string[]) {
  s.server.addFault({ match: /\.tar\.zst$/, fault: { kind: "stall", afterBytes: 1 << 20 }, times: 1 });
  const run = startCli(t, ["update", "--dir", s.appDir, ...extra]);
  const end = Date.now() + 30_000;
  while ((await partialDownloadBytes(s.appDir)) < 1 << 20) {
    if (Date.now() > end || run.child.exitCode !== null) throw new Error(`No first megabyte on disk: ${run.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return run;
}

test("SIGINT during update --json: one ABORTED document, exit 4, partial download kept, and the next run resumes", async (t) => {
  const s = await servedUpdate(t);
  const run = await stalledUpdate(t, s, ["--json"]);
  run.child.kill("SIGINT");
  const { code } = await run.exited;
  assert.equal(code, exitCodeFor(ErrorCodes.ABORTED));
  const doc = onlyDocument({ code, stdout: run.stdout(), stderr: run.stderr() });
  const error = errorOf(doc);
  assert.equal(error.code, ErrorCodes.ABORTED);
  assert.match(error.hint ?? "", /run the same command again/i);
  assert.ok((await partialDownloadBytes(s.appDir)) > 0, "the partial download is kept");
  // Unwound through the AbortSignal, not cut off: the lock was released on the way out.
  await assert.rejects(stat(installLayout(s.appDir).lockFile), "the lock is released");
  assert.equal(await readlink(join(s.appDir, "current")), "app-1.0.0");

  const again = await runCli(["update", "--dir", s.appDir, "--json"]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal(await readlink(join(s.appDir, "current")), "app-1.1.0");
  const resumed = s.server.log.filter((r) => r.path.endsWith(".tar.zst")).at(-1);
  assert.match(resumed?.range ?? "", /^bytes=[1-9]\d*-/, "the second run resumed the download");
});

test("SIGINT during install --json: one ABORTED document, exit 4", async (t) => {
  const s = await servedUpdate(t, { install: false });
  s.server.addFault({ match: /\.tar\.zst$/, fault: { kind: "stall", afterBytes: 1 << 20 }, times: 1 });
  const run = startCli(t, ["install", s.server.url, "--app", s.repo.app, "--dir", s.appDir, "--json"]);
  await waitUntil(
    () => s.server.log.some((r) => r.path.endsWith(".tar.zst") && r.bytesSent >= 1 << 20),
    "the first megabyte of the archive",
  );
  run.child.kill("SIGINT");
  const { code } = await run.exited;
  assert.equal(code, exitCodeFor(ErrorCodes.ABORTED));
  assert.equal(errorOf(onlyDocument({ code, stdout: run.stdout(), stderr: run.stderr() })).code, ErrorCodes.ABORTED);
});

test("SIGTERM during update (no terminal): says how to resume, exit 4", async (t) => {
  const s = await servedUpdate(t);
  const run = await stalledUpdate(t, s, []);
  run.child.kill("SIGTERM");
  const { code } = await run.exited;
  assert.equal(code, exitCodeFor(ErrorCodes.ABORTED));
  assert.match(run.stderr(), /interrupted: run the same command again to resume/);
});

test("Ctrl-C on a terminal stops the progress bar and says how to resume", async (t) => {
  const s = await servedUpdate(t);
  s.server.addFault({ match: /\.tar\.zst$/, fault: { kind: "stall", afterBytes: 1 << 20 }, times: 1 });
  const cli = new URL("../src/cli/updraft.js", import.meta.url).pathname;
  // `script` gives the CLI a terminal; Ctrl-C typed into it reaches the CLI as SIGINT.
  // `exec`: the CLI replaces the shell that `script` starts. Otherwise a shell that waits for it
  // (dash, as /bin/sh) also gets the Ctrl-C, dies of it, and `script` reports the shell's 130.
  const command = `exec ${[process.execPath, cli, "update", "--dir", s.appDir].map((a) => `'${a}'`).join(" ")}`;
  const run = startCli(t, ["-qefc", command, "/dev/null"], { command: "script" });
  await waitUntil(() => /downloading \[/.test(run.stdout()), "the progress bar");
  await waitUntil(
    () => s.server.log.some((r) => r.path.endsWith(".tar.zst") && r.bytesSent >= 1 << 20),
    "the first megabyte of the archive",
  );
  run.child.stdin.write("\x03");
  const { code } = await run.exited;
  assert.equal(code, exitCodeFor(ErrorCodes.ABORTED), run.stdout());
  const after = run.stdout().slice(run.stdout().lastIndexOf("downloading ["));
  assert.match(after, /interrupted: run the same command again to resume/);
});

test("install shows download progress on stderr (plain lines when not on a terminal)", async (t) => {
  const s = await servedUpdate(t, { install: false });
  const run = await runCli(["install", s.server.url, "--app", s.repo.app, "--dir", s.appDir]);
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stderr.split("\n").filter((l) => /downloading \d+%/.test(l));
  assert.ok(lines.length >= 2, run.stderr);
  assert.match(lines.at(-1)!, /downloading 100% /);
  const json = await runCli(["install", s.server.url, "--app", s.repo.app, "--dir", join(s.work, "j"), "--json"]);
  assert.equal(json.code, 0);
  assert.equal(json.stderr.includes("downloading"), false, "--json stays quiet on stderr");
});

test("an unknown channel is a configuration problem (exit 3) naming the channels that exist", async (t) => {
  const s = await servedUpdate(t);
  const run = await runCli(["check", "--dir", s.appDir, "--channel", "beta", "--json"]);
  assert.equal(run.code, ExitCodes.CONFIG, run.stdout);
  const error = errorOf(onlyDocument(run));
  assert.equal(error.code, ErrorCodes.CHANNEL_NOT_FOUND);
  assert.match(error.message, /no channel "beta".*stable/);
});

test("install --root: a missing file or an endless one (/dev/zero) is a usage error, read within a cap", async (t) => {
  const s = await servedUpdate(t, { install: false });
  for (const root of [join(s.work, "nonexistent.json"), "/dev/zero", s.work]) {
    const run = await runCli(["install", s.server.url, "--app", "hello", "--dir", s.appDir, "--root", root, "--json"]);
    assert.equal(run.code, ExitCodes.USAGE, `${root}: ${run.stdout}${run.stderr}`);
    const error = errorOf(onlyDocument(run));
    assert.equal(error.code, ErrorCodes.USAGE);
    assert.ok(error.message.includes(`--root ${root}`), error.message);
  }
  assert.equal(s.server.log.length, 0);
  await assert.rejects(stat(s.appDir));
});

test("a file system mistake outside the library's own checks is FILE_ERROR naming the path, not INTERNAL", async (t) => {
  const work = await tempDir(t);
  const run = await runCli(["keys", "generate", "--out", "/dev/null/keys", "--json"], { cwd: work });
  const error = errorOf(onlyDocument(run));
  assert.equal(error.code, ErrorCodes.FILE_ERROR);
  assert.match(error.message, /\/dev\/null\/keys/);
  assert.equal(run.code, ExitCodes.INSTALL);
});

test("parallel checks on an empty cache all succeed (bounded rounds, real processes, real server)", async (t) => {
  const s = await servedUpdate(t);
  const cache = installLayout(s.appDir).cacheDir;
  const started = Date.now();
  for (let round = 0; round < 10 && Date.now() - started < 60_000; round++) {
    await rm(cache, { recursive: true, force: true });
    await mkdir(cache, { recursive: true });
    const runs = await Promise.all(Array.from({ length: 6 }, () => runCli(["check", "--dir", s.appDir, "--json"])));
    for (const run of runs) {
      assert.equal(run.code, ExitCodes.UPDATE_AVAILABLE, `round ${round}: ${run.stdout}${run.stderr}`);
      assert.equal(onlyDocument(run).latestVersion, "1.1.0");
    }
  }
});

test("update --json reports every byte it fetched (metadata, manifest and payload), and the payload apart", async (t) => {
  const s = await servedUpdate(t);
  const before = s.server.log.length;
  const run = await runCli(["update", "--dir", s.appDir, "--json"]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const doc = onlyDocument(run);
  const served = s.server.log.slice(before);
  const sent = served.reduce((sum, r) => sum + r.bytesSent, 0);
  const archive = served.filter((r) => r.path.endsWith(".tar.zst") || r.path.includes("/deltas/"));
  assert.equal(doc.bytesDownloaded, sent, "what the server sent, every request counted");
  assert.equal(
    doc.artifactBytes,
    archive.reduce((sum, r) => sum + r.bytesSent, 0),
    "the payload alone",
  );
  assert.ok(Number(doc.bytesDownloaded) > Number(doc.artifactBytes), "signed metadata is counted too");
});

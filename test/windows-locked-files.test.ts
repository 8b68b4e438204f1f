/**
 * Files held the way Windows holds them, on Linux: the real `updraft` runs with an LD_PRELOAD shim
 * (test/fixtures/ebusy-shim.c) that makes rename/unlink/rmdir fail with EBUSY for chosen paths.
 * Transient locks everywhere are waited out (the update completes, the tree exact); a lock that
 * lasts on the pointer, a file of the new version, a running program or a state file rolls back
 * to exactly the old version with FILE_LOCKED (exit 9), and bans nothing in native mode (SAAU
 * keeps its HitVersion rule, the reason saying it was a lock); a SIGKILL while a retry waits ends
 * with exactly the old or the new version, runnable.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { promisify } from "node:util";
import { exitCodeFor } from "../src/core/errors.js";
import { parseJson, runCli } from "./helpers/cli.js";
import { buildShim, type ShimRule, shimEnv } from "./helpers/ebusy-shim.js";
import { FILE_RETRY_STEPS, killAt } from "./helpers/fault-steps.js";
import { installedApp } from "./helpers/installed.js";
import { serveStatic } from "./helpers/publish-fixtures.js";
import { manifestDigest, publish, signedManifest, treeDigest } from "./helpers/repo.js";
import { actualSet, expectedSet, installByHand, publishByHand, tsprintFiles } from "./helpers/saau.js";
import { tempDir } from "./helpers/tmp.js";

const run = promisify(execFile);
/**
 * What the install engines and recovery do not own, left alone by the "every path" runs: the
 * install lock, the network side's metadata cache, downloads and the SAAU source's unpack folder.
 */
const NOT_THE_ENGINES = [
  "/.updraft/lock",
  "/.updraft/cache/",
  "/.updraft/tuf",
  "/.updraft/downloads/",
  "/.updraft/unpack/",
];
/** A short budget for the locks that last: the test waits it out once per locked operation. */
const SHORT_BUDGET = { UPDRAFT_FILE_LOCK_BUDGET_MS: "400" };

const release = (version: string) => ({
  "app.sh": `#!/bin/sh\ncat "$(dirname "$0")/lib/version.txt"\n`,
  "lib/version.txt": `${version}\n`,
  "lib/app.dll": `dll of ${version}\n`.repeat(20),
  [`lib/only-in-${version}.txt`]: "x\n",
});

/** A native install of 1.0.0 with 1.1.0 published. */
async function nativeSetup(t: TestContext) {
  const app = await installedApp(t, release("1.0.0"));
  await publish(app.repo, app.work, "1.1.0", release("1.1.0"));
  return app;
}

/** The version the install runs: its `current` tree is exactly that release and it starts. */
async function nativeVersion(appDir: string, app: Awaited<ReturnType<typeof nativeSetup>>): Promise<string> {
  const tree = await treeDigest(join(appDir, "current/"));
  let which: string | undefined;
  for (const v of ["1.0.0", "1.1.0"]) {
    try {
      assert.deepEqual(tree, manifestDigest(await signedManifest(app.repo, v)));
      which = v;
    } catch {}
  }
  assert.ok(which, "the tree is exactly one release");
  const started = await run("sh", [join(appDir, "current", "app.sh")]);
  assert.equal(started.stdout.trim(), which, "the app starts");
  const status = parseJson(await runCli(["status", "--dir", appDir, "--json"]));
  assert.equal(status.currentVersion, which, "the state agrees");
  return which;
}

function updateWithShim(appDir: string, shim: string, rule: ShimRule, env: NodeJS.ProcessEnv = {}) {
  return runCli(["update", "--dir", appDir], { env: { ...shimEnv(shim, rule), ...env }, limitMs: 120_000 });
}

async function refusals(log: string): Promise<string[]> {
  return (await readFile(log, "utf8").catch(() => "")).split("\n").filter(Boolean);
}

test("native: every rename/unlink/rmdir in the install folder refused twice: the update waits them out and completes", async (t) => {
  const shim = await buildShim();
  const app = await nativeSetup(t);
  const log = join(app.work, "refused.log");
  const r = await updateWithShim(app.appDir, shim, { match: [`${app.appDir}/`], skip: NOT_THE_ENGINES, log });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stderr, /is in use \(EBUSY\); trying again/, "the retries are reported");
  const refused = await refusals(log);
  for (const call of ["rename", "unlink", "rmdir"]) {
    assert.ok(
      refused.some((l) => l.startsWith(`${call} `)),
      `${call} was refused: ${refused.join("\n")}`,
    );
  }
  assert.ok(
    refused.some((l) => l.startsWith(`rename ${app.appDir}/.current-`)),
    "the pointer switch was refused",
  );
  assert.equal(await nativeVersion(app.appDir, app), "1.1.0");
});

test("native: a lock that lasts on each kind of path rolls back to exactly 1.0.0, FILE_LOCKED, and bans nothing", async (t) => {
  const shim = await buildShim();
  const app = await nativeSetup(t);
  const cases: { what: string; rule: ShimRule; names: RegExp }[] = [
    { what: "the current pointer", rule: { match: [`${app.appDir}/current`], calls: ["rename"] }, names: /current/ },
    { what: "a file of the new version", rule: { match: ["app-1.1.0"] }, names: /app-1\.1\.0/ },
    { what: "a state file", rule: { match: [".updraft/state.json"], calls: ["rename"] }, names: /state\.json/ },
    { what: "the journal", rule: { match: [".updraft/journal.json"], calls: ["rename"] }, names: /journal\.json/ },
  ];
  for (const { what, rule, names } of cases) {
    const r = await updateWithShim(app.appDir, shim, { ...rule, fails: -1 }, SHORT_BUDGET);
    assert.equal(r.code, exitCodeFor("FILE_LOCKED"), `${what}: ${r.stdout}${r.stderr}`);
    assert.equal(r.code, 9);
    assert.match(r.stderr, /FILE_LOCKED/, what);
    assert.match(r.stderr, names, `${what}: the message names the file`);
    assert.match(r.stderr, /antivirus|running/, `${what}: the message says what usually holds it`);
    assert.equal(await nativeVersion(app.appDir, app), "1.0.0", what);
    const state = JSON.parse(await readFile(join(app.appDir, ".updraft", "state.json"), "utf8"));
    assert.notEqual(state.attempts?.["1.1.0"]?.outcome, "failed", `${what}: a lock is not the release's fault`);
    const check = await runCli(["check", "--dir", app.appDir, "--json"]);
    assert.equal(check.code, 10, `${what}: 1.1.0 is offered again at once: ${check.stdout}`);
    assert.equal(await nativeVersion(app.appDir, app), "1.0.0", `${what}: recovery settled it`);
    const names2 = await readdir(app.appDir);
    assert.ok(!names2.includes("app-1.1.0"), `${what}: no half-installed version is left: ${names2}`);
  }
  const r = await runCli(["update", "--dir", app.appDir, "--json"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(await nativeVersion(app.appDir, app), "1.1.0", "once the lock is gone the update goes through");
});

test("native: SIGKILL while a retry waits on the pointer, recovery leaves exactly 1.0.0 or 1.1.0, runnable", async (t) => {
  const shim = await buildShim();
  const app = await nativeSetup(t);
  const r = await updateWithShim(
    app.appDir,
    shim,
    { match: [`${app.appDir}/current`], calls: ["rename"] },
    killAt(FILE_RETRY_STEPS[0]),
  );
  assert.equal(r.signal ?? r.code, "SIGKILL", r.stdout + r.stderr);
  const recovered = await runCli(["recover", "--dir", app.appDir, "--json"]);
  assert.equal(recovered.code, 0, recovered.stderr);
  const which = await nativeVersion(app.appDir, app);
  t.diagnostic(`killed mid-retry on the pointer -> ${which}`);
  const again = await runCli(["update", "--dir", app.appDir, "--json"]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal(await nativeVersion(app.appDir, app), "1.1.0");
});

/** A SAAU app folder at 10.0.1.0 with 10.0.2.0 published. */
async function saauSetup(t: TestContext) {
  const work = await tempDir(t);
  const repo = join(work, "updates");
  const appDir = join(work, "TSPrint");
  await installByHand(appDir, "10.0.1.0", tsprintFiles("10.0.1.0"));
  await mkdir(repo, { recursive: true });
  const server = await serveStatic(repo);
  t.after(() => server.close());
  await publishByHand(repo, "10.0.2.0", tsprintFiles("10.0.2.0"));
  const args = ["--dir", appDir, "--saau", server.url, "--app", "TSPrint", "--json"];
  const setOf = async (version: string) => {
    const expected = await expectedSet(tsprintFiles(version), version);
    try {
      assert.deepEqual(await actualSet(appDir, expected.keys()), expected);
      return true;
    } catch {
      return false;
    }
  };
  return { work, appDir, args, setOf };
}

test("SAAU in place: transient locks on every path are waited out, the new set exact", async (t) => {
  const shim = await buildShim();
  const s = await saauSetup(t);
  const log = join(s.work, "refused.log");
  const r = await runCli(["update", ...s.args], {
    env: shimEnv(shim, { match: [`${s.appDir}/`], skip: NOT_THE_ENGINES, log }),
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(parseJson(r).version, "10.0.2.0");
  assert.ok(await s.setOf("10.0.2.0"), "the complete 10.0.2.0 set is in place");
  assert.ok((await refusals(log)).some((l) => l === `rename ${s.appDir}/TSPrint.exe`));
});

test("SAAU in place: TSPrint.exe locked for good: old set kept, FILE_LOCKED, HitVersion holds 10.0.2.0 back with the reason", async (t) => {
  const shim = await buildShim();
  const s = await saauSetup(t);
  const r = await runCli(["update", ...s.args], {
    env: { ...shimEnv(shim, { match: [`${s.appDir}/TSPrint.exe`], fails: -1 }), ...SHORT_BUDGET },
  });
  assert.equal(r.code, 9, r.stdout + r.stderr);
  const error = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
  assert.equal(error.code, "FILE_LOCKED");
  assert.match(error.message, /TSPrint\.exe/);
  assert.match(error.message, /still running|antivirus/);
  assert.ok(await s.setOf("10.0.1.0"), "the complete 10.0.1.0 set is in place");
  const state = JSON.parse(await readFile(join(s.appDir, ".updraft", "state.json"), "utf8"));
  assert.equal(state.attempts["10.0.2.0"].outcome, "failed");
  assert.match(state.attempts["10.0.2.0"].reason, /file locked, not the release's fault \(HitVersion\)/);
  const check = parseJson(await runCli(["check", ...s.args]));
  assert.equal((check.skipped as { version: string }).version, "10.0.2.0");
});

test("SAAU in place: a running TSPrint.exe (rename allowed, delete refused) is updated, and its old copy deleted once it exits", async (t) => {
  const shim = await buildShim();
  const s = await saauSetup(t);
  const log = join(s.work, "refused.log");
  // Wherever the running program is moved to, it stays running: it is never deleted.
  const where = [
    `${s.appDir}/TSPrint.exe`,
    "/backup/new/TSPrint.exe",
    "/backup/previous/TSPrint.exe",
    "/previous.old-",
  ];
  const running = shimEnv(shim, { match: where, fails: -1, calls: ["unlink", "rmdir"], log });
  const first = await runCli(["update", ...s.args], { env: running });
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.ok(await s.setOf("10.0.2.0"));
  // The next update replaces the kept set, which holds the old TSPrint.exe, still "running".
  await publishByHand(join(s.work, "updates"), "10.0.3.0", tsprintFiles("10.0.3.0"));
  const second = await runCli(["update", ...s.args], { env: running });
  assert.equal(second.code, 0, second.stdout + second.stderr);
  assert.ok(await s.setOf("10.0.3.0"));
  assert.ok((await refusals(log)).some((l) => /^unlink .*backup\/previous\/TSPrint\.exe$/.test(l)));
  const backup = join(s.appDir, ".updraft", "backup");
  assert.equal((await readdir(backup)).filter((n) => n.startsWith("previous.old-")).length, 1, "moved aside");
  // It has exited: the next run deletes the leftover.
  const check = await runCli(["check", ...s.args]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.deepEqual(await readdir(backup), ["previous"]);
});

test("SAAU in place: SIGKILL while a retry waits on the second file, recovery leaves exactly the old or the new set", async (t) => {
  const shim = await buildShim();
  const s = await saauSetup(t);
  const r = await runCli(["update", ...s.args], {
    env: { ...shimEnv(shim, { match: [`${s.appDir}/TSImgCap.exe`] }), ...killAt(FILE_RETRY_STEPS[0]) },
  });
  assert.equal(r.signal ?? r.code, "SIGKILL", r.stdout + r.stderr);
  const check = await runCli(["check", ...s.args]);
  assert.ok(check.code === 0 || check.code === 10, check.stdout + check.stderr);
  const old = await s.setOf("10.0.1.0");
  assert.ok(old || (await s.setOf("10.0.2.0")), "exactly one complete set");
  t.diagnostic(`killed mid-retry on TSImgCap.exe -> ${old ? "10.0.1.0" : "10.0.2.0"}`);
  const update = await runCli(["update", ...s.args]);
  assert.equal(update.code, 0, update.stdout + update.stderr);
  assert.ok(await s.setOf("10.0.2.0"));
});

/**
 * Failed SAAU updates (a listed file missing from the zip, a label whose count is wrong, an app
 * folder that is not writable, the updater killed mid-swap) leave the complete old set of files.
 * A broken release is recorded as failed, and `check` then refuses that version for the back-off
 * window (reporting `skipped`) while accepting a newer one at once; a failure of the machine or an
 * interruption bans nothing: the next run tries the same version again.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, chown, mkdir, readdir, readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type TestContext, test } from "node:test";
import { inPlaceFileStep } from "../src/core/fault.js";
import { CLI, type CliResult, parseJson, runCli } from "./helpers/cli.js";
import { killAt } from "./helpers/fault-steps.js";
import { serveStatic } from "./helpers/publish-fixtures.js";
import {
  actualSet,
  expectedSet,
  installByHand,
  labelText,
  publishByHand,
  type SaauFile,
  tsprintFiles,
} from "./helpers/saau.js";
import { tempDir } from "./helpers/tmp.js";

interface Setup {
  work: string;
  appDir: string;
  repo: string;
  url: string;
  v1: SaauFile[];
}

async function setup(t: TestContext): Promise<Setup> {
  const work = await tempDir(t);
  const repo = join(work, "updates");
  const appDir = join(work, "TSPrint");
  const v1 = tsprintFiles("10.0.1.0");
  await installByHand(appDir, "10.0.1.0", v1);
  await mkdir(repo, { recursive: true });
  const server = await serveStatic(repo);
  t.after(() => server.close());
  return { work, appDir, repo, url: server.url, v1 };
}

const saauArgs = (s: Setup) => ["--dir", s.appDir, "--saau", s.url, "--app", "TSPrint", "--json"];

async function assertOldSetIntact(s: Setup): Promise<void> {
  const expected = await expectedSet(s.v1, "10.0.1.0");
  assert.deepEqual(await actualSet(s.appDir, expected.keys()), expected, "the complete 10.0.1.0 set is in place");
  const top = (await readdir(s.appDir)).sort();
  assert.deepEqual(top, [".updraft", "TSFingerCap_NIT.exe", "TSImgCap.exe", "TSPrint.exe", "lib", "versao.txt"]);
}

/** The recorded attempt, check refusing 10.0.2.0 for the back-off window, then accepting 10.0.3.0. */
async function assertBackoffThenNewer(s: Setup, reason: RegExp): Promise<void> {
  const state = JSON.parse(await readFile(join(s.appDir, ".updraft", "state.json"), "utf8"));
  assert.equal(state.attempts["10.0.2.0"].outcome, "failed", JSON.stringify(state));
  assert.match(state.attempts["10.0.2.0"].reason, reason);

  const check = await runCli(["check", ...saauArgs(s)]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const c = parseJson(check);
  assert.equal(c.updateAvailable, false);
  const skipped = c.skipped as { version: string; reason: string; retryAfter: string };
  assert.equal(skipped.version, "10.0.2.0");
  assert.match(skipped.reason, reason);
  const retryAfter = Date.parse(skipped.retryAfter);
  const attemptedAt = Date.parse(state.attempts["10.0.2.0"].at);
  assert.equal(retryAfter - attemptedAt, 2 * 60 * 60 * 1000, "the default back-off window is 2 hours");

  const update = await runCli(["update", ...saauArgs(s)]);
  assert.equal(update.code, 0);
  assert.equal(parseJson(update).updated, false, "update does not retry the failed version either");
  await assertOldSetIntact(s);

  await publishByHand(s.repo, "10.0.3.0", tsprintFiles("10.0.3.0"));
  const newer = await runCli(["check", ...saauArgs(s)]);
  assert.equal(newer.code, 10, newer.stdout + newer.stderr);
  assert.equal(parseJson(newer).latestVersion, "10.0.3.0");
}

/** The failure was not the release's: nothing is banned, the next check offers the same version. */
async function assertOfferedAgain(s: Setup): Promise<void> {
  const state = JSON.parse(await readFile(join(s.appDir, ".updraft", "state.json"), "utf8"));
  assert.notEqual(state.attempts?.["10.0.2.0"]?.outcome, "failed", JSON.stringify(state));
  const check = await runCli(["check", ...saauArgs(s)]);
  assert.equal(check.code, 10, check.stdout + check.stderr);
  const c = parseJson(check);
  assert.equal(c.latestVersion, "10.0.2.0");
  assert.equal(c.skipped, undefined);
}

function errorOf(r: CliResult): { code: string; message: string } {
  return parseJson(r).error as { code: string; message: string };
}

test("a listed file missing from the zip: refused, old set kept, attempt recorded, back-off", async (t) => {
  const s = await setup(t);
  await publishByHand(s.repo, "10.0.2.0", tsprintFiles("10.0.2.0"), {
    zipOverride: (entries) => {
      delete entries["TSImgCap.exe"];
    },
  });
  const r = await runCli(["update", ...saauArgs(s)]);
  assert.equal(r.code, 5, r.stdout + r.stderr);
  assert.equal(errorOf(r).code, "ARCHIVE_INVALID");
  assert.match(errorOf(r).message, /lacks "TSImgCap\.exe", listed as file2 on line 6 of versao\.txt/);
  await assertOldSetIntact(s);
  await assertBackoffThenNewer(s, /lacks "TSImgCap\.exe"/);
});

test("a listed file only inside a folder of the zip counts as missing (folders are ignored)", async (t) => {
  const s = await setup(t);
  await publishByHand(s.repo, "10.0.2.0", tsprintFiles("10.0.2.0"), {
    zipOverride: (entries) => {
      entries["bin/TSImgCap.exe"] = entries["TSImgCap.exe"]!;
      delete entries["TSImgCap.exe"];
    },
  });
  const r = await runCli(["update", ...saauArgs(s)]);
  assert.equal(r.code, 5);
  assert.match(
    errorOf(r).message,
    /"TSImgCap\.exe" \(file2, line 6 of versao\.txt\) is inside a folder \("bin\/TSImgCap\.exe"\)/,
  );
  await assertOldSetIntact(s);
});

test("a label whose count is wrong: refused naming the line, old set kept, attempt recorded, back-off", async (t) => {
  const s = await setup(t);
  const files = tsprintFiles("10.0.2.0");
  await publishByHand(s.repo, "10.0.2.0", files, { label: labelText("10.0.2.0", files, 5) });
  const r = await runCli(["update", ...saauArgs(s)]);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.equal(errorOf(r).code, "LABEL_INVALID");
  assert.match(errorOf(r).message, /Invalid versao\.txt, line 4: count=5 but file5 is missing/);
  await assertOldSetIntact(s);
  await assertBackoffThenNewer(s, /line 4: count=5/);
});

test("the zip's copy of versao.txt differing from the published label is refused", async (t) => {
  const s = await setup(t);
  const files = tsprintFiles("10.0.2.0");
  await publishByHand(s.repo, "10.0.2.0", files, {
    zipOverride: (entries) => {
      entries["versao.txt"] = labelText("10.0.2.0", files.slice(0, 3));
    },
  });
  const r = await runCli(["update", ...saauArgs(s)]);
  assert.equal(r.code, 5);
  assert.match(
    errorOf(r).message,
    /copy of versao\.txt inside tsprint_v10\.0\.2\.0\.zip .* differs from the published label/,
  );
  await assertOldSetIntact(s);
});

test("the app folder not writable: the swap fails, old set kept, no back-off (the machine, not the release)", async (t) => {
  const s = await setup(t);
  await publishByHand(s.repo, "10.0.2.0", tsprintFiles("10.0.2.0"));
  const stateDir = join(s.appDir, ".updraft");
  await mkdir(stateDir, { recursive: true });
  let run: (args: string[]) => Promise<CliResult>;
  if (process.getuid?.() === 0) {
    // Root ignores permissions: run the updater as an unprivileged user who owns only .updraft/.
    const NOBODY = 65534;
    // The user must reach the work folder, the Node binary and the CLI (a checkout may sit in a
    // 0700 folder): open the search bit on root-owned ancestors, and put the modes back afterwards.
    const opened = new Map<string, number>();
    for (const start of [s.work, dirname(process.execPath), dirname(CLI)]) {
      for (let d = start; d !== "/"; d = dirname(d)) {
        const st = await stat(d);
        if (st.uid === 0 && (st.mode & 0o005) !== 0o005 && !opened.has(d)) {
          opened.set(d, st.mode & 0o7777);
          await chmod(d, st.mode | 0o005);
        }
      }
    }
    t.after(async () => {
      for (const [d, mode] of opened) await chmod(d, mode).catch(() => {});
    });
    await chown(stateDir, NOBODY, NOBODY);
    await chmod(s.appDir, 0o755);
    run = (args) =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [CLI, ...args], {
          uid: NOBODY,
          gid: NOBODY,
          stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => {
          stdout += d;
        });
        child.stderr.on("data", (d: Buffer) => {
          stderr += d;
        });
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
      });
    const probe = await run(["--help"]).catch((err: Error) => ({ code: -1, stdout: "", stderr: err.message }));
    if (probe.code !== 0) {
      t.skip(`cannot run the updater as an unprivileged user here: ${probe.stderr.trim()}`);
      return;
    }
  } else {
    await chmod(s.appDir, 0o555);
    await chmod(join(s.appDir, "lib"), 0o555);
    t.after(() => chmod(s.appDir, 0o755));
    run = runCli;
  }
  const r = await run(["update", ...saauArgs(s)]);
  assert.equal(r.code, 6, r.stdout + r.stderr);
  assert.equal(errorOf(r).code, "INSTALL_FAILED");
  await assertOldSetIntact(s);
  await assertOfferedAgain(s);
});

test("the updater killed mid-swap: recovery puts back the old set, no back-off, the next update installs it", async (t) => {
  const s = await setup(t);
  await publishByHand(s.repo, "10.0.2.0", tsprintFiles("10.0.2.0"));
  // SIGKILL right after the second original was moved aside, before its replacement moved in.
  const killed = await runCli(["update", ...saauArgs(s)], { env: killAt(inPlaceFileStep("backup", 2)) });
  assert.equal(killed.code, null, "the updater was killed");
  await assert.rejects(stat(join(s.appDir, "TSImgCap.exe")), "the swap really was half done");
  // The next run of the updater (the app's next start) recovers first.
  const status = await runCli(["check", ...saauArgs(s)]);
  assert.equal(status.code, 10, status.stdout + status.stderr);
  await assertOldSetIntact(s);
  await assertOfferedAgain(s);
  const again = await runCli(["update", ...saauArgs(s)]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal(parseJson(again).version, "10.0.2.0");
  const expected = await expectedSet(tsprintFiles("10.0.2.0"), "10.0.2.0");
  assert.deepEqual(await actualSet(s.appDir, expected.keys()), expected, "the complete 10.0.2.0 set is in place");
});

/**
 * The restart helper's own entry point: started with one JSON job document, it runs the job
 * (wait for the app to exit, swap a prepared in-place install, restart the app), and it refuses
 * any malformed document with a usage error that names the problem, before touching anything.
 * Real helper processes on a real app folder.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdir, readFile, readlink, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { test } from "node:test";
import { prepareInPlace } from "../src/client/install/in-place.js";
import { HELPER_ENTRY, spawnRestartHelper } from "../src/client/runtime/restart-helper.js";
import { ExitCodes } from "../src/core/errors.js";
import { inPlaceAppAt100 } from "./helpers/installed.js";
import { tempDir } from "./helpers/tmp.js";
import { waitFor } from "./helpers/wait.js";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runHelper(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HELPER_ENTRY, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The PID of a process that has already exited. */
function exitedPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    child.once("error", reject);
    child.once("exit", () => resolve(child.pid!));
  });
}

/** Every file under `dir` with its contents, for before/after comparisons. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    out[relative(dir, full)] = await readFile(full, "utf8");
  }
  return out;
}

/** An in-place app folder at 1.0.0 with 1.1.0 prepared, and a command that records its start. */
async function preparedApp(t: import("node:test").TestContext) {
  const { work, appDir, layout } = await inPlaceAppAt100(t);
  const next = join(work, "next.txt");
  await writeFile(next, "1.1.0");
  await prepareInPlace(layout, { version: "1.1.0", files: [{ path: "app.txt", source: next }] });
  const marker = join(work, "started.txt");
  const command = [process.execPath, "-e", `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "started")`];
  const job = { job: "restart", waitPid: await exitedPid(), command, cwd: appDir, applyPrepared: appDir };
  return { appDir, marker, job };
}

test("the helper entry runs a well-formed restart job: swaps the prepared files and starts the app", async (t) => {
  const { appDir, marker, job } = await preparedApp(t);
  const run = await runHelper([JSON.stringify(job)]);
  assert.equal(run.code, ExitCodes.OK, run.stderr);
  assert.equal(await readFile(join(appDir, "app.txt"), "utf8"), "1.1.0");
  assert.match(run.stderr, /replaced the files of 1\.0\.0 with 1\.1\.0/);
  await waitFor("the restarted app to record its start", () => readFile(marker, "utf8").catch(() => undefined));
});

test("the helper entry refuses a malformed job document with a clear message and touches nothing", async (t) => {
  const { appDir, job } = await preparedApp(t);
  const before = await snapshot(appDir);
  const cases: [what: string, args: string[], problem: RegExp][] = [
    ["no argument", [], /expected one JSON argument, got 0/],
    ["two arguments", [JSON.stringify(job), "extra"], /expected one JSON argument, got 2/],
    ["not JSON", ["{job: restart"], /not JSON/],
    ["a list", [JSON.stringify([job])], /must be a JSON object/],
    [
      "an unknown job",
      [JSON.stringify({ ...job, job: "reboot" })],
      /"job" must be "restart", "watch-uptime" or "report"/,
    ],
    ["a negative PID", [JSON.stringify({ ...job, waitPid: -1 })], /"waitPid" must be a positive integer/],
    ["a PID as text", [JSON.stringify({ ...job, waitPid: "1" })], /"waitPid" must be a positive integer/],
    ["an empty command", [JSON.stringify({ ...job, command: [] })], /"command" must be a non-empty list/],
    ["a command of numbers", [JSON.stringify({ ...job, command: [1] })], /"command" must be a non-empty list/],
    ["a relative cwd", [JSON.stringify({ ...job, cwd: "app" })], /"cwd" must be an absolute path/],
    [
      "a relative folder to swap",
      [JSON.stringify({ ...job, applyPrepared: "app" })],
      /"applyPrepared" must be an absolute path/,
    ],
    ["an unknown field", [JSON.stringify({ ...job, env: { A: "1" } })], /unknown field "env"/],
    ["an uptime watch without a PID", [JSON.stringify({ job: "watch-uptime", dir: appDir })], /"pid" must be/],
    [
      "a report to a file URL",
      [JSON.stringify({ job: "report", url: "file:///etc/passwd", report: {} })],
      /"url" must be/,
    ],
    [
      "a report that names the machine",
      [
        JSON.stringify({
          job: "report",
          url: "http://127.0.0.1:9/_events",
          report: { schema: 1, app: "a", event: "installed", to: "1.0.0", platform: "linux-x64", installId: "my-host" },
        }),
      ],
      /"report": installId must be a random UUID/,
    ],
  ];
  for (const [what, args, problem] of cases) {
    const run = await runHelper(args);
    assert.equal(run.code, ExitCodes.USAGE, `${what}: ${run.stderr}`);
    assert.match(run.stderr, /^updraft helper: error \[USAGE\]: Invalid helper job: /, what);
    assert.match(run.stderr, problem, what);
    assert.equal(run.stdout, "", what);
  }
  // The prepared swap is still waiting, the old files are in place.
  assert.deepEqual(await snapshot(appDir), before);
});

test("starting the helper with a log file leaves no descriptor of that file open in the calling app", async (t) => {
  const work = await tempDir(t);
  const logFile = join(work, "logs", "helper.log");
  const openOnLog = async () => {
    let n = 0;
    for (const fd of await readdir("/proc/self/fd")) {
      const target = await readlink(join("/proc/self/fd", fd)).catch(() => "");
      if (target === logFile) n++;
    }
    return n;
  };
  // The helper waits for a process that has exited, then runs a command that exits at once.
  const pid = await spawnRestartHelper({
    waitPid: await exitedPid(),
    command: [process.execPath, "-e", ""],
    cwd: work,
    logFile,
  });
  assert.ok(pid > 0);
  assert.equal(await openOnLog(), 0, "the app keeps no descriptor of the helper's log");
});

test("a prepared plan Updraft could not have written (../ path, wrong shape, not JSON) is discarded, and nothing it names is touched", async (t) => {
  const planted: [what: string, content: string][] = [
    [
      "a ../ path",
      JSON.stringify({
        schema: 1,
        version: "1.1.0",
        files: [{ path: "../victim.txt", sha256: "a".repeat(64), size: 5 }],
        remove: [],
      }),
    ],
    ["removing outside", JSON.stringify({ schema: 1, version: "1.1.0", files: [], remove: ["../victim.txt"] })],
    ["a bad version", JSON.stringify({ schema: 1, version: "../../x", files: [], remove: [] })],
    ["not JSON", "{schema: 1"],
  ];
  for (const [what, content] of planted) {
    const { appDir, job } = await preparedApp(t);
    const victim = join(appDir, "..", "victim.txt");
    await writeFile(victim, "keep me");
    const plan = join(appDir, ".updraft", "prepared.json");
    await writeFile(plan, content);
    const before = await snapshot(appDir);
    delete before[join(".updraft", "prepared.json")];
    const run = await runHelper([JSON.stringify(job)]);
    assert.match(
      run.stderr,
      /the previous version stays: The prepared update in .* is damaged; it was discarded/,
      what,
    );
    assert.equal(await readFile(victim, "utf8"), "keep me", what);
    assert.equal(await readFile(join(appDir, "app.txt"), "utf8"), "1.0.0", what);
    await assert.rejects(readFile(plan), `${what}: the plan is gone`);
    const after = await snapshot(appDir);
    for (const [path, text] of Object.entries(before)) {
      if (!path.startsWith(join(".updraft", "staging"))) assert.equal(after[path], text, `${what}: ${path}`);
    }
  }
});

/**
 * Probation judges a launched app, never an install nobody started: the clock starts at the
 * launch (the helper's restart, `recover --launch`, or the library's `recover({ launch: true })`),
 * the release's health policy decides what proves it works (`uptime:N` by default, `confirm`,
 * `none`), and a crash in the middle of an install keeps the probation (it is in the journal).
 * Real CLI processes, a real helper, real apps that run, exit or crash.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { installLayout } from "../src/client/install/layout.js";
import { recover } from "../src/client/install/recover.js";
import { FaultSteps } from "../src/core/fault.js";
import type { HealthPolicy } from "../src/formats/native.js";
import { CLI, parseJson, runCli } from "./helpers/cli.js";
import { killAt } from "./helpers/fault-steps.js";
import { installedApp } from "./helpers/installed.js";
import { publish } from "./helpers/repo.js";
import { waitFor } from "./helpers/wait.js";

/** An app that records its start (with its PID), then runs `rest` (shell). */
const app = (version: string, rest: string) => ({
  "app.sh": `#!/bin/sh\necho "${version} start $$" >> "$APP_REPORT"\n${rest}\n`,
  VERSION: version,
});

async function status(appDir: string): Promise<Record<string, unknown>> {
  const run = await runCli(["status", "--dir", appDir, "--json"]);
  assert.equal(run.code, 0, run.stderr + run.stdout);
  return parseJson(run);
}

async function reportLines(report: string): Promise<string[]> {
  return (await readFile(report, "utf8").catch(() => "")).split("\n").filter(Boolean);
}

/** Kills the apps whose starts the report lists (they run detached from the test). */
async function killReported(report: string): Promise<void> {
  for (const line of await reportLines(report)) {
    const pid = Number(line.split(" ")[2]);
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

async function setUp(t: import("node:test").TestContext, next: Record<string, string>, health?: HealthPolicy) {
  const installed = await installedApp(t, app("1.0.0", "exit 0"));
  await publish(installed.repo, installed.work, "1.1.0", next, undefined, 0, health ? { health } : {});
  const report = join(installed.work, "report.txt");
  t.after(() => killReported(report));
  const env = { APP_REPORT: report, APP_DIR: installed.appDir, NODE: process.execPath, UPDRAFT_CLI: CLI };
  return { ...installed, report, env };
}

for (const health of [undefined, { kind: "confirm" } as const]) {
  test(`an update installed without --restart is not judged before a launch (${health ? "confirm" : "default policy"})`, async (t) => {
    const { appDir } = await setUp(t, app("1.1.0", "exit 0"), health);
    const update = await runCli(["update", "--dir", appDir, "--health-timeout", "1"]);
    assert.equal(update.code, 0, update.stderr);
    assert.match(update.stdout, /next start of the app/, "says in one line what happens next");
    assert.match(update.stdout, new RegExp(health ? "until the app confirms it" : "until it has run 10 s"));

    // A day later, nobody launched it: nothing is judged, nothing is rolled back.
    const layout = installLayout(appDir);
    const later = new Date(Date.now() + 24 * 3600_000);
    const idle = await recover(layout, { now: later });
    assert.equal(idle.rolledBack, undefined);
    const s = await status(appDir);
    assert.equal(s.currentVersion, "1.1.0");
    const pending = s.pending as Record<string, unknown>;
    assert.equal(pending.version, "1.1.0");
    assert.equal(pending.deadline, undefined, "no clock before the first launch");
    assert.deepEqual(s.failed, []);

    // The first launch starts the clock.
    const first = await recover(layout, { launch: true, now: later });
    assert.equal(first.rolledBack, undefined);
    assert.equal(first.probation?.launchedAt, later.toISOString());
    const afterWindow = await recover(layout, { now: new Date(later.getTime() + 2_000) });
    if (health?.kind === "confirm") {
      assert.equal(afterWindow.rolledBack?.to, "1.0.0", "confirm policy: no confirmation 1 s after the launch");
      assert.equal(await readlink(join(appDir, "current")), "app-1.0.0");
    } else {
      // Uptime is judged by whoever watches the process, not by a clock at the next command.
      assert.equal(afterWindow.rolledBack, undefined);
      assert.equal(await readlink(join(appDir, "current")), "app-1.1.0");
    }
  });
}

test("uptime policy: the helper confirms an app that keeps running without calling confirm", async (t) => {
  const { appDir, report, env } = await setUp(t, app("1.1.0", "exec sleep 300"), { kind: "uptime", seconds: 1 });
  const running = spawn("sleep", ["60"], { stdio: "ignore" });
  t.after(() => running.kill("SIGKILL"));
  const restart = `sh '${appDir}/current/app.sh'`;
  const args = ["update", "--dir", appDir, "--json", "--restart", restart, "--wait-pid", String(running.pid)];
  const update = await runCli([...args, "--health-timeout", "1"], { env });
  assert.equal(update.code, 0, update.stderr);
  running.kill("SIGKILL");
  const confirmed = await waitFor("the helper to confirm 1.1.0", async () => {
    const s = await status(appDir);
    return s.knownGoodVersion === "1.1.0" && s.pending === undefined ? s : undefined;
  });
  assert.equal(confirmed.currentVersion, "1.1.0");
  assert.deepEqual(confirmed.failed, []);
  const lines = await reportLines(report);
  assert.equal(lines.length, 1, `only 1.1.0 started, once: ${lines.join(" | ")}`);
  assert.match(lines[0]!, /^1\.1\.0 start \d+$/);
  process.kill(Number(lines[0]!.split(" ")[2]), 0); // still running: the helper did not stop it
});

test("uptime policy: an app that exits 0 before its uptime is confirmed; one that exits 1 is rolled back", async (t) => {
  for (const [exit, expected] of [
    [0, "1.1.0"],
    [1, "1.0.0"],
  ] as const) {
    const { appDir, report, env } = await setUp(t, app("1.1.0", `exit ${exit}`), { kind: "uptime", seconds: 30 });
    const running = spawn("sleep", ["60"], { stdio: "ignore" });
    t.after(() => running.kill("SIGKILL"));
    const restart = `sh '${appDir}/current/app.sh'`;
    const update = await runCli(
      ["update", "--dir", appDir, "--json", "--restart", restart, "--wait-pid", String(running.pid)],
      { env },
    );
    assert.equal(update.code, 0, update.stderr);
    running.kill("SIGKILL");
    const done = await waitFor(`exit ${exit} to be judged`, async () => {
      const s = await status(appDir);
      const judged = exit === 0 ? s.knownGoodVersion === "1.1.0" : (s.failed as unknown[]).length > 0;
      return s.pending === undefined && judged ? s : undefined;
    });
    assert.equal(done.currentVersion, expected);
    assert.equal((done.failed as unknown[]).length, exit === 0 ? 0 : 1);
    assert.match((await reportLines(report))[0]!, /^1\.1\.0 start/);
  }
});

test("health policy none: the new version is known-good once installed", async (t) => {
  const { appDir } = await setUp(t, app("1.1.0", "exit 0"), { kind: "none" });
  assert.equal((await runCli(["update", "--dir", appDir, "--json"])).code, 0);
  const s = await status(appDir);
  assert.equal(s.currentVersion, "1.1.0");
  assert.equal(s.pending, undefined);
});

test("a crash right after the switch keeps the probation: the journal carries it", async (t) => {
  const { appDir } = await setUp(t, app("1.1.0", "exit 0"), { kind: "confirm" });
  const killed = await runCli(["update", "--dir", appDir, "--json"], {
    env: killAt(FaultSteps.VERSIONED_POINTER_SWITCHED),
  });
  assert.equal(killed.code, null, "killed at the fault step");
  const s = await status(appDir); // recovery rolls forward
  assert.equal(s.currentVersion, "1.1.0");
  const pending = s.pending as Record<string, unknown> | undefined;
  assert.equal(pending?.version, "1.1.0");
  assert.equal(pending?.health, "confirm");
  assert.equal(pending?.deadline, undefined);
});

test("an app that counts its launch with `updraft recover --launch` is confirmed after its uptime", async (t) => {
  const launchAndStay = `"$NODE" "$UPDRAFT_CLI" recover --dir "$APP_DIR" --launch --app-pid $$ --json > /dev/null\nexec sleep 300`;
  const { appDir, report, env } = await setUp(t, app("1.1.0", launchAndStay), { kind: "uptime", seconds: 1 });
  assert.equal((await runCli(["update", "--dir", appDir, "--json"])).code, 0);
  const started = spawn("sh", [join(appDir, "current", "app.sh")], {
    env: { ...process.env, ...env },
    stdio: "ignore",
  });
  t.after(() => started.kill("SIGKILL"));
  const s = await waitFor("the watcher to confirm 1.1.0", async () => {
    const st = await status(appDir);
    return st.knownGoodVersion === "1.1.0" && st.pending === undefined ? st : undefined;
  });
  assert.equal(s.currentVersion, "1.1.0");
  assert.equal((await reportLines(report)).length, 1);
});

test("the library's recover({ launch: true }) confirms an uptime version that stays up", async (t) => {
  const { appDir } = await setUp(t, app("1.1.0", "exit 0"), { kind: "uptime", seconds: 1 });
  assert.equal((await runCli(["update", "--dir", appDir, "--json"])).code, 0);
  const updaterModule = new URL("../src/client/updater.js", import.meta.url).href;
  const script = `
    const { Updater } = await import(${JSON.stringify(updaterModule)});
    const report = await new Updater({ installDir: ${JSON.stringify(appDir)} }).recover({ launch: true });
    console.log(JSON.stringify(report.probation));
    setTimeout(() => {}, 20_000); // the app keeps running
  `;
  const appProcess = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  t.after(() => appProcess.kill("SIGKILL"));
  const s = await waitFor("the app's own timer to confirm 1.1.0", async () => {
    const st = await status(appDir);
    return st.knownGoodVersion === "1.1.0" && st.pending === undefined ? st : undefined;
  });
  assert.equal(s.currentVersion, "1.1.0");
});

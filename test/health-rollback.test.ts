/**
 * Health confirmation with real processes: a release that crashes on start (exit 1) and one that
 * hangs without confirming are both rolled back by the helper to the previous version, which
 * starts again; both are then skipped for the back-off period; a fixed newer release installs.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { CLI, parseJson, runCli } from "./helpers/cli.js";
import { installedApp } from "./helpers/installed.js";
import { manifestDigest, publish, signedManifest, treeDigest } from "./helpers/repo.js";
import { waitFor } from "./helpers/wait.js";

const good = (version: string) => ({
  "app.sh": `#!/bin/sh\necho "${version} start" >> "$APP_REPORT"\n"$NODE" "$UPDRAFT_CLI" confirm --dir "$APP_DIR" --json > /dev/null\n`,
  VERSION: version,
});
const crashing = (version: string) => ({
  "app.sh": `#!/bin/sh\necho "${version} start" >> "$APP_REPORT"\nexit 1\n`,
  VERSION: version,
});
const hanging = (version: string) => ({
  "app.sh": `#!/bin/sh\necho "${version} start" >> "$APP_REPORT"\nexec sleep 300\n`,
  VERSION: version,
});

for (const [label, bad, reasonPattern, health] of [
  ["crashes on start (exit 1)", crashing, /exited with code 1/, undefined],
  ["declares `confirm` and hangs without confirming", hanging, /did not confirm/, { kind: "confirm" }],
] as const) {
  test(`a release that ${label} is rolled back, the previous version restarts, the release is skipped, a fixed one installs`, async (t) => {
    const { work, repo, appDir } = await installedApp(t, good("1.0.0"));
    const report = join(work, "report.txt");
    const env = { APP_REPORT: report, APP_DIR: appDir, NODE: process.execPath, UPDRAFT_CLI: CLI };
    await publish(repo, work, "1.1.0", bad("1.1.0"), undefined, 0, health ? { health } : {});

    // The running 1.0.0 app, which asks for the update and then exits.
    const running = spawn("sleep", ["60"], { stdio: "ignore" });
    t.after(() => running.kill("SIGKILL"));
    const update = await runCli(
      [
        "update",
        "--dir",
        appDir,
        "--json",
        "--restart",
        `sh '${appDir}/current/app.sh'`,
        "--wait-pid",
        String(running.pid),
        "--health-timeout",
        "3",
      ],
      { env },
    );
    assert.equal(update.code, 0, update.stderr);
    assert.equal(parseJson(update).version, "1.1.0");
    running.kill("SIGKILL");

    const lines = await waitFor("the previous version to start again", async () => {
      const l = (await readFile(report, "utf8").catch(() => "")).split("\n").filter(Boolean);
      return l.length >= 2 ? l : undefined;
    });
    assert.deepEqual(lines.slice(0, 2), ["1.1.0 start", "1.0.0 start"]);
    const status = await waitFor("the restarted 1.0.0 to confirm", async () => {
      const s = parseJson(await runCli(["status", "--dir", appDir, "--json"]));
      return s.currentVersion === "1.0.0" && s.pending === undefined && s.knownGoodVersion === "1.0.0" ? s : undefined;
    });
    assert.equal(await readlink(join(appDir, "current")), "app-1.0.0");
    assert.deepEqual(await treeDigest(join(appDir, "current/")), manifestDigest(await signedManifest(repo, "1.0.0")));
    const failed = status.failed as { version: string; reason: string }[];
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.version, "1.1.0");
    assert.match(failed[0]!.reason, reasonPattern);

    const check = await runCli(["check", "--dir", appDir, "--json"]);
    assert.equal(check.code, 0, check.stderr);
    const checked = parseJson(check);
    assert.equal(checked.updateAvailable, false);
    const skipped = checked.skipped as { version: string; reason: string; retryAfter: string };
    assert.equal(skipped.version, "1.1.0");
    assert.match(skipped.reason, reasonPattern);
    const waitMs = Date.parse(skipped.retryAfter) - Date.now();
    assert.ok(waitMs > 110 * 60_000 && waitMs <= 120 * 60_000, `retry in about 2 hours (${waitMs} ms)`);

    await publish(repo, work, "1.2.0", good("1.2.0"));
    const newer = await runCli(["check", "--dir", appDir, "--json"]);
    assert.equal(newer.code, 10, "a newer version is offered at once");
    const fixed = await runCli(["update", "--dir", appDir, "--json"], { env });
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.equal(await readlink(join(appDir, "current")), "app-1.2.0");
    assert.deepEqual(await treeDigest(join(appDir, "current/")), manifestDigest(await signedManifest(repo, "1.2.0")));
  });
}

test("manual rollback goes back to the previous version and status shows why", async (t) => {
  const { work, repo, appDir } = await installedApp(t, good("1.0.0"));
  await publish(repo, work, "1.1.0", good("1.1.0"));
  assert.equal((await runCli(["update", "--dir", appDir, "--json"])).code, 0);
  assert.equal((await runCli(["confirm", "--dir", appDir, "--json"])).code, 0);
  const rb = await runCli(["rollback", "--dir", appDir, "--json", "--reason", "customer reports a bug"]);
  assert.equal(rb.code, 0, rb.stderr + rb.stdout);
  assert.deepEqual(
    { ...parseJson(rb), ok: undefined },
    { ok: undefined, from: "1.1.0", to: "1.0.0", reason: "customer reports a bug" },
  );
  assert.equal(await readlink(join(appDir, "current")), "app-1.0.0");
  assert.deepEqual(await treeDigest(join(appDir, "current/")), manifestDigest(await signedManifest(repo, "1.0.0")));
  const status = parseJson(await runCli(["status", "--dir", appDir, "--json"]));
  assert.deepEqual(
    (status.failed as { version: string; reason: string }[]).map((f) => [f.version, f.reason]),
    [["1.1.0", "customer reports a bug"]],
  );
  const again = await runCli(["rollback", "--dir", appDir, "--json"]);
  assert.notEqual(again.code, 0, "nothing older is kept to roll back to");
});

test("a new version that keeps starting without confirming is rolled back after its launch budget", async (t) => {
  const { work, repo, appDir } = await installedApp(t, good("1.0.0"));
  await publish(repo, work, "1.1.0", good("1.1.0"), undefined, 0, { health: { kind: "confirm" } });
  const { Updater } = await import("../src/client/updater.js");
  const updater = new Updater({ installDir: appDir, maxLaunches: 2, healthTimeoutMs: 3_600_000 });
  // The library's own timer would confirm an `uptime` version that stays up: this one declares `confirm`.
  await updater.update();
  const launches = [];
  for (let i = 0; i < 3; i++) launches.push(await new Updater({ installDir: appDir }).recover({ launch: true }));
  assert.equal(launches[0]!.rolledBack, undefined);
  assert.equal(launches[1]!.rolledBack, undefined);
  assert.deepEqual(launches[2]!.rolledBack, {
    from: "1.1.0",
    to: "1.0.0",
    reason: "it started 3 times without proving it works",
  });
  assert.equal(await readlink(join(appDir, "current")), "app-1.0.0");
  const check = await new Updater({ installDir: appDir }).check();
  assert.equal(check.status === "skipped" && check.skipped.version, "1.1.0");
});

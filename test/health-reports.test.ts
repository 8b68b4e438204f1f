/**
 * Health reports end to end, with real processes: installs of a release that names a report URL
 * tell `updraft serve --events` how the update went; `releaseHealth` turns the stored reports into
 * a failure rate; a report URL that never answers does not hold up `updraft update`; the endpoint
 * refuses what it must.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { installFromRepository } from "../src/client/first-install.js";
import { openEventStore, releaseHealth } from "../src/events/index.js";
import { CLI, parseJson, runCli, startCli } from "./helpers/cli.js";
import { installedApp } from "./helpers/installed.js";
import { createTestRepo, publish } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";
import { waitFor } from "./helpers/wait.js";

const good = (version: string) => ({
  "app.sh": `#!/bin/sh\necho "${version} start" >> "$APP_REPORT"\n"$NODE" "$UPDRAFT_CLI" confirm --dir "$APP_DIR" --json > /dev/null\n`,
  VERSION: version,
});
const crashing = (version: string) => ({
  "app.sh": `#!/bin/sh\necho "${version} start" >> "$APP_REPORT"\nexit 1\n`,
  VERSION: version,
});

/** Starts `updraft serve DIR --port 0 --events DB` and returns its base URL. */
async function serveWithEvents(t: TestContext, repoDir: string, db: string): Promise<string> {
  const serve = startCli(t, ["serve", repoDir, "--port", "0", "--events", db]);
  const line = await waitFor("serve to listen", async () => /at (http:\S+)/.exec(serve.stdout())?.[1]);
  return line;
}

/** Runs `work` over `items`, `width` at a time. */
async function inBatches<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(work));
}

test("20 installs of a release that crashes at start roll back and report it; releaseHealth gives the share; `rollout --advance` halts the rollout and new installs stay on 1.0.0", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  const db = join(work, "events.db");
  const url = await serveWithEvents(t, repo.repoDir, db);
  await publish(repo, work, "1.0.0", good("1.0.0"));
  const installs = Array.from({ length: 20 }, (_, i) => join(work, `install-${i}`));
  await inBatches(installs, 4, async (dir) => {
    await installFromRepository({ repoUrl: url, app: repo.app, installDir: dir, rootSha256: repo.rootSha256 });
  });
  await publish(repo, work, "1.1.0", crashing("1.1.0"), undefined, 0, { reportUrl: `${url}_events` });

  await inBatches(installs, 4, async (dir) => {
    const env = {
      APP_REPORT: join(dir, "..", `${dir.slice(-2)}.log`),
      APP_DIR: dir,
      NODE: process.execPath,
      UPDRAFT_CLI: CLI,
    };
    const running = spawn("sleep", ["60"], { stdio: "ignore" });
    t.after(() => running.kill("SIGKILL"));
    const update = await runCli(
      ["update", "--dir", dir, "--json", "--restart", `sh '${dir}/current/app.sh'`, "--wait-pid", String(running.pid)],
      { env },
    );
    assert.equal(update.code, 0, update.stderr);
    assert.equal(parseJson(update).version, "1.1.0");
    running.kill("SIGKILL");
  });

  // Each report comes from its own detached process: an install's `installed` may arrive after its
  // `rolled-back`, so wait for both kinds.
  const reports = await waitFor(
    "20 installed and 20 rolled-back reports",
    async () => {
      const store = openEventStore(db, { readOnly: true });
      try {
        const all = store.reports(repo.app);
        const count = (event: string) => all.filter((r) => r.event === event).length;
        return count("rolled-back") >= 20 && count("installed") >= 20 ? all : undefined;
      } finally {
        store.close();
      }
    },
    120_000,
  );
  for (const dir of installs) {
    const status = parseJson(await runCli(["status", "--dir", dir, "--json"]));
    assert.equal(status.currentVersion, "1.0.0", `${dir} went back to 1.0.0`);
  }
  const installed = reports.filter((r) => r.event === "installed");
  const rolledBack = reports.filter((r) => r.event === "rolled-back");
  assert.equal(installed.length, 20);
  assert.equal(rolledBack.length, 20);
  assert.equal(new Set(rolledBack.map((r) => r.installId)).size, 20, "one random id per install");
  for (const r of rolledBack) {
    assert.deepEqual(
      { from: r.from, to: r.to, reason: r.reason, platform: r.platform },
      { from: "1.0.0", to: "1.1.0", reason: "crashed", platform: `${process.platform}-${process.arch}` },
    );
  }
  for (const r of installed) {
    assert.equal(r.artifact, "full");
    assert.ok(r.bytes !== undefined && r.bytes > 0 && r.seconds !== undefined && r.seconds >= 0);
  }
  const health = releaseHealth(reports, repo.app, "1.1.0");
  assert.deepEqual(
    { ...health },
    {
      app: repo.app,
      version: "1.1.0",
      installs: 20,
      installed: 0,
      confirmed: 0,
      rolledBack: 20,
      failed: 0,
      failureRate: 1,
      reasons: { crashed: 20 },
    },
  );

  // The publisher's cron: `rollout --advance` reads the reports and halts the rollout of 1.1.0.
  const advanced = await runCli(
    [
      "rollout",
      "--repo",
      repo.repoDir,
      "--app",
      repo.app,
      "--channel",
      "stable",
      "--advance",
      "--events",
      db,
      "--max-failure-rate",
      "10%",
      "--keys",
      repo.keysDir,
      "--json",
    ],
    {},
  );
  assert.equal(advanced.code, 0, advanced.stderr);
  const result = parseJson(advanced) as {
    version: string;
    rollout: { halted: boolean };
    advance: { decision: { action: string }; health: { failureRate: number; installs: number } };
  };
  assert.deepEqual(
    { version: result.version, halted: result.rollout.halted, action: result.advance.decision.action },
    { version: "1.1.0", halted: true, action: "halt" },
  );
  assert.deepEqual({ ...result.advance.health, reasons: undefined }, { ...health, reasons: undefined });
  // The next installs are not offered 1.1.0: a new install takes 1.0.0, a manual check finds nothing.
  const fresh = join(work, "fresh");
  const first = await installFromRepository({
    repoUrl: url,
    app: repo.app,
    installDir: fresh,
    rootSha256: repo.rootSha256,
  });
  assert.equal(first.version, "1.0.0");
  const manual = await runCli(["check", "--dir", fresh, "--manual", "--json"]);
  assert.equal(manual.code, 0, manual.stderr);
  assert.equal(parseJson(manual).status, "current");
});

test("a report URL that never answers does not hold up `updraft update`; the report still goes out", async (t) => {
  const sockets: Socket[] = [];
  let received = "";
  let closedBeforeUpdateEnded = 0;
  let updateEnded = false;
  const hung = createServer((socket) => {
    sockets.push(socket);
    socket.on("data", (d) => {
      received += d.toString();
    });
    socket.on("close", () => {
      if (!updateEnded) closedBeforeUpdateEnded++;
    });
  });
  await new Promise<void>((resolve) => hung.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    hung.close();
  });
  const { port } = hung.address() as { port: number };
  const { work, repo, appDir } = await installedApp(t, good("1.0.0"));
  await publish(repo, work, "1.1.0", good("1.1.0"), undefined, 0, { reportUrl: `http://127.0.0.1:${port}/_events` });
  const update = await runCli(["update", "--dir", appDir, "--json"], { limitMs: 120_000 });
  updateEnded = true;
  assert.equal(update.code, 0, update.stderr);
  assert.equal(parseJson(update).version, "1.1.0");
  assert.equal(closedBeforeUpdateEnded, 0, "the update ended while its report was still unanswered");
  await waitFor("the report to reach the silent server", async () =>
    received.includes('"installed"') ? true : undefined,
  );
  const body = JSON.parse(received.slice(received.indexOf("\r\n\r\n") + 4)) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), [
    "app",
    "artifact",
    "bytes",
    "event",
    "from",
    "installId",
    "platform",
    "schema",
    "seconds",
    "to",
  ]);
  assert.equal(body.from, "1.0.0");
  assert.equal(body.to, "1.1.0");
});

test("serve --events refuses bad reports, other content types, big bodies and floods; stores good ones", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  const db = join(work, "events.db");
  const url = await serveWithEvents(t, repo.repoDir, db);
  const report = {
    schema: 1,
    app: "hello",
    event: "failed",
    from: "1.0.0",
    to: "1.1.0",
    platform: "linux-x64",
    reason: "ARCHIVE_INVALID",
    installId: "0b7a4c9e-2f5d-4e8a-9c1b-3d6f8e2a1b4c",
  };
  const post = (body: string, type = "application/json") =>
    fetch(`${url}_events`, { method: "POST", headers: { "content-type": type }, body }).then((r) => r.status);
  assert.equal(await post(JSON.stringify(report)), 202);
  assert.equal(await post(JSON.stringify({ ...report, installId: "my-hostname" })), 400);
  assert.equal(await post(JSON.stringify({ ...report, event: "rolled-back" })), 400, "a rollback needs a known reason");
  assert.equal(await post("{not json"), 400);
  assert.equal(await post(JSON.stringify(report), "text/plain"), 415);
  assert.equal(await post(JSON.stringify({ ...report, padding: "x".repeat(4000) })), 413);
  assert.equal((await fetch(`${url}_events`)).status, 405);
  const statuses: number[] = [];
  for (let i = 0; i < 70; i++) statuses.push(await post(JSON.stringify(report)));
  assert.ok(statuses.includes(429), "a flood from one address is cut");
  const accepted = 1 + statuses.filter((s) => s === 202).length;
  assert.ok(accepted <= 61, `at most a minute's worth accepted (${accepted})`);
  const store = openEventStore(db, { readOnly: true });
  t.after(() => store.close());
  const stored = store.reports("hello");
  assert.equal(stored.length, accepted);
  assert.deepEqual({ ...stored[0], receivedAt: undefined }, { ...report, receivedAt: undefined });
});

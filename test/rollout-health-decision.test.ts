/**
 * The pieces `rollout --advance --max-failure-rate` stands on: the failure rate of a release from
 * its installs' reports (each install counted once, by its most telling outcome), and the pure
 * advance / halt / hold decision.
 */
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { openEventStore, releaseHealth, type StoredReport } from "../src/events/index.js";
import { rolloutPercentAt } from "../src/formats/channel.js";
import { decideRolloutAdvance } from "../src/publish/rollout-advance.js";
import { runCli } from "./helpers/cli.js";
import { tempDir } from "./helpers/tmp.js";

const id = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
const report = (i: number, event: StoredReport["event"], to = "2.0.0", reason?: string): StoredReport => ({
  schema: 1,
  app: "demo",
  event,
  from: "1.0.0",
  to,
  platform: "linux-x64",
  installId: id(i),
  receivedAt: "2026-11-20T10:00:00.000Z",
  ...(reason === undefined ? {} : { reason }),
});

test("releaseHealth counts each install once: a failure outweighs its earlier success; other versions and apps are ignored", () => {
  const reports = [
    ...Array.from({ length: 8 }, (_, i) => report(i, "installed")),
    ...Array.from({ length: 6 }, (_, i) => report(i, "confirmed")),
    report(6, "rolled-back", "2.0.0", "not-confirmed"),
    report(7, "rolled-back", "2.0.0", "crashed"),
    report(8, "failed", "2.0.0", "ARCHIVE_INVALID"),
    report(9, "rolled-back", "1.9.0", "crashed"),
    { ...report(10, "failed", "2.0.0", "DISK_FULL"), app: "other" },
  ];
  const h = releaseHealth(reports, "demo", "2.0.0");
  assert.deepEqual(
    { ...h },
    {
      app: "demo",
      version: "2.0.0",
      installs: 9,
      installed: 0,
      confirmed: 6,
      rolledBack: 2,
      failed: 1,
      failureRate: 3 / 9,
      reasons: { "not-confirmed": 1, crashed: 1, ARCHIVE_INVALID: 1 },
    },
  );
  assert.equal(releaseHealth(reports, "demo", "3.0.0").failureRate, 0, "no reports: no failures claimed");
});

test("the advance decision: halt above the limit, advance within it, hold while halted, complete or short of reports", () => {
  const steps = [
    { percent: 5, at: "2026-11-01T00:00:00Z" },
    { percent: 25, at: "2026-11-02T00:00:00Z" },
    { percent: 100, at: "2026-12-01T00:00:00Z" },
  ];
  const now = new Date("2026-11-10T00:00:00Z");
  const base = { steps, halted: false, maxFailureRate: 0.02, now };
  assert.equal(rolloutPercentAt({ rollout: { steps, halted: false } }, now), 25);
  assert.equal(rolloutPercentAt({ rollout: { steps, halted: false } }, new Date("2026-10-01T00:00:00Z")), 0);
  assert.deepEqual(
    { ...decideRolloutAdvance({ ...base, failureRate: 0.03, reports: 3 }), reason: undefined },
    { action: "halt", percent: 0, reason: undefined },
    "a bad release halts early",
  );
  assert.deepEqual(
    { ...decideRolloutAdvance({ ...base, failureRate: 0.01, reports: 200 }), reason: undefined },
    { action: "advance", percent: 100, reason: undefined },
  );
  assert.equal(
    decideRolloutAdvance({ ...base, failureRate: 0.02, reports: 200 }).action,
    "advance",
    "the limit itself passes",
  );
  assert.equal(decideRolloutAdvance({ ...base, failureRate: 0, reports: 4 }).action, "hold", "too few reports");
  assert.equal(decideRolloutAdvance({ ...base, halted: true, failureRate: 0, reports: 500 }).action, "hold");
  const done = decideRolloutAdvance({ ...base, now: new Date("2026-12-02T00:00:00Z"), failureRate: 0, reports: 500 });
  assert.deepEqual({ action: done.action, percent: done.percent }, { action: "hold", percent: 100 });
  assert.match(
    decideRolloutAdvance({ ...base, failureRate: 0.5, reports: 20 }).reason,
    /50\.0 % of 20 reporting installs/,
  );
});

test("an events file that is not SQLite is EVENTS_DB_INVALID, for the library and `serve --events` (exit 3)", async (t) => {
  const work = await tempDir(t);
  const bad = join(work, "events.db");
  await writeFile(bad, "not a database, just text ".repeat(100));
  assert.throws(() => openEventStore(bad), { code: "EVENTS_DB_INVALID" });
  assert.throws(() => openEventStore(join(work, "missing.db"), { readOnly: true }), { code: "EVENTS_DB_INVALID" });
  const repoDir = join(work, "repo");
  await mkdir(repoDir);
  const run = await runCli(["serve", repoDir, "--port", "0", "--events", bad], { limitMs: 60_000 });
  assert.equal(run.code, 3, run.stderr + run.stdout);
  assert.match(run.stdout + run.stderr, /EVENTS_DB_INVALID/);
});

/**
 * The dashboard in a real browser (headless Chromium, the Debian package, driven by
 * playwright-core): a repository, access log and health reports made here, and pages that show
 * exactly their numbers, render notes as sanitised Markdown, draw their charts with the bundled
 * Chart.js, and fit 1280 px and 390 px screens without horizontal overflow (screenshots of each
 * are saved under the test's temp folder, path printed). Beyond 127.0.0.1 the access token is needed.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { chromium } from "playwright-core";
import { installFromRepository } from "../src/client/first-install.js";
import { Updater } from "../src/client/updater.js";
import { createDashboard, publisherActions, readAppView } from "../src/dashboard/index.js";
import { openEventStore } from "../src/events/index.js";
import { runCli, startCli } from "./helpers/cli.js";
import { createTestRepo, publish, signedManifest } from "./helpers/repo.js";
import { startServer } from "./helpers/server.js";
import { tempDir } from "./helpers/tmp.js";
import { waitFor } from "./helpers/wait.js";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));

/** A build of `version`: a shared body and a little that changes, so deltas are small. */
function build(version: string): Record<string, string> {
  const shared = Array.from({ length: 400 }, (_, i) => `line ${i} of the app's code, the same in every release`).join(
    "\n",
  );
  return {
    "app.js": `${shared}\nconsole.log("${version}")\n`,
    VERSION: version,
    "data.txt": `${shared}\n${version}\n`.repeat(3),
  };
}

const NOTES = `## Fixes in 1.1.0

- **Faster** start
- Fixed [issue 12](https://example.com/issues/12)

<script>window.pwned = true</script>
<img src=x onerror="window.pwned = true">
[bad link](javascript:window.pwned=true)
`;

const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;

test("dashboard pages show a test repository's numbers, render safe notes, draw charts, and fit 1280 and 390 px", async (t) => {
  assert.ok(CHROMIUM, "Chromium is needed (apt-get install chromium; .ci/run installs it)");
  const work = await tempDir(t);
  const repo = await createTestRepo(work, "demo");
  await publish(repo, work, "1.0.0", build("1.0.0"));
  await publish(repo, work, "1.1.0", build("1.1.0"), undefined, 1, { notes: NOTES });
  // 1.2.0 on beta, built for two platforms by two publishes, rolling out to 25 % of installs.
  await publish(repo, work, "1.2.0", build("1.2.0"), undefined, 2, {
    channel: "beta",
    platform: "linux-x64",
    rollout: { percent: 25 },
  });
  await publish(repo, work, "1.2.0", build("1.2.0 for Windows"), undefined, 0, {
    channel: "beta",
    platform: "win32-x64",
  });
  const m110 = await signedManifest(repo, "1.1.0");
  const m120 = await signedManifest(repo, "1.2.0", "linux-x64");
  const full110 = m110.artifacts.find((a) => a.kind === "full")!;
  const delta110 = m110.artifacts.find((a) => a.from === "1.0.0")!;
  assert.ok(delta110, "1.1.0 has a delta from 1.0.0");

  // 50 updates in the access log: 30 deltas 1.0.0→1.1.0 and 12 full 1.1.0 on day 1, 8 full 1.2.0 on day 2; 70 checks.
  const lines: string[] = [];
  const rec = (day: string, r: Record<string, unknown>) =>
    lines.push(JSON.stringify({ time: `${day}T10:00:00.000Z`, app: "demo", status: 200, ...r }));
  for (let i = 0; i < 40; i++) rec("2026-11-20", { kind: "timestamp", bytes: 500 });
  for (let i = 0; i < 30; i++) rec("2026-11-21", { kind: "timestamp", bytes: 500 });
  for (let i = 0; i < 30; i++)
    rec("2026-11-20", { kind: "delta", version: "1.1.0", from: "1.0.0", bytes: delta110.size });
  for (let i = 0; i < 12; i++) rec("2026-11-20", { kind: "full", version: "1.1.0", bytes: full110.size });
  const full120 = m120.artifacts.find((a) => a.kind === "full")!;
  for (let i = 0; i < 8; i++) rec("2026-11-21", { kind: "full", version: "1.2.0", bytes: full120.size });
  const log = join(work, "access.log");
  await writeFile(log, `${lines.join("\n")}\n`);

  // Health reports: 20 installs of 1.1.0, 19 confirmed, 1 rolled back (5 %).
  const db = join(work, "events.db");
  const store = openEventStore(db);
  for (let i = 0; i < 20; i++) {
    const base = {
      schema: 1 as const,
      app: "demo",
      from: "1.0.0",
      to: "1.1.0",
      platform: "linux-x64",
      installId: uuid(i),
    };
    store.record(
      { ...base, event: "installed", artifact: "delta-files", bytes: delta110.size, seconds: 1.5 },
      new Date("2026-11-20T11:00:00Z"),
    );
    if (i === 0) store.record({ ...base, event: "rolled-back", reason: "crashed" }, new Date("2026-11-20T11:01:00Z"));
    else store.record({ ...base, event: "confirmed" }, new Date("2026-11-20T11:02:00Z"));
  }
  store.close();

  const dashboard = await createDashboard({ repoDir: repo.repoDir, logs: [log], eventsDb: db });
  t.after(() => dashboard.close());
  const browser = await chromium.launch({ executablePath: CHROMIUM!, args: ["--no-sandbox", "--disable-gpu"] });
  t.after(() => browser.close());
  const shots = join(work, "screenshots");
  await mkdir(shots);
  console.log(`dashboard screenshots: ${shots}`);

  const pages = [
    ["apps", dashboard.url],
    ["app", `${dashboard.url}apps/demo`],
    ["adoption", `${dashboard.url}apps/demo/adoption`],
  ] as const;
  for (const width of [1280, 390]) {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    const failures: string[] = [];
    page.on("pageerror", (e) => failures.push(e.message));
    page.on("requestfailed", (r) => failures.push(`${r.url()} failed`));
    page.on("request", (r) => {
      if (!r.url().startsWith(dashboard.url)) failures.push(`left the dashboard for ${r.url()}`);
    });
    for (const [name, url] of pages) {
      const response = await page.goto(url);
      assert.equal(response?.status(), 200, name);
      if (name === "adoption")
        await page.waitForFunction(
          'document.querySelectorAll("canvas").length === 4 && Object.keys(window.Chart?.instances ?? {}).length === 4',
        );
      const overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth",
      );
      assert.equal(overflow, 0, `${name} at ${width} px has no horizontal overflow`);
      const file = join(shots, `${name}-${width}.png`);
      await page.screenshot({ path: file, fullPage: true });
      if (process.env.UPDRAFT_DOCS_SCREENSHOT === "1" && name === "adoption" && width === 1280) {
        await copyFile(file, join(process.cwd(), "docs", "images", "dashboard-adoption.png"));
      }
      if (process.env.UPDRAFT_DOCS_SCREENSHOT === "1" && name === "app" && width === 1280) {
        await copyFile(file, join(process.cwd(), "docs", "images", "dashboard-releases.png"));
      }
    }
    assert.deepEqual(failures, [], "no script error, failed request or request elsewhere");
    await context.close();
  }

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(dashboard.url);
  assert.deepEqual(await cells(page, "#apps tbody tr"), [["demo", "beta 1.2.0, stable 1.1.0", "3", "1.2.0", "ok"]]);

  await page.goto(`${dashboard.url}apps/demo`);
  assert.deepEqual(await cells(page, "#channels tbody tr"), [
    ["beta", "1.2.0", "25 %", "—", "—", "—"],
    ["stable", "1.1.0", "not set", "—", "—", "—"],
  ]);
  assert.deepEqual(await page.$$eval(".release h3", (hs) => hs.map((h) => h.childNodes[0]!.textContent!.trim())), [
    "1.2.0",
    "1.1.0",
    "1.0.0",
  ]);
  assert.match(
    (await page.locator('.release[data-version="1.2.0"]').textContent()) ?? "",
    /platforms linux-x64, win32-x64/,
  );
  assert.match((await page.locator('.release[data-version="1.1.0"]').textContent()) ?? "", /platforms any/);
  const card = page.locator('.release[data-version="1.1.0"]');
  assert.equal(await card.locator(".full-size").getAttribute("data-bytes"), String(full110.size));
  assert.deepEqual(await cells(page, '.release[data-version="1.1.0"] .deltas tbody tr'), [
    m110.artifacts
      .filter((a) => a.from === "1.0.0")
      .map((a) => [
        "1.0.0",
        a.kind,
        formatBytes(a.size),
        `${Math.round((1 - a.size / full110.size) * 1000) / 10} %`,
      ])[0]!,
  ]);
  assert.match((await card.locator(".health").textContent()) ?? "", /20 installs, failure rate 5 %/);
  assert.equal(await card.locator(".notes h2").textContent(), "Fixes in 1.1.0");
  assert.equal(await card.locator(".notes strong").textContent(), "Faster");
  assert.equal(
    await card.locator(".notes script, .notes img, .notes [onerror]").count(),
    0,
    "no script or handler survives",
  );
  assert.deepEqual(
    await card.locator(".notes a").evaluateAll((as) => as.map((a) => a.getAttribute("href"))),
    ["https://example.com/issues/12"],
    "the javascript: link is gone",
  );
  assert.equal(await page.evaluate("window.pwned"), undefined);
  assert.deepEqual(
    (await cells(page, "#expiry tbody tr")).map((r) => r[0]),
    ["root", "targets", "snapshot", "timestamp"],
  );

  await page.goto(`${dashboard.url}apps/demo/adoption`);
  assert.equal(
    await page.locator("#summary").textContent(),
    `70 checks · 50 update downloads · ${formatBytes(70 * 500 + 30 * delta110.size + 12 * full110.size + 8 * full120.size)} served · ${formatBytes(30 * (full110.size - delta110.size))} saved by deltas`,
  );
  assert.deepEqual(await cells(page, "#downloads tbody tr"), [
    ["1.2.0", "8"],
    ["1.1.0", "42"],
  ]);
  assert.deepEqual(await cells(page, "#installs tbody tr"), [["1.1.0", "20"]]);
  assert.deepEqual(await cells(page, "#paths tbody tr"), [
    ["1.0.0", "1.1.0", "30", "20"],
    ["?", "1.1.0", "12", "0"],
    ["?", "1.2.0", "8", "0"],
  ]);
  assert.deepEqual(await cells(page, "#health tbody tr"), [["1.1.0", "20", "0", "19", "1", "0", "5 %", "crashed 1"]]);
  const charts = await page.evaluate(
    '["chart-downloads", "chart-paths"].map((id) => Chart.getChart(id).data.datasets.map((d) => [d.label, d.data]))',
  );
  assert.deepEqual(charts, [
    [
      ["1.2.0", [0, 8]],
      ["1.1.0", [42, 0]],
    ],
    [
      ["downloads", [30, 12, 8]],
      ["installs reported", [20, 0, 0]],
    ],
  ]);
});

test("beyond 127.0.0.1 the dashboard needs its access token", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work, "demo");
  const dashboard = await createDashboard({ repoDir: repo.repoDir, host: "127.0.0.2" });
  t.after(() => dashboard.close());
  assert.ok(dashboard.token !== undefined && dashboard.token.length >= 32);
  const base = dashboard.url.slice(0, dashboard.url.indexOf("?"));
  assert.equal((await fetch(base)).status, 401);
  assert.equal((await fetch(`${base}?token=wrong`)).status, 401);
  const ok = await fetch(dashboard.url);
  assert.equal(ok.status, 200);
  const cookie = ok.headers.get("set-cookie")!.split(";")[0]!;
  assert.equal((await fetch(`${base}apps/demo`, { headers: { cookie } })).status, 200);
});

function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB"];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

async function cells(page: import("playwright-core").Page, rows: string): Promise<string[][]> {
  return page.$$eval(rows, (trs) =>
    trs.map((tr) =>
      Array.from(tr.querySelectorAll("td"), (td) => (td as { textContent: string | null }).textContent!.trim()),
    ),
  );
}

test("an action asks for confirmation, shows the equivalent CLI command, then changes what a real client is offered", async (t) => {
  assert.ok(CHROMIUM, "Chromium is needed (apt-get install chromium; .ci/run installs it)");
  const work = await tempDir(t);
  const repo = await createTestRepo(work, "demo");
  const server = await startServer(t, repo.repoDir);
  await publish(repo, work, "1.0.0", build("1.0.0"), server.url);
  const installDir = join(work, "install");
  await installFromRepository({ repoUrl: server.url, app: repo.app, installDir, rootSha256: repo.rootSha256 });
  await publish(repo, work, "1.1.0", build("1.1.0"));
  assert.equal((await new Updater({ installDir }).check()).status, "available", "1.1.0 goes to every install");
  // The publisher's own functions with the repository's keys, as `updraft dashboard --keys` wires them.
  const dashboard = await createDashboard({
    repoDir: repo.repoDir,
    actions: publisherActions(repo.repoDir, repo.keys),
  });
  t.after(() => dashboard.close());
  const browser = await chromium.launch({ executablePath: CHROMIUM!, args: ["--no-sandbox", "--disable-gpu"] });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 390, height: 900 } });
  await page.goto(`${dashboard.url}apps/demo`);
  const row = page.locator('#channels tr[data-channel="stable"]');
  await row.locator('input[name="percent"]').fill("0");
  await row.locator('form:has(input[value="rollout"]) button').click();
  await page.waitForSelector("#cli-command");
  assert.equal(
    await page.locator("#cli-command").textContent(),
    `updraft rollout --channel stable --percent 0 --repo ${repo.repoDir} --app demo`,
  );
  assert.equal(
    (await new Updater({ installDir }).check()).status,
    "available",
    "nothing is done before the confirmation",
  );
  const overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth");
  assert.equal(overflow, 0);
  await page.locator("#confirm").click();
  await page.waitForURL(`${dashboard.url}apps/demo`);
  // The next check of the installed client reads the new signed channel document: 1.1.0 is at 0 %.
  const after = await new Updater({ installDir }).check();
  assert.notEqual(after.status, "available", JSON.stringify(after));
  assert.equal((await readAppView(repo.repoDir, "demo")).channels[0]?.rollout?.percent, 0);

  const forged = await fetch(`${dashboard.url}apps/demo/actions`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "kind=yank&version=1.1.0&channel=stable&reason=x&confirmed=1&token=guess",
  });
  assert.equal(forged.status, 403, "a form without the page's token is refused");
  assert.deepEqual((await readAppView(repo.repoDir, "demo")).channels[0]?.yanked, [], "nothing was yanked");
});

test("`updraft dashboard` prints its URL (with the token beyond 127.0.0.1) and refuses a missing repository", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work, "demo");
  const local = startCli(t, ["dashboard", "--repo", repo.repoDir, "--port", "0"]);
  const url = await waitFor("the dashboard to listen", async () => /at (http:\S+)/.exec(local.stdout())?.[1]);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.equal((await fetch(`${url}apps/demo`)).status, 200);
  const wide = startCli(t, ["dashboard", "--repo", repo.repoDir, "--port", "0", "--host", "127.0.0.2"]);
  const tokenUrl = await waitFor("the dashboard to listen", async () => /at (http:\S+)/.exec(wide.stdout())?.[1]);
  assert.match(tokenUrl, /^http:\/\/127\.0\.0\.2:\d+\/\?token=[\w-]{32,}$/);
  assert.match(wide.stdout(), /carries the access token/);
  assert.equal((await fetch(tokenUrl.slice(0, tokenUrl.indexOf("?")))).status, 401);
  const missing = await runCli(["dashboard", "--repo", join(work, "nope"), "--port", "0"], { limitMs: 60_000 });
  assert.equal(missing.code, 3, missing.stderr);
  assert.match(missing.stderr, /REPO_NOT_FOUND/);
});

/**
 * An app installed from a hand-made SAAU repository (label and zip written by the test, served
 * over real HTTP on 127.0.0.1) updates from 10.0.1.0 to 10.0.2.0 through `updraft update --saau`,
 * restarts, and every listed file holds the new bytes.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile, rm, stat } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { SaauClient } from "../src/client/sources/saau/client.js";
import { ErrorCodes, UpdraftError } from "../src/core/errors.js";
import { parseJson, runCli } from "./helpers/cli.js";
import { serveStatic } from "./helpers/publish-fixtures.js";
import { actualSet, appEnv, expectedSet, installByHand, publishByHand, tsprintFiles } from "./helpers/saau.js";
import { tempDir } from "./helpers/tmp.js";
import { waitFor } from "./helpers/wait.js";

async function lines(path: string): Promise<string[]> {
  return (await readFile(path, "utf8").catch(() => "")).split("\n").filter(Boolean);
}

test("hand-made SAAU repository: 10.0.1.0 updates to 10.0.2.0 in place and restarts", async (t) => {
  const work = await tempDir(t);
  const repo = join(work, "updates");
  const appDir = join(work, "TSPrint");
  const v1 = tsprintFiles("10.0.1.0");
  const v2 = tsprintFiles("10.0.2.0");
  await installByHand(appDir, "10.0.1.0", v1);
  await publishByHand(repo, "10.0.2.0", v2);
  const server = await serveStatic(repo);
  t.after(() => server.close());

  const check = await runCli(["check", "--dir", appDir, "--saau", server.url, "--app", "TSPrint", "--json"]);
  assert.equal(check.code, 10, check.stdout + check.stderr);
  const c = parseJson(check);
  assert.equal(c.currentVersion, "10.0.1.0");
  assert.equal(c.currentVersionSource, "versao.txt");
  assert.equal(c.latestVersion, "10.0.2.0");
  assert.equal(c.signed, false);
  assert.deepEqual(server.requests, ["/tsprint/metadata/1.root.json", "/tsprint/versao.txt"]);

  // Run the app as a user would; it asks for the update, exits, and the helper swaps and restarts it.
  const report = join(work, "report");
  const app = spawn("sh", [join(appDir, "TSPrint.exe")], { env: appEnv(appDir, report, server.url), stdio: "ignore" });
  assert.equal(await new Promise((r) => app.on("exit", r)), 0);
  const first = parseJson({ code: 0, stdout: await readFile(`${report}.update-10.0.1.0.json`, "utf8"), stderr: "" });
  assert.equal(first.updated, true, JSON.stringify(first));
  assert.equal(first.version, "10.0.2.0");
  assert.equal(first.previousVersion, "10.0.1.0");
  assert.equal(first.applied, false);
  assert.equal(first.restarting, true);

  await waitFor("the restarted app", async () => ((await lines(report)).length >= 2 ? true : undefined));
  assert.deepEqual(await lines(report), ["10.0.1.0", "10.0.2.0"]);
  const second = await waitFor("the new version's own update check", async () => {
    const text = await readFile(`${report}.update-10.0.2.0.json`, "utf8").catch(() => "");
    return text.trim() ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  });
  assert.equal(second.ok, true, JSON.stringify(second));
  assert.equal(second.updated, false);
  assert.equal(second.currentVersion, "10.0.2.0");

  // Every listed file and the label copy hold the new bytes; usleep.exe and the zip's folder were not installed.
  const expected = await expectedSet(v2, "10.0.2.0");
  assert.deepEqual(await actualSet(appDir, expected.keys()), expected);
  await assert.rejects(stat(join(appDir, "usleep.exe")));
  await assert.rejects(stat(join(appDir, "docs")));

  // The new version confirmed itself by reaching its update check: the attempt succeeded.
  const state = await waitFor("the confirmation", async () => {
    const s = JSON.parse(await readFile(join(appDir, ".updraft", "state.json"), "utf8"));
    return s.attempts?.["10.0.2.0"]?.outcome === "succeeded" && !s.probation ? s : undefined;
  });
  assert.equal(state.current, "10.0.2.0");
  assert.equal(state.previous, "10.0.1.0");

  const after = await runCli(["check", "--dir", appDir, "--saau", server.url, "--app", "TSPrint", "--json"]);
  assert.equal(after.code, 0, after.stderr);
  assert.equal(parseJson(after).updateAvailable, false);

  const status = await runCli(["status", "--dir", appDir, "--json"]);
  const s = parseJson(status);
  assert.equal(s.currentVersion, "10.0.2.0");
  assert.equal(s.signed, false);
  assert.match(String(s.verification), /WITHOUT SIGNATURES/);
  const human = await runCli(["status", "--dir", appDir]);
  assert.match(human.stdout, /security: +WITHOUT SIGNATURES: this app updates from a SAAU versao\.txt/);
});

test("update without --restart swaps at once; --current-version replaces a missing versao.txt", async (t) => {
  const work = await tempDir(t);
  const repo = join(work, "updates");
  const appDir = join(work, "TSPrint");
  const v1 = tsprintFiles("10.0.1.0");
  const v2 = tsprintFiles("10.0.2.0");
  await installByHand(appDir, "10.0.1.0", v1);
  await rm(join(appDir, "versao.txt"));
  await publishByHand(repo, "10.0.2.0", v2);
  const server = await serveStatic(repo);
  t.after(() => server.close());

  const noVersion = await runCli(["update", "--dir", appDir, "--saau", server.url, "--app", "TSPrint", "--json"]);
  assert.equal(noVersion.code, 3);
  assert.match(String((parseJson(noVersion).error as { hint: string }).hint), /--current-version/);

  const run = await runCli([
    "update",
    "--dir",
    appDir,
    "--saau",
    server.url,
    "--app",
    "TSPrint",
    "--current-version",
    "10.0.1.0",
    "--json",
  ]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const r = parseJson(run);
  assert.equal(r.updated, true);
  assert.equal(r.applied, true);
  assert.equal(r.files, 5);
  const expected = await expectedSet(v2, "10.0.2.0");
  assert.deepEqual(await actualSet(appDir, expected.keys()), expected);
});

test("plain http:// to another host is refused for unsigned updates unless the risk is accepted", async (t) => {
  const work = await tempDir(t);
  const appDir = join(work, "TSPrint");
  await installByHand(appDir, "10.0.1.0", tsprintFiles("10.0.1.0"));
  const client = new SaauClient({ appDir, baseUrl: "http://updates.example.invalid/updates", app: "TSPrint" });
  await assert.rejects(client.check(), (err: unknown) => {
    assert.ok(err instanceof UpdraftError);
    assert.equal(err.code, ErrorCodes.INSECURE_TRANSPORT);
    assert.match(err.message, /without signatures over plain http:\/\//);
    assert.match(err.hint ?? "", /--allow-unsigned-http/);
    return true;
  });
  const cli = await runCli([
    "check",
    "--dir",
    appDir,
    "--saau",
    "http://updates.example.invalid/u",
    "--app",
    "x",
    "--json",
  ]);
  assert.equal(cli.code, 5);
  assert.equal((parseJson(cli).error as { code: string }).code, "INSECURE_TRANSPORT");
});

test("a SAAU server answering 200 with an error page for missing files still updates (no signed metadata there)", async (t) => {
  const work = await tempDir(t);
  const repo = join(work, "updates");
  const appDir = join(work, "TSPrint");
  await installByHand(appDir, "10.0.1.0", tsprintFiles("10.0.1.0"));
  await publishByHand(repo, "10.0.2.0", tsprintFiles("10.0.2.0"));
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const body = await readFile(join(repo, ...path.split("/").filter((p) => p && p !== ".."))).catch(() => undefined);
    res.writeHead(200, { "content-type": body ? "application/octet-stream" : "text/html" });
    res.end(body ?? "<html><body>Page not found</body></html>");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const run = await runCli(["update", "--dir", appDir, "--saau", url, "--app", "TSPrint", "--json"]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.equal(parseJson(run).signed, false);
  assert.equal(await readFile(join(appDir, "TSImgCap.exe"), "utf8"), "TSImgCap 10.0.2.0\n");
});

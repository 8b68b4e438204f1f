/**
 * End to end over real HTTP on 127.0.0.1, through the CLI as an app in any language would use it:
 * publish 1.0.0, install it, publish 1.1.0, run the app, which runs `updraft update --restart`,
 * exits, and is restarted by the helper into 1.1.0. Served by `updraft serve` and by a plain static
 * server (python3 -m http.server) that knows nothing of Updraft.
 */
import assert from "node:assert/strict";
import { readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { CLI, parseJson, runCli } from "./helpers/cli.js";
import { createTestRepo, manifestDigest, publish, signedManifest, treeDigest } from "./helpers/repo.js";
import { type RunningServer, startPlainStaticServer, startUpdraftServe } from "./helpers/servers.js";
import { tempDir } from "./helpers/tmp.js";

/** The app: a POSIX shell script that records its version, then asks Updraft to update and restart it. */
function appScript(version: string): string {
  return `#!/bin/sh
echo "${version}" >> "$APP_REPORT"
"$NODE" "$UPDRAFT_CLI" confirm --dir "$APP_DIR" --json > /dev/null
"$NODE" "$UPDRAFT_CLI" update --dir "$APP_DIR" --json --restart "sh '$APP_DIR/current/app.sh'" > "$APP_UPDATE_LOG.${version}"
`;
}

async function waitForLines(path: string, count: number, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = (await readFile(path, "utf8").catch(() => "")).split("\n").filter(Boolean);
    if (lines.length >= count) return lines;
    if (Date.now() > deadline) throw new Error(`only ${lines.length} lines in ${path}: ${lines.join(",")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const [label, start] of [
  ["updraft serve", startUpdraftServe],
  ["plain static server (python3 -m http.server)", startPlainStaticServer],
] as const) {
  test(`install 1.0.0, publish 1.1.0, the app updates and restarts into 1.1.0 — ${label}`, async (t) => {
    const work = await tempDir(t);
    const repo = await createTestRepo(work);
    const server: RunningServer = await start(repo.repoDir);
    t.after(() => server.stop());
    const files = (version: string) => ({
      "app.sh": appScript(version),
      "lib/data.txt": `data of ${version}\n`,
      "lib/same.txt": "unchanged in every version\n",
    });
    await publish(repo, work, "1.0.0", files("1.0.0"), server.url);

    const appDir = join(work, "install");
    const install = await runCli([
      "install",
      server.url,
      "--app",
      repo.app,
      "--dir",
      appDir,
      "--root-sha256",
      repo.rootSha256,
      "--json",
    ]);
    assert.equal(install.code, 0, install.stderr);
    assert.equal(parseJson(install).version, "1.0.0");
    assert.equal(await readlink(join(appDir, "current")), "app-1.0.0");
    assert.deepEqual(await treeDigest(join(appDir, "app-1.0.0")), manifestDigest(await signedManifest(repo, "1.0.0")));

    const upToDate = await runCli(["check", "--dir", appDir, "--json"]);
    assert.equal(upToDate.code, 0, upToDate.stderr);
    assert.equal(parseJson(upToDate).updateAvailable, false);

    await publish(repo, work, "1.1.0", files("1.1.0"), undefined, 3);
    const check = await runCli(["check", "--dir", appDir, "--json"]);
    assert.equal(check.code, 10, check.stderr);
    assert.equal(parseJson(check).latestVersion, "1.1.0");

    // Run the installed app the way a user would: through `current`.
    const report = join(work, "report.txt");
    const { spawn } = await import("node:child_process");
    const app = spawn("sh", [join(appDir, "current", "app.sh")], {
      env: {
        ...process.env,
        APP_REPORT: report,
        APP_DIR: appDir,
        APP_UPDATE_LOG: join(work, "update"),
        NODE: process.execPath,
        UPDRAFT_CLI: CLI,
      },
      stdio: "ignore",
    });
    const appExit = await new Promise<number | null>((resolve) => app.on("exit", resolve));
    assert.equal(appExit, 0);
    const lines = await waitForLines(report, 2, 30_000);
    assert.deepEqual(lines.slice(0, 2), ["1.0.0", "1.1.0"], "the restarted app reports 1.1.0");
    const updateResult = JSON.parse(await readFile(join(work, "update.1.0.0"), "utf8"));
    assert.equal(updateResult.updated, true);
    assert.equal(updateResult.version, "1.1.0");
    assert.equal(updateResult.restarting, true);
    assert.ok(updateResult.bytesDownloaded > 0);

    assert.equal(await readlink(join(appDir, "current")), "app-1.1.0");
    assert.deepEqual(await treeDigest(join(appDir, "current/")), manifestDigest(await signedManifest(repo, "1.1.0")));
    // The previous version stays on disk, intact, for rollback.
    assert.deepEqual(await treeDigest(join(appDir, "app-1.0.0")), manifestDigest(await signedManifest(repo, "1.0.0")));

    // The restarted 1.1.0 ran `update` too and found itself current.
    const [secondLine] = await waitForLines(join(work, "update.1.1.0"), 1, 30_000);
    const second = JSON.parse(secondLine!);
    assert.equal(second.ok, true);
    assert.equal(second.updated, false);

    const status = await runCli(["status", "--dir", appDir, "--json"]);
    const s = parseJson(status);
    assert.equal(s.currentVersion, "1.1.0");
    assert.equal(s.previousVersion, "1.0.0");
  });
}

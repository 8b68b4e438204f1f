/**
 * The tuf-conformance client entry, driven as the suite drives it (a real child process per
 * command) against a repository built by the publisher and served on 127.0.0.1: init, refresh,
 * download (repeatable --target-name, cached the second time), and exit 1 on refusals.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { startFaultServer } from "./helpers/fault-server.js";
import { createTestRepo, publish, targetFilePath } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";

const CLIENT = fileURLToPath(new URL("../src/cli/tuf-conformance-client.js", import.meta.url));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLIENT, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

test("tuf-conformance client protocol: init, refresh, download with caching, refusal exits 1", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  await publish(repo, work, "1.0.0", { "bin/app": "#!/bin/sh\necho 1\n" });
  const server = await startFaultServer(t, repo.repoDir);
  const metadataUrl = `${server.url}/${repo.app}/metadata`;
  const targetBaseUrl = `${server.url}/${repo.app}/targets`;
  const metadataDir = join(work, "client", "metadata");
  const targetDir = join(work, "client", "targets");
  await mkdir(metadataDir, { recursive: true });

  const init = await run([
    "--metadata-dir",
    metadataDir,
    "init",
    join(repo.repoDir, repo.app, "metadata", "1.root.json"),
  ]);
  assert.equal(init.code, 0, init.stderr);
  assert.equal(server.log.length, 0, "init makes no request");

  const refresh = await run(["--metadata-dir", metadataDir, "--metadata-url", metadataUrl, "refresh"]);
  assert.equal(refresh.code, 0, refresh.stderr);
  const files = await readdir(metadataDir);
  for (const role of ["root", "timestamp", "snapshot", "targets"]) assert.ok(files.includes(`${role}.json`), role);

  const names = ["channels/stable.json", "releases/1.0.0/manifest.json"];
  const download = () =>
    run([
      "--metadata-dir",
      metadataDir,
      "--metadata-url",
      metadataUrl,
      ...names.flatMap((n) => ["--target-name", n]),
      "--target-base-url",
      targetBaseUrl,
      "--target-dir",
      targetDir,
      "download",
    ]);
  const first = await download();
  assert.equal(first.code, 0, first.stderr);
  for (const name of names) {
    assert.deepEqual(
      await readFile(join(targetDir, encodeURIComponent(name))),
      await readFile(await targetFilePath(repo, name)),
      name,
    );
  }
  const targetRequests = () => server.log.filter((r) => r.path.includes("/targets/")).length;
  const before = targetRequests();
  const second = await download();
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /cached/);
  assert.equal(targetRequests(), before, "cached artifacts are not downloaded again");

  // Refusals exit 1: an unknown target, and a target whose bytes were replaced.
  const unknown = await run([
    "--metadata-dir",
    metadataDir,
    "--metadata-url",
    metadataUrl,
    "--target-name",
    "nope.txt",
    "--target-base-url",
    targetBaseUrl,
    "--target-dir",
    targetDir,
    "download",
  ]);
  assert.equal(unknown.code, 1);
  await writeFile(await targetFilePath(repo, "releases/1.0.0/hello-1.0.0.tar.zst"), "not the archive");
  const tampered = await run([
    "--metadata-dir",
    metadataDir,
    "--metadata-url",
    metadataUrl,
    "--target-name",
    "releases/1.0.0/hello-1.0.0.tar.zst",
    "--target-base-url",
    targetBaseUrl,
    "--target-dir",
    targetDir,
    "download",
  ]);
  assert.equal(tampered.code, 1, tampered.stdout);
  assert.match(tampered.stderr, /TARGET_MISMATCH/);
  // An error page instead of the timestamp: refresh exits 1 and keeps the trusted files.
  const trustedTimestamp = await readFile(join(metadataDir, "timestamp.json"));
  server.addFault({ match: /timestamp\.json$/, fault: { kind: "html" } });
  const broken = await run(["--metadata-dir", metadataDir, "--metadata-url", metadataUrl, "refresh"]);
  assert.equal(broken.code, 1);
  assert.deepEqual(await readFile(join(metadataDir, "timestamp.json")), trustedTimestamp);
  const usage = await run(["refresh"]);
  assert.equal(usage.code, 1);
});

/**
 * examples/python-app for real: published as 1.0.0 and installed, then 1.1.0 is published; the
 * Python app runs `updraft update --json`, reads the result, and restarts itself into 1.1.0.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFile, mkdir, readFile, readlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { CLI, parseJson, runCli } from "./helpers/cli.js";
import { serveStatic } from "./helpers/publish-fixtures.js";
import { createTestRepo } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";

const EXAMPLE = fileURLToPath(new URL("../../examples/python-app/", import.meta.url));

async function buildOf(dir: string, version: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const source = await readFile(join(EXAMPLE, "app.py"), "utf8");
  assert.match(source, /^VERSION = "1\.0\.0"$/m);
  await writeFile(join(dir, "app.py"), source.replace(/^VERSION = "1\.0\.0"$/m, `VERSION = "${version}"`), {
    mode: 0o755,
  });
  await copyFile(join(EXAMPLE, "README.md"), join(dir, "README.md"));
  return dir;
}

test("examples/python-app updates itself through `updraft update --json` and restarts into 1.1.0", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work, "pyapp");
  const server = await serveStatic(repo.repoDir);
  t.after(() => server.close());
  const publish = async (version: string, extra: string[] = []) => {
    const r = await runCli([
      "publish",
      await buildOf(join(work, `build-${version}`), version),
      "--repo",
      repo.repoDir,
      "--app",
      "pyapp",
      "--version",
      version,
      "--keys",
      repo.keysDir,
      "--level",
      "3",
      ...extra,
    ]);
    assert.equal(r.code, 0, r.stderr);
  };
  await publish("1.0.0", ["--url", server.url]);
  const installDir = join(work, "pyapp");
  const install = await runCli([
    "install",
    server.url,
    "--app",
    "pyapp",
    "--dir",
    installDir,
    "--root-sha256",
    repo.rootSha256,
    "--json",
  ]);
  assert.equal(install.code, 0, install.stderr);
  await publish("1.1.0");

  // Asynchronous: the repository server runs in this process and must keep answering.
  const child = spawn("python3", [join(installDir, "current", "app.py")], {
    env: { ...process.env, UPDRAFT_CMD: `'${process.execPath}' '${CLI}'` },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const run = { stdout: "", stderr: "", status: null as number | null };
  child.stdout.on("data", (d: Buffer) => {
    run.stdout += d;
  });
  child.stderr.on("data", (d: Buffer) => {
    run.stderr += d;
  });
  run.status = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.deepEqual(run.stdout.split("\n").filter(Boolean), [
    "app 1.0.0 running",
    "updated 1.0.0 -> 1.1.0, restarting",
    "app 1.1.0 running",
    "App is up-to-date and running!",
  ]);
  assert.equal(await readlink(join(installDir, "current")), "app-1.1.0");
  const status = parseJson(await runCli(["status", "--dir", installDir, "--json"]));
  assert.equal(status.currentVersion, "1.1.0");
});

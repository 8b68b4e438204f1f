/**
 * App names, channels and versions become folder and file names in the repository: publish
 * refuses the ones a server would hide or a file system could not hold, and everything it
 * accepts is served.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { test } from "node:test";
import { initApp, publishRelease } from "../src/publish/publish.js";
import { runCli } from "./helpers/cli.js";
import { makeBuild } from "./helpers/publish-fixtures.js";
import { createTestRepo } from "./helpers/repo.js";
import { startServer } from "./helpers/server.js";
import { tempDir } from "./helpers/tmp.js";

const noKeyEnv = { UPDRAFT_ROOT_KEY: "", UPDRAFT_TARGETS_KEY: "", UPDRAFT_SNAPSHOT_KEY: "", UPDRAFT_TIMESTAMP_KEY: "" };

test("init and publish refuse names a server would hide or a file system could not hold", async (t) => {
  const dir = await tempDir(t);
  const repo = await createTestRepo(dir, "demo");
  const buildDir = await makeBuild(join(dir, "build"));
  for (const app of ["x.tmp", "x.part", "nul", "com1.app", "x."]) {
    await assert.rejects(initApp({ repoDir: repo.repoDir, app, keys: repo.keys }), { code: "USAGE" }, app);
  }
  const publish = (version: string, channel = "stable") =>
    publishRelease({ repoDir: repo.repoDir, app: "demo", version, channel, buildDir, keys: repo.keys });
  for (const version of ["3.0.0-beta.tmp", "1.0.0+build.5", `1.0.0-${"a".repeat(64)}`]) {
    await assert.rejects(publish(version), { code: "VERSION_INVALID" }, version);
  }
  for (const channel of ["beta.tmp", "aux", "beta."]) {
    await assert.rejects(publish("1.0.0", channel), { code: "USAGE" }, channel);
  }
  // What is accepted is served: every file publish wrote under metadata/ and targets/ answers 200.
  await publish("3.0.0-beta.1", "beta.2");
  await publish("3.0.0-rc-1.x-y", "stable");
  const { url } = await startServer(t, repo.repoDir);
  const written = (await readdir(repo.repoDir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => relative(repo.repoDir, join(entry.parentPath, entry.name)).split(sep).join("/"))
    .filter((name) => /^demo\/(metadata|targets)\//.test(name));
  assert.ok(written.length >= 10, `${written.length} files`);
  for (const name of written) {
    const res = await fetch(`${url}${name.split("/").map(encodeURIComponent).join("/")}`, { method: "HEAD" });
    assert.equal(res.status, 200, name);
  }
});

test("updraft init --app x.tmp and publish --version 3.0.0-beta.tmp are usage errors that say why", async (t) => {
  const cwd = await tempDir(t);
  const env = noKeyEnv;
  await makeBuild(join(cwd, "build"));
  assert.equal((await runCli(["keys", "generate"], { cwd, env })).code, 0);
  const init = await runCli(["init", "--repo", "repo", "--app", "x.tmp"], { cwd, env });
  assert.equal(init.code, 2);
  assert.match(init.stderr, /temporary file/);
  assert.equal((await runCli(["init", "--repo", "repo", "--app", "demo"], { cwd, env })).code, 0);
  const pub = await runCli(["publish", "build", "--repo", "repo", "--app", "demo", "--version", "3.0.0-beta.tmp"], {
    cwd,
    env,
  });
  assert.equal(pub.code, 2);
  assert.match(pub.stderr, /temporary file/);
  const channel = await runCli(
    ["publish", "build", "--repo", "repo", "--app", "demo", "--version", "1.0.0", "--channel", "con"],
    { cwd, env },
  );
  assert.equal(channel.code, 2);
  assert.match(channel.stderr, /Windows device name/);
});

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdir, readFile, realpath, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { parseJson, runCli } from "./helpers/cli.js";
import { makeBuild } from "./helpers/publish-fixtures.js";
import { tempDir } from "./helpers/tmp.js";

const noKeyEnv = {
  UPDRAFT_ROOT_KEY: "",
  UPDRAFT_TARGETS_KEY: "",
  UPDRAFT_SNAPSHOT_KEY: "",
  UPDRAFT_TIMESTAMP_KEY: "",
};

test("CLI: keys generate, init, publish --json, refresh-timestamp", async (t) => {
  const cwd = await tempDir(t);
  const env = noKeyEnv;
  await makeBuild(join(cwd, "build"));

  const keys = await runCli(["keys", "generate", "--json"], { cwd, env });
  assert.equal(keys.code, 0, keys.stderr);
  const keysOut = parseJson(keys);
  assert.equal(keysOut.ok, true);
  assert.equal(keysOut.dir, join(await realpath(cwd), "updraft-keys"));
  if (process.platform !== "win32")
    assert.equal((await stat(join(cwd, "updraft-keys", "root.key"))).mode & 0o777, 0o600);
  assert.doesNotMatch(keys.stdout + keys.stderr, /PRIVATE KEY/);

  const again = await runCli(["keys", "generate"], { cwd, env });
  assert.equal(again.code, 2, "refusing to overwrite is a usage error");
  assert.match(again.stderr, /--force/);

  const init = await runCli(["init", "--repo", "repo", "--app", "demo", "--url", "http://127.0.0.1:1/"], { cwd, env });
  assert.equal(init.code, 0, init.stderr);
  const rootBytes = await readFile(join(cwd, "repo", "demo", "metadata", "root.json"));
  assert.ok(init.stdout.includes(createHash("sha256").update(rootBytes).digest("hex")), "prints the fingerprint");
  assert.match(init.stdout, /root\.json/);

  await writeFile(join(cwd, "notes.txt"), "Fixed things.\n");
  const pub = await runCli(
    [
      "publish",
      "build",
      "--repo",
      "repo",
      "--app",
      "demo",
      "--version",
      "1.0.0",
      "--notes",
      "notes.txt",
      "--level",
      "3",
      "--json",
    ],
    { cwd, env },
  );
  assert.equal(pub.code, 0, pub.stderr);
  const out = parseJson(pub);
  assert.equal(out.ok, true);
  assert.equal(out.version, "1.0.0");
  assert.equal(out.channel, "stable");
  assert.equal(out.channelMoved, true);
  assert.equal(out.url, "http://127.0.0.1:1/");
  assert.equal(out.fileCount, 7);
  assert.ok((out.archive as { size: number }).size > 0);
  assert.deepEqual(out.metadata, { targetsVersion: 2, snapshotVersion: 2, timestampVersion: 2 });

  // Human mode: progress on stderr, summary on stdout; keys from environment variables, folder absent.
  const envKeys = Object.fromEntries(
    await Promise.all(
      ["targets", "snapshot", "timestamp"].map(async (role) => [
        `UPDRAFT_${role.toUpperCase()}_KEY`,
        Buffer.from(await readFile(join(cwd, "updraft-keys", `${role}.key`))).toString("base64"),
      ]),
    ),
  );
  const pub2 = await runCli(
    ["publish", "build", "--repo", "repo", "--app", "demo", "--version", "1.1.0", "--keys", "nowhere", "--level", "1"],
    { cwd, env: { ...env, ...envKeys } },
  );
  assert.equal(pub2.code, 0, pub2.stderr);
  assert.match(pub2.stdout, /Published demo 1\.1\.0/);
  assert.match(pub2.stderr, /Packing/);

  const dup = await runCli(["publish", "build", "--repo", "repo", "--app", "demo", "--version", "1.1.0", "--json"], {
    cwd,
    env,
  });
  assert.equal(dup.code, 3);
  assert.equal((parseJson(dup).error as { code: string }).code, "VERSION_EXISTS");

  const missing = await runCli(
    ["publish", "build", "--repo", "repo", "--app", "demo", "--version", "1.2.0", "--keys", "nowhere"],
    { cwd, env },
  );
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /KEYS_MISSING/);
  assert.match(missing.stderr, /UPDRAFT_TARGETS_KEY/);

  const refresh = await runCli(["refresh-timestamp", "--repo", "repo", "--app", "demo", "--json"], { cwd, env });
  assert.equal(refresh.code, 0, refresh.stderr);
  assert.deepEqual(parseJson(refresh).resigned, ["timestamp"]);
  assert.equal(parseJson(refresh).timestampVersion, 4);
});

test("CLI: a build file name that is not UTF-8 is BUILD_INVALID naming the file, and nothing is published", async (t) => {
  const cwd = await tempDir(t);
  const env = noKeyEnv;
  await makeBuild(join(cwd, "build"));
  // "café" in Latin-1: the byte 0xE9 alone is not UTF-8.
  await writeFile(Buffer.concat([Buffer.from(join(cwd, "build", "caf")), Buffer.from([0xe9])]), "x");
  assert.equal((await runCli(["keys", "generate"], { cwd, env })).code, 0);
  assert.equal((await runCli(["init", "--repo", "repo", "--app", "demo"], { cwd, env })).code, 0);
  const before = await readdir(join(cwd, "repo", "demo"), { recursive: true });
  const pub = await runCli(["publish", "build", "--repo", "repo", "--app", "demo", "--version", "1.0.0", "--json"], {
    cwd,
    env,
  });
  assert.equal(pub.code, 3, pub.stdout + pub.stderr);
  const error = parseJson(pub).error as { code: string; message: string; hint: string };
  assert.equal(error.code, "BUILD_INVALID");
  assert.match(error.message, /"caf\\xe9" .* is not valid UTF-8/);
  assert.match(error.hint, /Rename the file/);
  assert.deepEqual(await readdir(join(cwd, "repo", "demo"), { recursive: true }), before);
});

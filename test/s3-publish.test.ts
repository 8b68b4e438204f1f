/**
 * Publishing to an object store (`--repo s3://BUCKET/PREFIX`) against a real S3 protocol server on
 * 127.0.0.1: init, two releases (the second with a delta, so the publisher fetched its base), the
 * objects' headers, and a client that installs and updates from the bucket's HTTP endpoint.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { parseJson, runCli } from "./helpers/cli.js";
import { makeBuild } from "./helpers/publish-fixtures.js";
import { startS3 } from "./helpers/s3.js";
import { tempDir } from "./helpers/tmp.js";

const LIMIT = { limitMs: 120_000 };

test("init, publish twice and refresh-timestamp to s3://; a client installs and updates from the bucket", async (t) => {
  const cwd = await tempDir(t);
  const s3 = await startS3(t);
  const env = {
    ...s3.env,
    UPDRAFT_ROOT_KEY: "",
    UPDRAFT_TARGETS_KEY: "",
    UPDRAFT_SNAPSHOT_KEY: "",
    UPDRAFT_TIMESTAMP_KEY: "",
  };
  const run = async (args: string[], expected = 0) => {
    const r = await runCli(args, { cwd, env, ...LIMIT });
    assert.equal(r.code, expected, `updraft ${args.join(" ")}: ${r.stderr}`);
    return r;
  };
  const repo = `s3://${s3.bucket}/apps`;
  const url = s3.httpUrl("apps");
  await run(["keys", "generate"]);
  const init = parseJson(await run(["init", "--repo", repo, "--app", "demo", "--url", url, "--json"]));
  assert.equal(init.rootPath, `${repo}/demo/metadata/root.json`, "paths are reported where the user finds them");
  const again = parseJson(await run(["init", "--repo", repo, "--app", "demo", "--json"], 3));
  assert.equal((again.error as { code: string }).code, "REPO_EXISTS");

  await makeBuild(join(cwd, "b1"), "v1");
  await makeBuild(join(cwd, "b2"), "v2");
  await run(["publish", "b1", "--repo", repo, "--app", "demo", "--version", "1.0.0", "--level", "3"]);
  const second = parseJson(
    await run(["publish", "b2", "--repo", repo, "--app", "demo", "--version", "1.1.0", "--level", "3", "--json"]),
  );
  const deltas = (second.deltas as { deltas: { from: string }[] }).deltas;
  assert.deepEqual(
    deltas.map((d) => d.from),
    deltas.map(() => "1.0.0"),
  );
  assert.ok(deltas.length > 0, "the publisher fetched 1.0.0's archive from the bucket and built a delta from it");

  // Headers as `updraft serve` sends them, so a CDN in front needs no configuration.
  const head = async (path: string) => {
    const res = await fetch(s3.httpUrl(`apps/demo/${path}`), { method: "HEAD" });
    assert.equal(res.status, 200, path);
    return { type: res.headers.get("content-type"), cache: res.headers.get("cache-control") };
  };
  assert.deepEqual(await head("metadata/timestamp.json"), {
    type: "application/json",
    cache: "public, max-age=60, must-revalidate",
  });
  assert.deepEqual(await head("metadata/root.json"), {
    type: "application/json",
    cache: "public, max-age=60, must-revalidate",
  });
  assert.deepEqual(await head("metadata/1.root.json"), {
    type: "application/json",
    cache: "public, max-age=31536000, immutable",
  });
  const targets = (await (await fetch(s3.httpUrl("apps/demo/metadata/timestamp.json"))).json()) as {
    signed: { meta: Record<string, { version: number }> };
  };
  const snapshotVersion = targets.signed.meta["snapshot.json"]!.version;
  assert.deepEqual(await head(`metadata/${snapshotVersion}.snapshot.json`), {
    type: "application/json",
    cache: "public, max-age=31536000, immutable",
  });
  const manifest = (await (await fetch(s3.httpUrl(`apps/demo/metadata/${snapshotVersion}.snapshot.json`))).json()) as {
    signed: { meta: Record<string, { version: number }> };
  };
  // The release is signed in whichever targets role holds it (layout v2: the newest ones in slot roles).
  type TargetsDoc = { signed: { targets: Record<string, { hashes: { sha256: string } }> } };
  const roles = await Promise.all(
    Object.entries(manifest.signed.meta).map(
      async ([file, meta]) =>
        (await (await fetch(s3.httpUrl(`apps/demo/metadata/${meta.version}.${file}`))).json()) as TargetsDoc,
    ),
  );
  const archive = roles
    .flatMap((role) => Object.entries(role.signed.targets))
    .find(([name]) => name === "releases/1.1.0/any/full.tar.zst");
  assert.ok(archive);
  const [dir, base] = [
    archive[0].slice(0, archive[0].lastIndexOf("/")),
    archive[0].slice(archive[0].lastIndexOf("/") + 1),
  ];
  assert.deepEqual(await head(`targets/${dir}/${archive[1].hashes.sha256}.${base}`), {
    type: "application/zstd",
    cache: "public, max-age=31536000, immutable",
  });

  // A client installs the channel's release from the bucket's HTTP endpoint, then updates to the next one.
  const installDir = join(cwd, "installed");
  const installed = parseJson(
    await run([
      "install",
      url,
      "--app",
      "demo",
      "--dir",
      installDir,
      "--root-sha256",
      String(init.rootSha256),
      "--json",
    ]),
  );
  assert.equal(installed.version, "1.1.0");
  await makeBuild(join(cwd, "b3"), "v3");
  await run(["publish", "b3", "--repo", repo, "--app", "demo", "--version", "1.2.0", "--level", "3"]);
  const updated = parseJson(await run(["update", "--dir", installDir, "--json"]));
  assert.equal(updated.version, "1.2.0");
  assert.equal(updated.previousVersion, "1.1.0");

  const refreshed = parseJson(await run(["refresh-timestamp", "--repo", repo, "--app", "demo", "--json"]));
  assert.ok(Number(refreshed.timestampVersion) > 1);
  const check = await runCli(["check", "--dir", installDir, "--json"], { cwd, env, ...LIMIT });
  assert.equal(check.code, 0, check.stderr);
  assert.equal(parseJson(check).status, "current");

  // Key rotation and prune write the bucket through the same working copy: the installed client
  // follows the new targets key, and prune deletes old release objects it never downloaded.
  const listReleases = async () => {
    const res = await fetch(s3.httpUrl(""), { method: "GET" });
    const xml = await res.text();
    const versions = [...xml.matchAll(/<Key>apps\/demo\/targets\/releases\/([^/<]+)\//g)].map((m) => m[1]);
    return [...new Set(versions)].sort();
  };
  assert.deepEqual(await listReleases(), ["1.0.0", "1.1.0", "1.2.0"]);
  await run(["keys", "rotate", "--repo", repo, "--app", "demo", "--role", "targets"]);
  await makeBuild(join(cwd, "b4"), "v4");
  await run(["publish", "b4", "--repo", repo, "--app", "demo", "--version", "1.3.0", "--level", "3"]);
  const pruned = parseJson(await run(["prune", "--repo", repo, "--app", "demo", "--keep", "2", "--json"]));
  assert.deepEqual([...(pruned.removed as string[])].sort(), ["1.0.0", "1.1.0"]);
  assert.deepEqual(await listReleases(), ["1.2.0", "1.3.0"]);
  const afterRotation = parseJson(await run(["update", "--dir", installDir, "--json"]));
  assert.equal(afterRotation.version, "1.3.0");
});

test("s3:// errors are typed: a malformed URL is a usage error, a missing bucket is REPO_NOT_FOUND", async (t) => {
  const cwd = await tempDir(t);
  const s3 = await startS3(t);
  const env = { ...s3.env };
  await runCli(["keys", "generate"], { cwd, env, ...LIMIT });
  const bad = await runCli(["init", "--repo", "s3://Bad_Bucket/x", "--app", "demo", "--json"], { cwd, env, ...LIMIT });
  assert.equal(bad.code, 2, bad.stderr);
  const missing = await runCli(["init", "--repo", "s3://no-such-bucket/x", "--app", "demo", "--json"], {
    cwd,
    env,
    ...LIMIT,
  });
  assert.equal(missing.code, 3, missing.stderr);
  assert.equal((parseJson(missing).error as { code: string }).code, "REPO_NOT_FOUND");
  const refused = await runCli(["init", "--repo", `s3://${s3.bucket}/x`, "--app", "demo", "--json"], {
    cwd,
    env: { ...env, AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9" },
    ...LIMIT,
  });
  assert.equal(refused.code, 4, refused.stderr);
  assert.equal((parseJson(refused).error as { code: string }).code, "STORE_FAILED");
});

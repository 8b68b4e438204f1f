/**
 * A publish to s3:// killed (SIGKILL) at random points, 10 times: a client reading the bucket
 * always finds a consistent repository (the old release or the new one, never an error), and the
 * next publish succeeds, reusing or replacing what the killed one left.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { test } from "node:test";
import { parseJson, runCli, startCli } from "./helpers/cli.js";
import { makeBuild } from "./helpers/publish-fixtures.js";
import { startS3 } from "./helpers/s3.js";
import { tempDir } from "./helpers/tmp.js";

const LIMIT = { limitMs: 120_000 };
const TRIALS = 10;

/** A small deterministic generator, so a failing trial can be replayed from the printed seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

test("a publish to s3:// killed at random points never breaks a client, and the next publish succeeds", async (t) => {
  const cwd = await tempDir(t);
  const s3 = await startS3(t);
  const env = s3.env;
  const repo = `s3://${s3.bucket}/r`;
  const url = s3.httpUrl("r");
  const run = async (args: string[]) => {
    const r = await runCli(args, { cwd, env, ...LIMIT });
    assert.equal(r.code, 0, `updraft ${args.join(" ")}: ${r.stderr}`);
    return r;
  };
  await run(["keys", "generate"]);
  const init = parseJson(await run(["init", "--repo", repo, "--app", "demo", "--url", url, "--json"]));
  await makeBuild(join(cwd, "b0"), "v0");
  const publishArgs = (version: string) => [
    "publish",
    `b-${version}`,
    "--repo",
    repo,
    "--app",
    "demo",
    "--version",
    version,
    "--level",
    "3",
  ];
  await makeBuild(join(cwd, "b-1.0.0"), "1.0.0");
  await run(publishArgs("1.0.0"));
  // The kill window: a whole publish that builds a delta, as every trial's does, and a fifth more.
  await makeBuild(join(cwd, "b-1.0.1"), "1.0.1");
  const t0 = performance.now();
  await run(publishArgs("1.0.1"));
  const publishMs = 1.2 * (performance.now() - t0);
  const installDir = join(cwd, "installed");
  await run(["install", url, "--app", "demo", "--dir", installDir, "--root-sha256", String(init.rootSha256)]);

  const seed = Number(process.env.UPDRAFT_TEST_SEED ?? Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed}, kills within ${publishMs.toFixed(0)} ms`);
  const next = random(seed);
  const seen = new Set<string>();
  for (let i = 1; i <= TRIALS; i++) {
    const version = `1.0.${i + 1}`;
    await makeBuild(join(cwd, `b-${version}`), version);
    const killAfter = next() * publishMs;
    const publishing = startCli(t, publishArgs(version), { cwd, env, ...LIMIT });
    await new Promise((resolve) => setTimeout(resolve, killAfter));
    publishing.child.kill("SIGKILL");
    const ended = await publishing.exited;
    const check = await runCli(["check", "--dir", installDir, "--json"], { cwd, env, ...LIMIT });
    assert.ok(
      check.code === 0 || check.code === 10,
      `trial ${i} (killed after ${killAfter.toFixed(0)} ms, ${ended.signal ?? ended.code}): ${check.stderr}`,
    );
    seen.add(String(parseJson(check).latestVersion));
  }
  t.diagnostic(`versions a client saw after the kills: ${[...seen].sort().join(", ")}`);
  // Whatever was left, the next publish goes through and the client updates to it.
  await makeBuild(join(cwd, "b-2.0.0"), "2.0.0");
  await run(publishArgs("2.0.0"));
  const updated = parseJson(await run(["update", "--dir", installDir, "--json"]));
  assert.equal(updated.version, "2.0.0");
});

/**
 * Never a broken app: for every step of both install modes, an update is SIGKILLed at that step
 * (UPDRAFT_FAULT_STEP), recovery runs, and the app folder must be exactly the old release or
 * exactly the new one (every file hashed), and the app must start.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";

import { once } from "node:events";
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { installFromRepository } from "../src/client/first-install.js";
import { createRepositoryServer } from "../src/server/static-server.js";
import { CLI, parseJson, runCli } from "./helpers/cli.js";
import { IN_PLACE_STEPS, killAt, VERSIONED_STEPS } from "./helpers/fault-steps.js";
import { createTestRepo, manifestDigest, publish, signedManifest, treeDigest, writeBuild } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";

const run = promisify(execFile);
const DRIVER = fileURLToPath(new URL("./helpers/inplace-driver.js", import.meta.url));

const release = (version: string) => ({
  "app.sh": `#!/bin/sh\ncat "$(dirname "$0")/lib/version.txt"\n`,
  "lib/version.txt": `${version}\n`,
  "lib/data.txt": `data of ${version}\n`.repeat(50),
  [`lib/only-in-${version}.txt`]: "x\n",
});

async function runUntilKilled(args: string[], env: ReturnType<typeof killAt>): Promise<NodeJS.Signals | number | null> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: "ignore" });
  const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
  return signal ?? code;
}

test("versioned mode: SIGKILL at every install step, then recovery leaves exactly the old or the new release", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  const server = createRepositoryServer({ root: repo.repoDir });
  const { url } = await server.listen();
  t.after(() => server.close());
  await publish(repo, work, "1.0.0", release("1.0.0"));
  const oldDigest = manifestDigest(await signedManifest(repo, "1.0.0"));
  let newDigest: Map<string, string> | undefined;
  const results: string[] = [];
  for (const [i, step] of VERSIONED_STEPS.entries()) {
    const appDir = join(work, `install-${i}`);
    if (i === 0) {
      await installFromRepository({ repoUrl: url, app: repo.app, installDir: appDir, rootSha256: repo.rootSha256 });
      await publish(repo, work, "1.1.0", release("1.1.0"));
      newDigest = manifestDigest(await signedManifest(repo, "1.1.0"));
      await cp(appDir, join(work, "pristine"), { recursive: true, verbatimSymlinks: true });
    } else {
      await cp(join(work, "pristine"), appDir, { recursive: true, verbatimSymlinks: true });
    }
    const outcome = await runUntilKilled([CLI, "update", "--dir", appDir, "--json"], killAt(step));
    assert.equal(outcome, "SIGKILL", `the updater was killed at ${step}`);
    const recovered = await runCli(["recover", "--dir", appDir, "--json"]);
    assert.equal(recovered.code, 0, recovered.stderr);
    const tree = await treeDigest(join(appDir, "current/"));
    const which = isDeepEqual(tree, oldDigest) ? "1.0.0" : isDeepEqual(tree, newDigest!) ? "1.1.0" : "MIXED";
    assert.notEqual(which, "MIXED", `after ${step} the tree is neither release`);
    const started = await run("sh", [join(appDir, "current", "app.sh")]);
    assert.equal(started.stdout.trim(), which, `the app starts and reports ${which}`);
    const status = parseJson(await runCli(["status", "--dir", appDir, "--json"]));
    assert.equal(status.currentVersion, which, "state agrees with the pointer");
    results.push(`${step} -> ${which} (${parseJson(recovered).transaction})`);
  }
  t.diagnostic(`versioned steps covered: ${VERSIONED_STEPS.length}\n${results.join("\n")}`);
  assert.equal(results.length, VERSIONED_STEPS.length);
});

test("in-place mode: SIGKILL at every install step, then recovery leaves exactly the old or the new file set", async (t) => {
  const work = await tempDir(t);
  const v1 = await writeBuild(join(work, "v1"), release("1.0.0"));
  const v2src = await writeBuild(join(work, "v2"), {
    "app.sh": `#!/bin/sh\ncat "$(dirname "$0")/lib/version.txt"\n# 2\n`,
    "lib/version.txt": "1.1.0\n",
    "lib/new-in-1.1.0.txt": "new\n",
  });
  const digestOf = async (dir: string) => {
    const d = await treeDigest(dir);
    for (const k of [...d.keys()]) if (k.startsWith(".updraft/")) d.delete(k);
    return d;
  };
  const expectedOld = await digestOf(v1);
  const expectedNew = new Map(expectedOld);
  for (const [k, v] of await digestOf(v2src)) expectedNew.set(k, v);
  const results: string[] = [];
  for (const [i, step] of IN_PLACE_STEPS.entries()) {
    const appDir = join(work, `app-${i}`);
    await cp(v1, appDir, { recursive: true });
    await mkdir(join(appDir, ".updraft"), { recursive: true });
    await writeFile(
      join(appDir, ".updraft", "state.json"),
      JSON.stringify({ schema: 1, mode: "in-place", current: "1.0.0" }),
    );
    const outcome = await runUntilKilled([DRIVER, appDir, "1.1.0", v2src], killAt(step));
    assert.equal(outcome, "SIGKILL", `the installer was killed at ${step}`);
    const recovered = await runCli(["recover", "--dir", appDir, "--json"]);
    assert.equal(recovered.code, 0, recovered.stderr + recovered.stdout);
    const tree = await digestOf(appDir);
    const which = isDeepEqual(tree, expectedOld) ? "1.0.0" : isDeepEqual(tree, expectedNew) ? "1.1.0" : "MIXED";
    assert.notEqual(which, "MIXED", `after ${step} the folder is neither set: ${JSON.stringify([...tree])}`);
    const started = await run("sh", [join(appDir, "app.sh")]);
    assert.equal(started.stdout.trim(), which, `the app starts and reports ${which}`);
    const state = JSON.parse(await readFile(join(appDir, ".updraft", "state.json"), "utf8"));
    assert.equal(state.current, which, "state agrees with the files");
    results.push(`${step} -> ${which} (${parseJson(recovered).transaction})`);
  }
  t.diagnostic(`in-place steps covered: ${IN_PLACE_STEPS.length}\n${results.join("\n")}`);
  assert.equal(results.length, IN_PLACE_STEPS.length);
});

function isDeepEqual(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/**
 * Publishing is atomic for readers: while `updraft publish` runs in another process, clients that
 * keep checking the repository see the old release or the new one, never an error from a mix.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { installFromRepository } from "../src/client/first-install.js";
import { Updater } from "../src/client/updater.js";
import { createRepositoryServer } from "../src/server/static-server.js";
import { runCli } from "./helpers/cli.js";
import { createTestRepo, publish, writeBuild } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";

test("clients checking during a publish see the old or the new release, never a mix", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  const server = createRepositoryServer({ root: repo.repoDir });
  const { url } = await server.listen();
  t.after(() => server.close());
  const payload = (v: string) => ({ "data.bin": Buffer.alloc(3_000_000, v), "app.txt": v });
  await publish(repo, work, "1.0.0", payload("1.0.0"));
  const appDir = join(work, "install");
  await installFromRepository({ repoUrl: url, app: repo.app, installDir: appDir, rootSha256: repo.rootSha256 });

  const build = await writeBuild(join(work, "build-1.1.0"), payload("1.1.0"));
  const publishing = runCli([
    "publish",
    build,
    "--repo",
    repo.repoDir,
    "--app",
    repo.app,
    "--version",
    "1.1.0",
    "--keys",
    repo.keysDir,
    "--json",
  ]);
  let finished = false;
  void publishing.then(() => {
    finished = true;
  });
  const seen = new Map<string, number>();
  // Bounded: at most 500 checks, each with its own metadata cache state carried over.
  for (let i = 0; i < 500 && !finished; i++) {
    const result = await new Updater({ installDir: appDir }).check();
    seen.set(result.latestVersion, (seen.get(result.latestVersion) ?? 0) + 1);
  }
  const published = await publishing;
  assert.equal(published.code, 0, published.stderr);
  const after = await new Updater({ installDir: appDir }).check();
  assert.equal(after.latestVersion, "1.1.0");
  assert.ok(seen.size > 0, "clients checked while the publish ran");
  for (const version of seen.keys()) assert.ok(["1.0.0", "1.1.0"].includes(version), version);
  t.diagnostic(`checks during publish: ${JSON.stringify(Object.fromEntries(seen))}`);
});

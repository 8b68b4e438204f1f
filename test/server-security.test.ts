/** The repository server never serves anything outside its root, nor hidden files inside it. */
import assert from "node:assert/strict";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import type { UpdraftError } from "../src/core/errors.js";
import { createRepositoryServer } from "../src/server/index.js";
import { runCli } from "./helpers/cli.js";
import { rawGet, SAMPLE_HASH, startServer } from "./helpers/server.js";
import { tempDir } from "./helpers/tmp.js";

const SECRET = "TOP-SECRET-OUTSIDE-THE-ROOT";

/** A root with a sibling folder holding a secret, and symlinks pointing at it. */
async function setup(t: TestContext): Promise<{ base: string; root: string; port: number; url: string }> {
  const base = await tempDir(t);
  const root = join(base, "repo");
  await mkdir(join(root, "demo/metadata"), { recursive: true });
  await mkdir(join(base, "outside"));
  await writeFile(join(base, "outside/secret.txt"), SECRET);
  await writeFile(join(base, "secret.txt"), SECRET);
  await writeFile(join(root, "demo/metadata/timestamp.json"), "{}");
  await writeFile(join(root, "demo/.publish.lock"), SECRET);
  // Every link has a name a repository publishes, so only where it leads can refuse it.
  await mkdir(join(root, "demo/targets"), { recursive: true });
  await mkdir(join(base, "outside/releases/1.0.0"), { recursive: true });
  await writeFile(join(base, `outside/releases/1.0.0/${SAMPLE_HASH}.manifest.json`), SECRET);
  await mkdir(join(root, "updraft-keys"));
  await writeFile(join(root, "updraft-keys/root.pub"), SECRET);
  await symlink(join(base, "outside/secret.txt"), join(root, "demo/metadata/1.root.json"));
  await symlink("../../../outside/secret.txt", join(root, "demo/metadata/2.root.json"));
  await symlink(join(base, "outside/releases"), join(root, "demo/targets/releases"));
  await symlink("../.publish.lock", join(root, "demo/metadata/3.root.json"));
  await symlink("../../updraft-keys/root.pub", join(root, "demo/metadata/4.root.json"));
  await symlink("timestamp.json", join(root, "demo/metadata/5.root.json"));
  const { port, url } = await startServer(t, root);
  return { base, root, port, url };
}

function assertRefused(res: { status: number; raw: Buffer }, target: string, root: string): void {
  assert.ok(res.status === 400 || res.status === 404, `${target}: status ${res.status}`);
  const text = res.raw.toString("latin1");
  assert.ok(!text.includes(SECRET), `${target}: leaked the secret`);
  assert.ok(!text.includes(root), `${target}: leaked a local path`);
  assert.ok(!text.includes("root:"), `${target}: looks like /etc/passwd`);
}

test("traversal attempts sent raw are refused with 400 or 404 and never return outside bytes", async (t) => {
  const { root, base, port } = await setup(t);
  const targets = [
    "/../etc/passwd",
    "/../../../../../../etc/passwd",
    "/../secret.txt",
    "/../outside/secret.txt",
    "/demo/../../secret.txt",
    "/demo/metadata/../../../outside/secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/%2e%2e/etc/passwd",
    "/.%2e/secret.txt",
    "/demo/%2e%2e/%2e%2e/outside/secret.txt",
    "/..%2fsecret.txt",
    "/demo%2f..%2f..%2fsecret.txt",
    "/%2f..%2fsecret.txt",
    "/..%5csecret.txt",
    "/demo/..%5c..%5csecret.txt",
    "/..\\secret.txt",
    "/demo\\..\\..\\secret.txt",
    "/%252e%252e/secret.txt",
    "/demo/metadata/timestamp.json%00",
    "/demo/metadata/timestamp.json%00.txt",
    "//etc/passwd",
    `/${base}/outside/secret.txt`,
    `/${join(base, "outside/secret.txt")}`,
    "/C:/Windows/win.ini",
    "/c:%5cWindows%5cwin.ini",
    "/%c0%ae%c0%ae/secret.txt",
    "/%e0%80%ae%e0%80%ae/secret.txt",
    "/%",
    "/demo/%zz",
    "etc/passwd",
    "*",
    "http://localhost/../secret.txt",
    "http://localhost/%2e%2e/secret.txt",
  ];
  for (const target of targets) {
    assertRefused(await rawGet(port, target), target, root);
  }
});

test("symlinks leading outside the root, to hidden files or to unpublished names are 404; symlinks inside work", async (t) => {
  const { root, url, port } = await setup(t);
  for (const path of [
    "demo/metadata/1.root.json",
    "demo/metadata/2.root.json",
    `demo/targets/releases/1.0.0/${SAMPLE_HASH}.manifest.json`,
    "demo/metadata/3.root.json",
    "demo/metadata/4.root.json",
    "demo/.publish.lock",
    "updraft-keys/root.pub",
  ]) {
    const res = await fetch(`${url}${path}`);
    const body = await res.text();
    assert.equal(res.status, 404, path);
    assert.ok(!body.includes(SECRET), path);
    const head = await fetch(`${url}${path}`, { method: "HEAD" });
    assert.equal(head.status, 404, `HEAD ${path}`);
    assert.equal(head.headers.get("etag"), null, `HEAD ${path}`);
    assertRefused(await rawGet(port, `/${path}`, "Range: bytes=0-3\r\n"), path, root);
  }
  const inside = await fetch(`${url}demo/metadata/5.root.json`);
  assert.equal(inside.status, 200);
  assert.equal(await inside.text(), "{}");
});

test("a symlink swapped to point outside after being served is refused at once", async (t) => {
  const { root, base, url } = await setup(t);
  const { rm } = await import("node:fs/promises");
  const link = join(root, "demo/metadata/6.root.json");
  await symlink("timestamp.json", link);
  assert.equal(await (await fetch(`${url}demo/metadata/6.root.json`)).text(), "{}");
  await rm(link);
  await symlink(join(base, "outside/secret.txt"), link);
  const res = await fetch(`${url}demo/metadata/6.root.json`);
  assert.equal(res.status, 404);
  assert.ok(!(await res.text()).includes(SECRET));
});

test("serve refuses a folder holding key files and names the repository folder to serve instead", async (t) => {
  const base = await tempDir(t);
  await mkdir(join(base, "updraft-keys"));
  await writeFile(join(base, "updraft-keys/root.key"), SECRET);
  await mkdir(join(base, "repo/demo/metadata"), { recursive: true });
  await writeFile(join(base, "repo/demo/metadata/1.root.json"), "{}");
  await assert.rejects(createRepositoryServer({ root: base, port: 0 }).listen(), (err: UpdraftError) => {
    assert.equal(err.code, "USAGE");
    assert.match(err.message, /private key files \(updraft-keys\/root\.key\)/);
    assert.equal(err.hint, `Serve the repository folder instead: updraft serve ${join(base, "repo")}`);
    return true;
  });
  // The repository folder itself holds no keys and is served.
  const { url } = await startServer(t, join(base, "repo"));
  assert.equal((await fetch(`${url}demo/metadata/1.root.json`)).status, 200);

  const cli = await runCli(["serve", ".", "--port", "0"], { cwd: base });
  assert.equal(cli.code, 2);
  assert.match(cli.stderr, /USAGE/);
  assert.match(cli.stderr, /updraft serve repo/);
});

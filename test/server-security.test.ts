/** The repository server never serves anything outside its root, nor hidden files inside it. */
import assert from "node:assert/strict";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { rawGet, startServer } from "./helpers/server.js";
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
  await symlink(join(base, "outside/secret.txt"), join(root, "demo/link.json"));
  await symlink("../../outside/secret.txt", join(root, "demo/relative-link.json"));
  await symlink(join(base, "outside"), join(root, "demo/linkdir"));
  await symlink(".publish.lock", join(root, "demo/lock-link.json"));
  await symlink("metadata/timestamp.json", join(root, "demo/inside-link.json"));
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

test("symlinks leading outside the root, or to hidden files, are 404; symlinks inside work", async (t) => {
  const { root, url, port } = await setup(t);
  for (const path of [
    "demo/link.json",
    "demo/relative-link.json",
    "demo/linkdir/secret.txt",
    "demo/lock-link.json",
    "demo/.publish.lock",
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
  const inside = await fetch(`${url}demo/inside-link.json`);
  assert.equal(inside.status, 200);
  assert.equal(await inside.text(), "{}");
});

test("a symlink swapped to point outside after being served is refused at once", async (t) => {
  const { root, base, url } = await setup(t);
  const { rm } = await import("node:fs/promises");
  const link = join(root, "demo/swap.json");
  await symlink("metadata/timestamp.json", link);
  assert.equal(await (await fetch(`${url}demo/swap.json`)).text(), "{}");
  await rm(link);
  await symlink(join(base, "outside/secret.txt"), link);
  const res = await fetch(`${url}demo/swap.json`);
  assert.equal(res.status, 404);
  assert.ok(!(await res.text()).includes(SECRET));
});

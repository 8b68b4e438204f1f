/**
 * A staged tree is made durable by one file-system sync (`sync -f`) on Linux, or by an fsync per
 * file and folder where that is not available, and a write error is never swallowed. Each case
 * that depends on which `sync` is on the PATH runs in its own process (the module remembers a
 * missing `sync`). A disk that fails its writes cannot be made here: a `sync` script that reports
 * one stands in for it, named as the fake it is.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { FILE_SYSTEM_SYNC_MIN_ENTRIES, syncTree } from "../src/client/artifacts/sync-tree.js";
import { ErrorCodes, UpdraftError } from "../src/core/errors.js";
import { tempDir } from "./helpers/tmp.js";

const SYNC_TREE_MODULE = fileURLToPath(new URL("../src/client/artifacts/sync-tree.js", import.meta.url));

/** Writes `count` files in two folders under `root`; returns the tree to sync. */
async function writeTree(root: string, count: number) {
  const folders = [root, join(root, "a"), join(root, "a", "b")];
  for (const d of folders) await mkdir(d, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const file = join(folders[1 + (i % 2)]!, `f${i}`);
    await writeFile(file, `${i}\n`);
    files.push(file);
  }
  return { root, files, folders };
}

/** Runs syncTree over a fresh tree in a child process with `PATH` set to `path`; returns its outcome. */
async function syncInChild(work: string, path: string): Promise<{ result?: string; code?: string; message?: string }> {
  const tree = await writeTree(join(work, "tree"), FILE_SYSTEM_SYNC_MIN_ENTRIES);
  const script = `
    import { syncTree } from ${JSON.stringify(SYNC_TREE_MODULE)};
    const tree = JSON.parse(process.argv[1]);
    syncTree(tree).then(
      (result) => console.log(JSON.stringify({ result })),
      (err) => console.log(JSON.stringify({ code: err.code, message: err.message })),
    );`;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--input-type=module", "-e", script, JSON.stringify(tree)],
    { env: { ...process.env, PATH: path } },
  );
  return JSON.parse(stdout.trim()) as { result?: string; code?: string; message?: string };
}

/** A folder holding a fake `sync` that prints `stderr` and exits with `status`. */
async function fakeSync(work: string, stderr: string, status: number): Promise<string> {
  const bin = join(work, "bin");
  await mkdir(bin);
  await writeFile(join(bin, "sync"), `#!/bin/sh\necho '${stderr}' >&2\nexit ${status}\n`);
  await chmod(join(bin, "sync"), 0o755);
  return bin;
}

test("a large tree is synced with one file-system sync on Linux, a small one entry by entry", async (t) => {
  const work = await tempDir(t);
  const large = await writeTree(join(work, "large"), FILE_SYSTEM_SYNC_MIN_ENTRIES);
  const small = await writeTree(join(work, "small"), 3);
  assert.equal(await syncTree(large), process.platform === "linux" ? "file-system" : "each-entry");
  assert.equal(await syncTree(small), "each-entry");
  assert.equal(await syncTree(large, { fileSystemSync: false }), "each-entry");
});

test("an entry that vanished before its fsync is a FILE_ERROR naming the folder", async (t) => {
  const work = await tempDir(t);
  const tree = await writeTree(join(work, "tree"), 3);
  const error = await syncTree({ ...tree, files: [...tree.files, join(tree.root, "gone")] }).catch((e: unknown) => e);
  assert.ok(error instanceof UpdraftError);
  assert.equal(error.code, ErrorCodes.FILE_ERROR);
  assert.match(error.message, /tree/);
});

test("without a sync command, or one without -f, every entry is fsynced instead", {
  skip: process.platform !== "linux",
}, async (t) => {
  const none = await tempDir(t);
  assert.deepEqual(await syncInChild(none, join(none, "no-such-bin")), { result: "each-entry" });
  const old = await tempDir(t);
  const bin = await fakeSync(old, "sync: invalid option -- 'f'", 1);
  assert.deepEqual(await syncInChild(old, bin), { result: "each-entry" });
});

test("a write error reported by the file-system sync fails the install step instead of being retried away", {
  skip: process.platform !== "linux",
}, async (t) => {
  const work = await tempDir(t);
  const bin = await fakeSync(work, "sync: error syncing 'tree': Input/output error", 1);
  const outcome = await syncInChild(work, bin);
  assert.equal(outcome.code, ErrorCodes.FILE_ERROR);
  assert.match(outcome.message ?? "", /Input\/output error/);
});

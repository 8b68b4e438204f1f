/**
 * Containment holds on the opened file itself: a folder of the served tree swapped back and forth
 * with a symlink to an outside folder, by another process, while clients ask for files under it,
 * never yields an outside byte, and nothing learnt during the race lets a plain symlink out later.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { startServer } from "./helpers/server.js";
import { tempDir } from "./helpers/tmp.js";

const SECRET = "TOP-SECRET-OUTSIDE-THE-ROOT";
const RACE_MS = 3_000;
const CLIENTS = 8;

/** Swaps `dir` with a symlink to `outside` as fast as it can for `ms` ms; prints the swap count. */
const SWAPPER = `
const fs = require("node:fs");
const [dir, aside, outside, ms] = process.argv.slice(1);
const until = Date.now() + Number(ms);
let swaps = 0;
while (Date.now() < until) {
  fs.renameSync(dir, aside);
  fs.symlinkSync(outside, dir);
  fs.unlinkSync(dir);
  fs.renameSync(aside, dir);
  swaps++;
}
process.stdout.write(String(swaps));
`;

test("a folder swapped for a symlink to outside while it is requested never serves an outside byte", async (t) => {
  const base = await tempDir(t);
  const root = join(base, "repo");
  const metadata = join(root, "demo/metadata");
  const outside = join(base, "outside");
  await mkdir(metadata, { recursive: true });
  await mkdir(join(root, "demo/targets"), { recursive: true });
  await mkdir(outside);
  // Small (kept in memory once served) and large (streamed) files, inside and at the same place outside.
  const large = Buffer.alloc(256 * 1024, "i");
  await writeFile(join(metadata, "timestamp.json"), "{}");
  await writeFile(join(metadata, "1.root.json"), large);
  await writeFile(join(outside, "timestamp.json"), SECRET);
  await writeFile(join(outside, "1.root.json"), Buffer.concat([Buffer.from(SECRET), large]));
  const { url } = await startServer(t, root);

  const swapper = spawn(
    process.execPath,
    ["-e", SWAPPER, metadata, join(root, "demo/.aside"), outside, String(RACE_MS)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let swapperOut = "";
  swapper.stdout.on("data", (chunk: Buffer) => (swapperOut += chunk.toString()));
  const exited = once(swapper, "exit");
  let running = true;
  void exited.then(() => (running = false));

  let requests = 0;
  let servedInside = 0;
  const leaks: string[] = [];
  const client = async (name: string): Promise<void> => {
    while (running) {
      const res = await fetch(`${url}demo/metadata/${name}`);
      const body = await res.text();
      requests++;
      if (body.includes(SECRET)) leaks.push(`${name} ${res.status}`);
      else if (res.status === 200) servedInside++;
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i % 2 === 0 ? "timestamp.json" : "1.root.json")));
  const [code] = await exited;
  assert.equal(code, 0, "the swapper ran to its end");
  assert.ok(Number(swapperOut) > 0, "the folder was swapped");
  assert.ok(requests > 0, "requests were made during the race");
  assert.deepEqual(leaks, [], `outside bytes served (${leaks.length} of ${requests} requests)`);
  t.diagnostic(`${swapperOut} swaps, ${requests} requests, ${servedInside} served from inside`);

  // After the race: plain symlinks to the outside files are refused too, even to files that a
  // vulnerable server would have kept in memory during the race.
  await symlink(join(outside, "timestamp.json"), join(metadata, "2.root.json"));
  await symlink(join(outside, "1.root.json"), join(metadata, "3.root.json"));
  for (const name of ["2.root.json", "3.root.json"]) {
    const res = await fetch(`${url}demo/metadata/${name}`);
    assert.equal(res.status, 404, name);
    assert.ok(!(await res.text()).includes(SECRET), name);
  }
  const inside = await fetch(`${url}demo/metadata/timestamp.json`);
  assert.equal(await inside.text(), "{}");
});

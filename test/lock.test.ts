/**
 * The one lock (src/core/lock.ts), with real processes: a token excludes every other acquisition,
 * in this process and in others; nested calls run under the token and never release it; a lock
 * whose holder died, whose PID now belongs to another process, or that is torn, is taken over;
 * eight processes racing for one stale lock get exactly one holder; the file's mode ignores the
 * umask; the publisher uses the same lock.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { access, mkdir, readFile, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";
import { isUpdraftError } from "../src/core/errors.js";
import { acquireLock, LOCK_AGE_LIMIT_MS, type LockRecord, type LockToken, withLock } from "../src/core/lock.js";
import { initApp, publishRelease } from "../src/publish/index.js";
import { makeBuild, makeKeys } from "./helpers/publish-fixtures.js";
import { tempDir } from "./helpers/tmp.js";
import { waitFor } from "./helpers/wait.js";

const CHILD = fileURLToPath(new URL("./helpers/lock-child.js", import.meta.url));

interface Child {
  process: ChildProcess;
  lines: string[];
}

/** Starts lock-child.js (through `sh -c` when a umask is given); killed when the test ends. */
function startChild(t: TestContext, args: string[], umask?: string): Child {
  const command =
    umask === undefined
      ? spawn(process.execPath, [CHILD, ...args], { stdio: ["pipe", "pipe", "inherit"] })
      : spawn("sh", ["-c", `umask ${umask} && exec "$0" "$@"`, process.execPath, CHILD, ...args], {
          stdio: ["pipe", "pipe", "inherit"],
        });
  const child: Child = { process: command, lines: [] };
  let buffered = "";
  command.stdout!.setEncoding("utf8").on("data", (d: string) => {
    buffered += d;
    const parts = buffered.split("\n");
    buffered = parts.pop()!;
    child.lines.push(...parts);
  });
  t.after(() => {
    command.kill("SIGKILL");
  });
  return child;
}

function lineOf(child: Child, pattern: RegExp): Promise<string> {
  return waitFor(`a line matching ${pattern}`, async () => child.lines.find((l) => pattern.test(l)));
}

const isLocked = (pid?: number) => (err: unknown) =>
  isUpdraftError(err, "LOCKED") && (pid === undefined || err.details?.pid === pid);

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

test("one process: a second acquisition is LOCKED, nested calls run under the token without releasing it, release is idempotent", async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, "state", "lock");
  const first = await acquireLock(path, { purpose: "installing" });
  await assert.rejects(acquireLock(path, { purpose: "checking" }), (err: unknown) => {
    assert.ok(isLocked(process.pid)(err));
    assert.match((err as Error).message, /installing/);
    return true;
  });
  // The same file through another path (a linked folder): the record names a live token here.
  await symlink(join(dir, "state"), join(dir, "alias"));
  await assert.rejects(acquireLock(join(dir, "alias", "lock"), { purpose: "checking" }), isLocked(process.pid));

  const nested = await withLock(path, first, { purpose: "nested" }, async (token) => {
    assert.equal(token, first);
    return "ran";
  });
  assert.equal(nested, "ran");
  assert.ok(first.held && (await exists(path)), "a nested call does not release the caller's lock");
  const lookAlike: LockToken = { path, purpose: "fake", held: true, release: async () => {} };
  await assert.rejects(
    withLock(path, lookAlike, { purpose: "nested" }, async () => "ran"),
    (err: unknown) => isUpdraftError(err, "INTERNAL"),
  );

  await first.release();
  await first.release();
  assert.equal(first.held, false);
  assert.equal(await exists(path), false, "released: the file is gone");
  await assert.rejects(
    withLock(path, first, { purpose: "nested" }, async () => "ran"),
    (err: unknown) => isUpdraftError(err, "INTERNAL"),
  );
  const again = await acquireLock(path, { purpose: "installing" });
  await again.release();
});

test("another process holds the lock: LOCKED naming its PID; once it is killed, its lock is taken over", async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, "lock");
  const holder = startChild(t, [path]);
  await lineOf(holder, /^held$/);
  await assert.rejects(acquireLock(path, { purpose: "updating" }), isLocked(holder.process.pid));
  const exited = once(holder.process, "exit");
  holder.process.kill("SIGKILL");
  await exited;
  const mine = await acquireLock(path, { purpose: "updating" });
  const record = JSON.parse(await readFile(path, "utf8")) as LockRecord;
  assert.equal(record.pid, process.pid);
  assert.equal(record.purpose, "updating");
  await mine.release();
});

test("a live PID that is not the holder does not block: another start time (PID reuse) or another boot is stale; without a start time, only until the age limit", async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, "lock");
  const holder = startChild(t, [path]);
  await lineOf(holder, /^held$/);
  const genuine = JSON.parse(await readFile(path, "utf8")) as LockRecord & { schema: number };
  assert.equal(genuine.pid, holder.process.pid);
  await assert.rejects(acquireLock(path, { purpose: "updating" }), isLocked(holder.process.pid));

  const variants: [string, Record<string, unknown>][] = [];
  if (genuine.start !== undefined) variants.push(["another start time", { ...genuine, start: `${genuine.start}0` }]);
  if (genuine.boot !== undefined) variants.push(["another boot", { ...genuine, boot: "another-boot" }]);
  assert.ok(variants.length > 0 || process.platform === "win32", "the record keeps the start time or the boot");
  for (const [i, [label, record]] of variants.entries()) {
    const reused = join(dir, `reused-${i}`);
    await writeFile(reused, JSON.stringify(record));
    const lock = await acquireLock(reused, { purpose: "updating" }).catch((err: unknown) => {
      throw new Error(`${label}: ${(err as Error).message}`);
    });
    await lock.release();
  }

  // An older version's record: a live PID and nothing else. Trusted for the age limit only.
  const legacy = join(dir, "legacy");
  await writeFile(legacy, JSON.stringify({ pid: holder.process.pid, purpose: "installing", since: "earlier" }));
  await assert.rejects(acquireLock(legacy, { purpose: "updating" }), isLocked(holder.process.pid));
  const old = new Date(Date.now() - LOCK_AGE_LIMIT_MS - 60_000);
  await utimes(legacy, old, old);
  await (await acquireLock(legacy, { purpose: "updating" })).release();
});

test("a torn or empty lock file is stale (after a short grace for one being written); a folder in its place is a clear error", async (t) => {
  const dir = await tempDir(t);
  const tenSecondsAgo = new Date(Date.now() - 10_000);
  for (const [name, content] of [
    ["empty", ""],
    ["torn", '{"pid":12'],
    ["garbage", "\u0000\u0001 not a lock"],
  ] as const) {
    const path = join(dir, name);
    await writeFile(path, content);
    await assert.rejects(acquireLock(path, { purpose: "updating" }), isLocked(), `${name}: being written`);
    await utimes(path, tenSecondsAgo, tenSecondsAgo);
    await (await acquireLock(path, { purpose: "updating" })).release();
    assert.equal(await exists(path), false);
  }
  const folder = join(dir, "folder");
  await mkdir(folder);
  await assert.rejects(acquireLock(folder, { purpose: "updating" }), (err: unknown) => {
    assert.ok(isUpdraftError(err, "INSTALL_FAILED"), String(err));
    assert.match((err as Error).message, /not a file/);
    return true;
  });
});

test("the lock file is created with mode 0644 whatever the umask", {
  skip: process.platform === "win32",
}, async (t) => {
  const dir = await tempDir(t);
  for (const umask of ["077", "000"]) {
    const path = join(dir, `lock-${umask}`);
    const holder = startChild(t, [path], umask);
    await lineOf(holder, /^held$/);
    assert.equal((await stat(path)).mode & 0o777, 0o644, `umask ${umask}`);
    holder.process.stdin!.end();
    await once(holder.process, "exit");
    assert.equal(await exists(path), false, "the holder removed its lock when done");
  }
});

test("eight processes take over one stale lock at the same moment: exactly one holds it, the others get LOCKED naming it", async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, "lock");
  const dead = spawn(process.execPath, ["-e", ""]);
  await once(dead, "exit");
  await writeFile(path, JSON.stringify({ pid: dead.pid, purpose: "crashed", since: "earlier" }));
  const go = join(dir, "go");
  const children = Array.from({ length: 8 }, () => startChild(t, [path, go]));
  for (const c of children) await lineOf(c, /^ready$/);
  await writeFile(go, "");
  const outcomes = await Promise.all(children.map((c) => lineOf(c, /^(held|locked \d+)$/)));
  const holders = children.filter((_, i) => outcomes[i] === "held");
  assert.equal(holders.length, 1, outcomes.join(", "));
  const holderPid = holders[0]!.process.pid;
  assert.deepEqual(
    outcomes.filter((o) => o !== "held"),
    Array(7).fill(`locked ${holderPid}`),
    "every other process was told who holds it",
  );
  const record = JSON.parse(await readFile(path, "utf8")) as LockRecord;
  assert.equal(record.pid, holderPid);
  assert.equal(await exists(`${path}.break`), false, "no take-over lock left behind");
});

test("the publisher uses the same lock: another publisher is named; a dead or reused PID's lock is taken over", async (t) => {
  const root = await tempDir(t);
  const keys = await makeKeys(join(root, "keys"));
  const build = await makeBuild(join(root, "build"));
  const repoDir = join(root, "repo");
  await initApp({ repoDir, app: "demo", keys });
  const lockFile = join(repoDir, "demo", ".publish.lock");
  const publish = (version: string) => publishRelease({ repoDir, app: "demo", version, buildDir: build, keys });

  const other = startChild(t, [lockFile]);
  await lineOf(other, /^held$/);
  await assert.rejects(publish("1.0.0"), (err: unknown) => {
    assert.ok(isLocked(other.process.pid)(err));
    assert.match(
      (err as Error).message,
      new RegExp(`Another publish of "demo" is running \\(process ${other.process.pid}\\)`),
    );
    return true;
  });
  const genuine = JSON.parse(await readFile(lockFile, "utf8")) as LockRecord;
  const exited = once(other.process, "exit");
  other.process.kill("SIGKILL");
  await exited;
  await publish("1.0.0");
  assert.equal(await exists(lockFile), false);

  // A record naming a live process that is not a publisher (this test's own PID, another start).
  if (genuine.start !== undefined) {
    await writeFile(lockFile, JSON.stringify({ ...genuine, pid: process.pid, token: "not-a-live-token" }));
    await publish("1.1.0");
    assert.equal(await exists(lockFile), false);
  }
});

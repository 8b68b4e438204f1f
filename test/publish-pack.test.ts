import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cp, mkdir, readFile, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { zstdDecompressSync } from "node:zlib";
import tar from "tar-stream";
import { isUpdraftError } from "../src/core/errors.js";
import { sha256Hex } from "../src/core/hash.js";
import { scanBuild, writeArchive } from "../src/publish/index.js";
import { makeBuild } from "./helpers/publish-fixtures.js";
import { tempDir } from "./helpers/tmp.js";

const posix = process.platform !== "win32";

interface ListedEntry {
  name: string;
  type: string;
  mode: number;
  size: number;
  mtime: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  linkname: string | null;
  sha256: string;
}

async function listArchive(path: string): Promise<ListedEntry[]> {
  const extract = tar.extract();
  const entries: ListedEntry[] = [];
  extract.end(zstdDecompressSync(await readFile(path)));
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    const h = entry.header;
    entries.push({
      name: h.name,
      type: h.type,
      mode: h.mode,
      size: h.size,
      mtime: h.mtime.getTime(),
      uid: h.uid,
      gid: h.gid,
      uname: h.uname,
      gname: h.gname,
      linkname: h.linkname ?? null,
      sha256: sha256Hex(Buffer.concat(chunks)),
    });
  }
  return entries;
}

const extras = [{ path: "updraft.json", data: Buffer.from('{"schema":1}\n') }];

test("the manifest lists every file with its size, sha256 and mode, sorted by byte order", async (t) => {
  const build = await makeBuild(join(await tempDir(t), "build"));
  const contents = await scanBuild(build, extras);
  const paths = contents.files.map((f) => f.path);
  assert.deepEqual(paths, ["README", "Zeta.txt", "bin/app.js", "lib/data.txt", "lib/deep/er/x.bin", "updraft.json"]);
  for (const file of contents.files) {
    const bytes = file.data ?? (await readFile(join(build, ...file.path.split("/"))));
    assert.equal(file.size, bytes.length, file.path);
    assert.equal(file.sha256, sha256Hex(bytes), file.path);
  }
  const mode = (p: string) => contents.files.find((f) => f.path === p)?.mode;
  if (posix) assert.equal(mode("bin/app.js"), 0o755);
  assert.equal(mode("lib/data.txt"), 0o644);
  assert.equal(mode("updraft.json"), 0o644);
  if (posix) assert.deepEqual(contents.symlinks, [{ path: "lib/current", target: "data.txt" }]);
  assert.equal(
    contents.totalBytes,
    contents.files.reduce((s, f) => s + f.size, 0),
  );
});

test("the archive is deterministic: same content, other mtimes and folder → identical bytes", async (t) => {
  const root = await tempDir(t);
  const build = await makeBuild(join(root, "build"));
  const copy = join(root, "copy");
  await cp(build, copy, { recursive: true, verbatimSymlinks: true });
  await utimes(join(copy, "README"), new Date(2001, 1, 1), new Date(2001, 1, 1));
  const a = join(root, "a.tar.zst");
  const b = join(root, "b.tar.zst");
  const c = join(root, "c.tar.zst");
  const infoA = await writeArchive(await scanBuild(build, extras), a);
  await writeArchive(await scanBuild(build, extras), b);
  await writeArchive(await scanBuild(copy, extras), c);
  const bytesA = await readFile(a);
  assert.deepEqual(await readFile(b), bytesA);
  assert.deepEqual(await readFile(c), bytesA);
  assert.equal(infoA.size, bytesA.length);
  assert.equal(infoA.sha256, sha256Hex(bytesA));
  // A different level gives other bytes but the same entries.
  const fast = join(root, "fast.tar.zst");
  await writeArchive(await scanBuild(build, extras), fast, { level: 1 });
  assert.deepEqual(await listArchive(fast), await listArchive(a));
});

test("archive entries follow the manifest: order, modes, sizes, hashes, zeroed owner and mtime, no folders", async (t) => {
  const root = await tempDir(t);
  const build = await makeBuild(join(root, "build"));
  // A long path needs a pax header; it must still come out right.
  const longDir = join(build, "a".repeat(60), "b".repeat(60));
  await mkdir(longDir, { recursive: true });
  await writeFile(join(longDir, `${"c".repeat(90)}.txt`), "long\n");
  await writeFile(join(build, "ünïcode.txt"), "utf-8 name\n");
  const contents = await scanBuild(build, extras);
  const out = join(root, "out.tar.zst");
  const progress: number[] = [];
  await writeArchive(contents, out, { onProgress: (p) => progress.push(p.bytesDone) });
  assert.equal(progress.at(-1), contents.totalBytes);
  const entries = await listArchive(out);
  interface Expected {
    name: string;
    type: string;
    mode?: number;
    size?: number;
    sha256?: string;
    linkname?: string;
  }
  const expected: Expected[] = [
    ...contents.files.map((f) => ({ name: f.path, type: "file", mode: f.mode, size: f.size, sha256: f.sha256 })),
    ...contents.symlinks.map((l) => ({ name: l.path, type: "symlink", linkname: l.target })),
  ].sort((x, y) => Buffer.compare(Buffer.from(x.name), Buffer.from(y.name)));
  assert.deepEqual(
    entries.map((e) => e.name),
    expected.map((e) => e.name),
  );
  for (const [i, entry] of entries.entries()) {
    const want = expected[i]!;
    assert.equal(entry.type, want.type, entry.name);
    assert.equal(entry.mtime, 0, entry.name);
    assert.equal(entry.uid, 0);
    assert.equal(entry.gid, 0);
    assert.equal(entry.uname, "");
    assert.equal(entry.gname, "");
    if (want.type === "file") {
      assert.equal(entry.mode, want.mode, entry.name);
      assert.equal(entry.size, want.size, entry.name);
      assert.equal(entry.sha256, want.sha256, entry.name);
    } else assert.equal(entry.linkname, want.linkname);
  }
  assert.ok(!entries.some((e) => e.type === "directory"));
});

test("a symlink leaving the build folder is refused", { skip: !posix }, async (t) => {
  const root = await tempDir(t);
  const build = await makeBuild(join(root, "build"));
  await symlink("../../outside", join(build, "lib", "escape"));
  await assert.rejects(scanBuild(build), (err) => {
    assert.ok(isUpdraftError(err, "BUILD_INVALID"));
    assert.match(err.message, /lib\/escape/);
    return true;
  });
  const abs = await makeBuild(join(root, "abs"));
  await symlink("/etc/passwd", join(abs, "passwd"));
  await assert.rejects(scanBuild(abs), (err) => isUpdraftError(err, "BUILD_INVALID"));
});

test("FIFOs are refused", { skip: !posix }, async (t) => {
  const build = await makeBuild(join(await tempDir(t), "build"));
  try {
    execFileSync("mkfifo", [join(build, "pipe")]);
  } catch {
    t.skip("mkfifo is not available");
    return;
  }
  await assert.rejects(scanBuild(build), (err) => {
    assert.ok(isUpdraftError(err, "BUILD_INVALID"));
    assert.match(err.message, /FIFO/);
    return true;
  });
});

test("paths colliding case-insensitively, or with an injected file, are refused", async (t) => {
  const root = await tempDir(t);
  const build = await makeBuild(join(root, "build"));
  await writeFile(join(build, "readme"), "clash\n").catch(() => undefined);
  await assert.rejects(scanBuild(build), (err) => {
    assert.ok(isUpdraftError(err, "BUILD_INVALID"));
    assert.match(err.message, /case-insensitive/);
    return true;
  });
  const other = await makeBuild(join(root, "other"));
  await writeFile(join(other, "UPDRAFT.json"), "{}");
  await assert.rejects(scanBuild(other, extras), (err) => isUpdraftError(err, "BUILD_INVALID"));
});

test("names unsafe on some OS are refused", { skip: !posix }, async (t) => {
  const root = await tempDir(t);
  for (const name of ["con.txt", "trailing.", "a:b", "bad|pipe"]) {
    const build = await makeBuild(join(root, `b${sha256Hex(name).slice(0, 6)}`));
    await writeFile(join(build, name), "x");
    await assert.rejects(scanBuild(build), (err) => isUpdraftError(err, "BUILD_INVALID"), name);
  }
});

test("a file that changes between scan and pack is refused and no archive is left", async (t) => {
  const root = await tempDir(t);
  const build = await makeBuild(join(root, "build"));
  const contents = await scanBuild(build);
  await writeFile(join(build, "lib", "data.txt"), "changed!!\n");
  const out = join(root, "out.tar.zst");
  await assert.rejects(writeArchive(contents, out), (err) => isUpdraftError(err, "BUILD_INVALID"));
  await assert.rejects(readFile(out), { code: "ENOENT" });
});

/**
 * The archive reader accepts exactly what the signed manifest lists: real tar.zst archives built
 * here with entries an attacker would try, each refused with ARCHIVE_INVALID or FILE_MISMATCH and
 * nothing written outside the staging folder.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { zstdCompressSync } from "node:zlib";
import tar from "tar-stream";
import { identitiesOf } from "../src/client/artifacts/delta/tree-check.js";
import { extractRelease } from "../src/client/artifacts/tar-zst.js";
import { ErrorCodes, UpdraftError } from "../src/core/errors.js";
import { NATIVE_SCHEMA, parseReleaseManifest, type ReleaseManifest } from "../src/formats/native.js";
import { tempDir } from "./helpers/tmp.js";

type Entry =
  | { name: string; content: string; mode?: number }
  | { name: string; type: "symlink" | "link" | "directory" | "fifo"; linkname?: string };

async function tarZst(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => pack.on("end", () => r()));
  for (const e of entries) {
    if ("content" in e) pack.entry({ name: e.name, mode: e.mode ?? 0o644, mtime: new Date(0) }, e.content);
    else
      pack.entry({ name: e.name, type: e.type, mtime: new Date(0), ...(e.linkname ? { linkname: e.linkname } : {}) });
  }
  pack.finalize();
  await done;
  return zstdCompressSync(Buffer.concat(chunks));
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

function manifestOf(files: Record<string, string>, symlinks: { path: string; target: string }[] = []): ReleaseManifest {
  return parseReleaseManifest({
    schema: NATIVE_SCHEMA,
    app: "hello",
    version: "1.0.0",
    channel: "stable",
    releasedAt: "2026-11-23T00:00:00Z",
    files: Object.entries(files).map(([path, content]) => ({
      path,
      size: Buffer.byteLength(content),
      sha256: sha(content),
      mode: 0o644,
    })),
    symlinks,
    artifacts: [],
  });
}

async function attempt(t: import("node:test").TestContext, manifest: ReleaseManifest, entries: Entry[]) {
  const work = await tempDir(t);
  const archive = join(work, "a.tar.zst");
  await writeFile(archive, await tarZst(entries));
  const dest = join(work, "stage", "out");
  const { mkdir } = await import("node:fs/promises");
  await mkdir(join(work, "stage"));
  return { work, dest, run: () => extractRelease(archive, manifest, dest) };
}

async function expectRefused(
  t: import("node:test").TestContext,
  manifest: ReleaseManifest,
  entries: Entry[],
  code: string,
  pattern: RegExp,
) {
  const { work, run } = await attempt(t, manifest, entries);
  await assert.rejects(run, (err: unknown) => {
    assert.ok(err instanceof UpdraftError);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return true;
  });
  assert.deepEqual((await readdir(work)).sort(), ["a.tar.zst", "stage"], "nothing written outside the staging folder");
}

test("a matching archive extracts with exact content and modes", async (t) => {
  const m = manifestOf({ "a.txt": "A", "dir/b.txt": "B" }, [{ path: "dir/link", target: "b.txt" }]);
  const { dest, run } = await attempt(t, m, [
    { name: "a.txt", content: "A" },
    { name: "dir/b.txt", content: "B" },
    { name: "dir/link", type: "symlink", linkname: "b.txt" },
  ]);
  const stats = await run();
  assert.equal(stats.written, 2);
  assert.equal(await readFile(join(dest, "dir", "b.txt"), "utf8"), "B");
  assert.equal(await readFile(join(dest, "dir", "link"), "utf8"), "B");
});

test("the stat identities taken while extracting, written or linked, are the tree's own", async (t) => {
  const m = manifestOf({ "a.txt": "A", "dir/b.txt": "B", "dir/c.txt": "C" });
  const entries: Entry[] = [
    { name: "a.txt", content: "A" },
    { name: "dir/b.txt", content: "B" },
    { name: "dir/c.txt", content: "C" },
  ];
  const first = await attempt(t, m, entries);
  const fresh = await first.run();
  assert.deepEqual(fresh.identities, await identitiesOf(first.dest, m.files));
  // Extracted again beside an installed copy: unchanged files are hard-linked from it.
  const second = await attempt(t, m, entries);
  const installed = new Map(
    m.files.map((f) => [f.path, { absolutePath: join(first.dest, f.path), sha256: f.sha256, mode: f.mode }]),
  );
  const reused = await extractRelease(join(second.work, "a.tar.zst"), m, second.dest, installed);
  assert.equal(reused.linked, 3);
  assert.deepEqual(reused.identities, await identitiesOf(second.dest, m.files));
});

test("an entry with .. is refused", async (t) => {
  const m = manifestOf({ "a.txt": "A" });
  await expectRefused(t, m, [{ name: "../evil.txt", content: "x" }], ErrorCodes.ARCHIVE_INVALID, /not list|Unsafe/);
});

test("an absolute entry is refused", async (t) => {
  await expectRefused(
    t,
    manifestOf({ "a.txt": "A" }),
    [{ name: "/tmp/evil", content: "x" }],
    ErrorCodes.ARCHIVE_INVALID,
    /not list/,
  );
});

test("an entry the manifest does not list is refused", async (t) => {
  const m = manifestOf({ "a.txt": "A" });
  await expectRefused(
    t,
    m,
    [
      { name: "a.txt", content: "A" },
      { name: "extra.txt", content: "x" },
    ],
    ErrorCodes.ARCHIVE_INVALID,
    /does not list/,
  );
});

test("a file listed but missing from the archive is refused", async (t) => {
  const m = manifestOf({ "a.txt": "A", "b.txt": "B" });
  await expectRefused(t, m, [{ name: "a.txt", content: "A" }], ErrorCodes.ARCHIVE_INVALID, /lacks "b.txt"/);
});

test("a file with other bytes of the same length is refused with FILE_MISMATCH", async (t) => {
  await expectRefused(
    t,
    manifestOf({ "a.txt": "A" }),
    [{ name: "a.txt", content: "Z" }],
    ErrorCodes.FILE_MISMATCH,
    /sha256/,
  );
});

test("a file of another size is refused before it is read", async (t) => {
  await expectRefused(
    t,
    manifestOf({ "a.txt": "A" }),
    [{ name: "a.txt", content: "AAAA" }],
    ErrorCodes.ARCHIVE_INVALID,
    /bytes/,
  );
});

test("a duplicated entry is refused", async (t) => {
  const m = manifestOf({ "a.txt": "A" });
  await expectRefused(
    t,
    m,
    [
      { name: "a.txt", content: "A" },
      { name: "a.txt", content: "A" },
    ],
    ErrorCodes.ARCHIVE_INVALID,
    /twice/,
  );
});

test("symlinks, hard links, folders and FIFOs the manifest does not describe are refused", async (t) => {
  const m = manifestOf({ "a.txt": "A" });
  await expectRefused(
    t,
    m,
    [{ name: "a.txt", type: "symlink", linkname: "/etc/passwd" }],
    ErrorCodes.ARCHIVE_INVALID,
    /symlink/,
  );
  await expectRefused(
    t,
    m,
    [{ name: "a.txt", type: "link", linkname: "../../x" }],
    ErrorCodes.ARCHIVE_INVALID,
    /type link/,
  );
  await expectRefused(t, m, [{ name: "d", type: "directory" }], ErrorCodes.ARCHIVE_INVALID, /type directory/);
  await expectRefused(t, m, [{ name: "f", type: "fifo" }], ErrorCodes.ARCHIVE_INVALID, /type fifo/);
});

test("a manifest cannot smuggle paths outside the tree", () => {
  for (const path of ["../x", "/abs", "a/../../x", "C:/x", "a\\..\\x", "CON", "aux.txt", "file.txt:stream", ""]) {
    assert.throws(
      () => manifestOf({ [path]: "x" }),
      (e: unknown) => e instanceof UpdraftError && e.code === ErrorCodes.MANIFEST_INVALID,
      path,
    );
  }
  assert.throws(() => manifestOf({ "A.txt": "1", "a.txt": "2" }), /case-insensitive/);
  assert.throws(() => manifestOf({ "x/y": "1" }, [{ path: "x", target: "/etc" }]), /outside/);
  assert.throws(() => manifestOf({ "x/y": "1" }, [{ path: "x", target: "." }]), /under the symlink/);
  assert.throws(() => manifestOf({}, [{ path: "l", target: "../../etc" }]), /outside/);
});

/**
 * Each delta kind round-trips on generated trees with every kind of change (added, removed,
 * renamed with content-hashed names, changed, executable bit changed, empty, large files, a binary
 * for bsdiff): the publisher's builder writes a real delta file, the client's producer applies it
 * to a real install folder, and the staged tree equals the new manifest, modes included. Small
 * segment limits exercise chunked large files and segments spanning files. A damaged delta never
 * produces a file.
 */
import assert from "node:assert/strict";
import { lstat, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fromDelta } from "../src/client/artifacts/delta/apply.js";
import { ErrorCodes, isUpdraftError } from "../src/core/errors.js";
import {
  DELTA_KIND_FILES,
  DELTA_KIND_TREE,
  DELTA_KINDS,
  decodeDeltaHeader,
  encodeDeltaHeader,
  readDeltaPreamble,
} from "../src/formats/delta.js";
import { buildDelta } from "../src/publish/delta/build-one.js";
import type { PlanLimits } from "../src/publish/delta/plan.js";
import { installedCopy, manifestOf, writeReleasePair } from "./helpers/delta-trees.js";
import { manifestDigest, treeDigest } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";

const SMALL: PlanLimits = { maxReferenceBytes: 300_000, maxSegmentBytes: 128_000 };

for (const kind of DELTA_KINDS) {
  for (const [label, limits] of [
    ["default limits", undefined],
    ["small segments", SMALL],
  ] as const) {
    test(`${kind} round-trips a release pair with every kind of change (${label})`, async (t) => {
      const dir = await tempDir(t);
      const { oldDir, newDir } = await writeReleasePair(dir);
      const before = await manifestOf(oldDir, "1.0.0");
      const after = await manifestOf(newDir, "1.1.0");
      const outPath = join(dir, `delta.${kind}`);
      const built = buildDelta({
        kind,
        from: "1.0.0",
        oldFiles: before.sources,
        newFiles: after.sources,
        outPath,
        level: 19,
        ...(limits ? { limits } : {}),
      });
      assert.equal(built.size, (await stat(outPath)).size);
      const fullBytes = after.manifest.files.reduce((s, f) => s + f.size, 0);
      assert.ok(built.size < fullBytes / 10, `delta of ${built.size} bytes for ${fullBytes} bytes of files`);
      if (limits) assert.ok(built.segments > 3, `small limits give several segments (${built.segments})`);
      if (kind === DELTA_KIND_FILES) assert.ok(built.bsdiffSegments > 0, "the shifted binary is encoded with bsdiff");

      const layout = await installedCopy(dir, oldDir, "1.0.0");
      const staging = join(layout.stagingDir, "app-1.1.0");
      await mkdir(layout.stagingDir, { recursive: true });
      const stats = await fromDelta({
        layout,
        installed: before.manifest,
        manifest: after.manifest,
        deltaPath: outPath,
        kind,
      })(staging);
      assert.deepEqual(await treeDigest(staging), manifestDigest(after.manifest));
      for (const f of after.manifest.files) {
        assert.equal((await lstat(join(staging, f.path))).mode & 0o777, f.mode, `mode of ${f.path}`);
      }
      assert.ok(stats.linked >= 4, `unchanged files are hard-linked (${stats.linked})`);
      assert.equal(
        (await stat(join(layout.versionDir("1.0.0"), "script.sh"))).mode & 0o777,
        0o644,
        "the installed file keeps its mode when only the new one is executable",
      );
    });
  }
}

test("a damaged delta fails with DELTA_INVALID or FILE_MISMATCH and leaves no wrong file", async (t) => {
  const dir = await tempDir(t);
  const { oldDir, newDir } = await writeReleasePair(dir, 200_000);
  const before = await manifestOf(oldDir, "1.0.0");
  const after = await manifestOf(newDir, "1.1.0");
  for (const kind of [DELTA_KIND_FILES, DELTA_KIND_TREE]) {
    const outPath = join(dir, `delta.${kind}`);
    buildDelta({ kind, from: "1.0.0", oldFiles: before.sources, newFiles: after.sources, outPath, level: 19 });
    const bytes = await readFile(outPath);
    const { bodyStart, bodyLength } = readDeltaPreamble(bytes);
    for (const at of [bodyStart + bodyLength + 20, bytes.length - 3]) {
      const damaged = Buffer.from(bytes);
      damaged[at] = damaged[at]! ^ 0x5a;
      const path = join(dir, `damaged-${kind}-${at}`);
      await writeFile(path, damaged);
      const layout = await installedCopy(join(dir, `i-${kind}-${at}`), oldDir, "1.0.0");
      await mkdir(layout.stagingDir, { recursive: true });
      await assert.rejects(
        fromDelta({ layout, installed: before.manifest, manifest: after.manifest, deltaPath: path, kind })(
          join(layout.stagingDir, "x"),
        ),
        (err) => isUpdraftError(err, ErrorCodes.DELTA_INVALID) || isUpdraftError(err, ErrorCodes.FILE_MISMATCH),
      );
    }
  }
});

test("headers round-trip, merge runs of whole files, and refuse out-of-bounds spans", () => {
  const sizes = { old: [10, 20, 30, 0, 5], new: [7, 8] };
  const header = {
    kind: DELTA_KIND_TREE,
    baseTreeId: "00112233445566778899aabbccddeeff",
    segments: [
      {
        method: "zstd" as const,
        outputLength: 15,
        payloadLength: 9,
        refs: [
          { source: "old" as const, file: 0, offset: 0, length: 10 },
          { source: "old" as const, file: 1, offset: 0, length: 20 },
          { source: "old" as const, file: 2, offset: 0, length: 30 },
          { source: "old" as const, file: 3, offset: 0, length: 0 },
          { source: "old" as const, file: 4, offset: 1, length: 3 },
          { source: "new" as const, file: 0, offset: 0, length: 7 },
        ],
      },
    ],
  };
  const encoded = encodeDeltaHeader(header, sizes);
  const { bodyStart, bodyLength } = readDeltaPreamble(encoded);
  const body = encoded.subarray(bodyStart, bodyStart + bodyLength);
  assert.ok(bodyLength < 40, `compact header (${bodyLength} bytes)`);
  assert.deepEqual(decodeDeltaHeader(body, sizes, 15, encoded.length).header, header);
  assert.throws(
    () => decodeDeltaHeader(body, sizes, 16, encoded.length),
    (e) => isUpdraftError(e, ErrorCodes.DELTA_INVALID),
  );
  assert.throws(
    () => decodeDeltaHeader(body, { old: [10, 20, 30, 0, 3], new: [7, 8] }, 15, encoded.length),
    (e) => isUpdraftError(e, ErrorCodes.DELTA_INVALID),
  );
  assert.throws(
    () => readDeltaPreamble(Buffer.from("PK\x03\x04 not a delta")),
    (e) => isUpdraftError(e, ErrorCodes.DELTA_INVALID),
  );
});

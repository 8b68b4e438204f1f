/**
 * Bad input, generated: every parser Updraft has is fed random and near-valid input (fast-check,
 * bounded runs, fixed seed for reproducible CI) and must either return a value or throw an
 * UpdraftError with a code, never anything else, and never hang (each run has a time budget).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { zstdCompressSync } from "node:zlib";
import fc from "fast-check";
import { readTarGz, readZip } from "../src/client/artifacts/archives.js";
import { extractRelease } from "../src/client/artifacts/tar-zst.js";
import { parseContentRange } from "../src/client/net/download.js";
import { bypassesProxy } from "../src/client/net/proxy.js";
import { parseRetryAfter } from "../src/client/net/retry.js";
import { mapTufError } from "../src/client/trust/tuf-errors.js";
import { UpdraftError } from "../src/core/errors.js";
import { assertVersion, compareVersions, isValidVersion } from "../src/core/version.js";
import { parseChannelDocument } from "../src/formats/channel.js";
import { decodeBsdiffPrefix, decodeDeltaHeader, readDeltaPreamble } from "../src/formats/delta.js";
import { parseAppConfig, parseChannelPointer, parseReleaseManifest } from "../src/formats/native.js";
import { parseUpdateJson } from "../src/formats/update-json.js";
import { parseVersao } from "../src/formats/versao.js";
import { tempDir } from "./helpers/tmp.js";

/** Fixed seed: a failure in CI reproduces locally; bump it to explore. */
const SEED = 0x5eed_f00d;
const RUNS = 300;
/** No single parse may take longer than this (a hang shows up as a failure, not a stuck run). */
const PER_RUN_MS = 2_000;

/** Calls `fn`; passes if it returns or throws an UpdraftError with a code, fails on anything else. */
function onlyUpdraftErrors<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    assert.ok(err instanceof UpdraftError, `threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
    assert.equal(typeof err.code, "string");
    assert.ok(err.message.length > 0);
    return undefined;
  }
}

async function onlyUpdraftErrorsAsync(fn: () => Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not finish within ${PER_RUN_MS} ms`)), PER_RUN_MS);
  });
  try {
    await Promise.race([fn(), budget]);
  } catch (err) {
    assert.ok(err instanceof UpdraftError, `threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
    assert.equal(typeof err.code, "string");
  } finally {
    clearTimeout(timer);
  }
}

const params = (numRuns = RUNS) => ({ seed: SEED, numRuns, interruptAfterTimeLimit: 60_000 });

/** Strings that look like versions more often than random text does. */
const versionish = fc.oneof(
  fc.string(),
  fc.stringMatching(/^[0-9.]{0,20}$/),
  fc.stringMatching(/^v?\d{1,12}(\.\d{1,12}){0,7}(-[0-9A-Za-z.-]{0,12})?(\+[0-9A-Za-z.-]{0,8})?$/),
  fc.constantFrom("1.0.0", "1.2.3-beta.1", "10.0.2.0", "", " ", "1..2", "01.2.3", "999999999999.0.0"),
);

/** JSON-ish values shaped like Updraft documents, with random holes and wrong types. */
const anyJson = fc.jsonValue({ maxDepth: 4 });
const manifestish = fc.record(
  {
    schema: fc.oneof(fc.constant(1), anyJson),
    app: fc.oneof(fc.constant("demo"), fc.string(), anyJson),
    version: fc.oneof(versionish, anyJson),
    channel: fc.oneof(fc.constant("stable"), fc.string()),
    releasedAt: fc.oneof(fc.constant("2026-11-23T10:00:00Z"), anyJson),
    manifest: fc.oneof(fc.constant("releases/1.0.0/manifest.json"), fc.string(), anyJson),
    url: fc.oneof(fc.constant("https://example.com"), fc.string(), anyJson),
    rolloutPercentage: anyJson,
    critical: anyJson,
    channelSchema: fc.oneof(fc.constant(2), anyJson),
    releases: fc.oneof(
      fc.array(
        fc.record(
          {
            version: fc.oneof(versionish, anyJson),
            platforms: fc.oneof(fc.constant(["any"]), fc.array(fc.string(), { maxLength: 3 }), anyJson),
            publishedAt: fc.oneof(fc.constant("2026-11-23T10:00:00Z"), anyJson),
            rollout: fc.oneof(
              fc.record({
                steps: fc.array(fc.record({ percent: anyJson, at: anyJson }), { maxLength: 3 }),
                halted: anyJson,
              }),
              anyJson,
            ),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 4 },
      ),
      anyJson,
    ),
    yanked: fc.oneof(
      fc.array(fc.record({ version: fc.oneof(versionish, anyJson), reason: anyJson }), { maxLength: 3 }),
      anyJson,
    ),
    files: fc.oneof(
      fc.array(
        fc.record(
          {
            path: fc.oneof(fc.constantFrom("a", "../x", "/abs", "C:/x", "a\\b", "a/./b", "CON"), fc.string()),
            size: fc.oneof(fc.nat(), anyJson),
            sha256: fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/), fc.string()),
            mode: fc.oneof(fc.constantFrom(420, 493), anyJson),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 5 },
      ),
      anyJson,
    ),
    symlinks: fc.oneof(fc.array(fc.record({ path: fc.string(), target: fc.string() }), { maxLength: 3 }), anyJson),
    artifacts: fc.oneof(fc.array(anyJson, { maxLength: 3 }), anyJson),
  },
  { requiredKeys: [] },
);

test("versions: any string is valid-or-VERSION_INVALID, and comparing valid ones is a total order", () => {
  fc.assert(
    fc.property(versionish, (v) => {
      const ok = isValidVersion(v);
      const parsed = onlyUpdraftErrors(() => assertVersion(v));
      assert.equal(parsed !== undefined, ok || isValidVersion(v.trim()));
    }),
    params(),
  );
  const valid = versionish.filter((v) => isValidVersion(v));
  fc.assert(
    fc.property(valid, valid, valid, (a, b, c) => {
      assert.ok(Math.sign(compareVersions(a, b)) === -Math.sign(compareVersions(b, a)), "antisymmetric");
      if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) assert.ok(compareVersions(a, c) <= 0);
    }),
    params(),
  );
  fc.assert(
    fc.property(versionish, versionish, (a, b) => {
      onlyUpdraftErrors(() => compareVersions(a, b));
    }),
    params(),
  );
});

test("native documents: release manifest, channel pointer, updraft.json from any text or value", () => {
  const parsers = [parseReleaseManifest, parseChannelPointer, parseChannelDocument, parseAppConfig];
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: "binary" })), (text) => {
      for (const parse of parsers) onlyUpdraftErrors(() => parse(text));
    }),
    params(),
  );
  fc.assert(
    fc.property(fc.oneof(manifestish, anyJson), (value) => {
      for (const parse of parsers) {
        onlyUpdraftErrors(() => parse(value));
        onlyUpdraftErrors(() => parse(JSON.stringify(value) ?? ""));
      }
    }),
    params(),
  );
});

test("tar.zst reader: random bytes, and random bytes compressed with zstd, are refused with a code", async (t) => {
  const dir = await tempDir(t);
  const manifest = parseReleaseManifest({
    schema: 1,
    app: "demo",
    version: "1.0.0",
    channel: "stable",
    releasedAt: "2026-11-23T10:00:00Z",
    files: [{ path: "a.txt", size: 3, sha256: "0".repeat(64), mode: 420 }],
    symlinks: [],
    artifacts: [],
  });
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), fc.boolean(), async (bytes, compress) => {
      const file = join(dir, `r${n}.tar.zst`);
      const dest = join(dir, `out${n++}`);
      await writeFile(file, compress ? zstdCompressSync(bytes) : bytes);
      await onlyUpdraftErrorsAsync(() => extractRelease(file, manifest, dest));
    }),
    params(60),
  );
});

// ---------------------------------------------------------------------------------------------
// Legacy labels and update feeds (src/formats/versao.ts, src/formats/update-json.ts), written for
// another issue: included here because they exist.

test("versao.txt and update.json parsers: any text or bytes give a label or a coded error", () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), fc.string({ unit: "binary" })),
      fc.uint8Array({ maxLength: 512 }),
      (text, bytes) => {
        onlyUpdraftErrors(() => parseVersao(text));
        onlyUpdraftErrors(() => parseVersao(bytes));
        onlyUpdraftErrors(() => parseUpdateJson(text));
        onlyUpdraftErrors(() => parseUpdateJson(bytes));
      },
    ),
    params(),
  );
  fc.assert(
    fc.property(anyJson, (value) => {
      onlyUpdraftErrors(() => parseUpdateJson(value));
      onlyUpdraftErrors(() => parseUpdateJson(JSON.stringify(value) ?? ""));
    }),
    params(),
  );
});

test("zip and tar.gz readers: random bytes are refused with a code, nothing written outside dest", async (t) => {
  const dir = await tempDir(t);
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (bytes) => {
      const i = n++;
      const zip = join(dir, `r${i}.zip`);
      const tgz = join(dir, `r${i}.tar.gz`);
      // Keep zip's end-of-central-directory signature near the end sometimes, to get past the first check.
      const zipBytes =
        i % 2 === 0 ? Buffer.concat([bytes, Buffer.from([0x50, 0x4b, 0x05, 0x06]), randomBytes(18)]) : bytes;
      await writeFile(zip, zipBytes);
      await writeFile(tgz, bytes);
      await onlyUpdraftErrorsAsync(() => readZip(zip, { dest: join(dir, `z${i}`) }));
      await onlyUpdraftErrorsAsync(() => readTarGz(tgz, { dest: join(dir, `t${i}`) }));
    }),
    params(60),
  );
});

test("delta headers: random preambles, bodies and bsdiff prefixes give a result or DELTA_INVALID", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 256 }),
      fc.array(fc.nat(), { maxLength: 4 }),
      fc.nat(),
      (bytes, sizes, n) => {
        onlyUpdraftErrors(() => readDeltaPreamble(Buffer.concat([Buffer.from("UDLT\x01", "latin1"), bytes])));
        onlyUpdraftErrors(() => readDeltaPreamble(bytes));
        onlyUpdraftErrors(() => decodeDeltaHeader(bytes, { old: sizes, new: sizes }, n, 0));
        onlyUpdraftErrors(() => decodeBsdiffPrefix(bytes, n));
      },
    ),
    params(),
  );
});

test("network parsers: Retry-After, Content-Range, NO_PROXY and the TUF error mapping never throw", () => {
  fc.assert(
    fc.property(fc.string(), fc.string(), fc.webUrl(), (a, b, url) => {
      const after = parseRetryAfter(a);
      assert.ok(after === undefined || (Number.isFinite(after) && after >= 0));
      const range = parseContentRange(b);
      assert.ok(range === undefined || (range.start <= Number.MAX_SAFE_INTEGER && range.end >= 0));
      assert.equal(typeof bypassesProxy(new URL(url), a), "boolean");
      const mapped = mapTufError(new Error(a), url);
      assert.ok(mapped instanceof UpdraftError);
    }),
    params(),
  );
});

/**
 * python-autoupdate's `update.json`: the seed's example parses, and each broken document is
 * refused with a message naming the field.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ErrorCodes, UpdraftError } from "../src/core/errors.js";
import { parseUpdateJson, serializeUpdateJson } from "../src/formats/update-json.js";

const HASH = "a".repeat(64);
/** The seed's example, with a real-looking hash. */
const SEED = {
  version: "1.0.1",
  files: [
    {
      filename: "your_app_v1.0.1.zip",
      hash: HASH,
      url: "https://example.com/updates/your_app_v1.0.1.zip",
    },
  ],
};

test("the seed's update.json parses and serializes back", () => {
  const doc = parseUpdateJson(JSON.stringify(SEED));
  assert.deepEqual(doc, SEED);
  assert.deepEqual(JSON.parse(serializeUpdateJson(doc)), SEED);
  assert.equal(
    parseUpdateJson({ ...SEED, files: [{ ...SEED.files[0], hash: HASH.toUpperCase() }] }).files[0]!.hash,
    HASH,
  );
  assert.equal(parseUpdateJson(Buffer.from(`\uFEFF${JSON.stringify(SEED)}`)).version, "1.0.1");
});

const file0 = SEED.files[0]!;
const BROKEN: { why: string; doc: unknown; field: string; message: RegExp }[] = [
  { why: "not JSON", doc: "{ version: 1", field: "(document)", message: /"\(document\)" is not JSON/ },
  { why: "an array", doc: [], field: "(document)", message: /must be a JSON object/ },
  { why: "missing version", doc: { files: SEED.files }, field: "version", message: /"version" is missing/ },
  {
    why: "version not a string",
    doc: { ...SEED, version: 101 },
    field: "version",
    message: /"version" must be a non-empty string/,
  },
  {
    why: "version not a version",
    doc: { ...SEED, version: "latest" },
    field: "version",
    message: /"version" "latest" is not a version/,
  },
  { why: "missing files", doc: { version: "1.0.1" }, field: "files", message: /"files" is missing/ },
  {
    why: "empty files",
    doc: { version: "1.0.1", files: [] },
    field: "files",
    message: /"files" must be a non-empty array/,
  },
  {
    why: "missing hash",
    doc: { ...SEED, files: [{ filename: file0.filename, url: file0.url }] },
    field: "files[0].hash",
    message: /"files\[0\]\.hash" is missing/,
  },
  {
    why: "short hash",
    doc: { ...SEED, files: [{ ...file0, hash: "abc123" }] },
    field: "files[0].hash",
    message: /"files\[0\]\.hash" must be a sha256: 64 hex characters, got 6 characters/,
  },
  {
    why: "long hash",
    doc: { ...SEED, files: [{ ...file0, hash: `${HASH}00` }] },
    field: "files[0].hash",
    message: /got 66 characters/,
  },
  {
    why: "hash not hex",
    doc: { ...SEED, files: [{ ...file0, hash: "z".repeat(64) }] },
    field: "files[0].hash",
    message: /written in hex/,
  },
  {
    why: "ftp url",
    doc: { ...SEED, files: [{ ...file0, url: "ftp://example.com/a.zip" }] },
    field: "files[0].url",
    message: /"files\[0\]\.url" "ftp:\/\/example\.com\/a\.zip" must be an http:\/\/ or https:\/\/ URL/,
  },
  {
    why: "file url",
    doc: { ...SEED, files: [{ ...file0, url: "file:///etc/passwd" }] },
    field: "files[0].url",
    message: /must be an http:\/\/ or https:\/\/ URL/,
  },
  {
    why: "relative url",
    doc: { ...SEED, files: [{ ...file0, url: "your_app.zip" }] },
    field: "files[0].url",
    message: /"your_app\.zip" is not a URL/,
  },
  {
    why: "filename with a path",
    doc: { ...SEED, files: [{ ...file0, filename: "../your_app.zip" }] },
    field: "files[0].filename",
    message: /"files\[0\]\.filename" "\.\.\/your_app\.zip" must be a file name without a path/,
  },
  {
    why: "filename with a Windows path",
    doc: { ...SEED, files: [{ ...file0, filename: "C:\\x.zip" }] },
    field: "files[0].filename",
    message: /must be a file name without a path/,
  },
  {
    why: "reserved filename",
    doc: { ...SEED, files: [{ ...file0, filename: "CON.zip" }] },
    field: "files[0].filename",
    message: /reserved on Windows/,
  },
  {
    why: "file listed twice",
    doc: { ...SEED, files: [file0, { ...file0 }] },
    field: "files[1].filename",
    message: /listed twice/,
  },
];

for (const c of BROKEN) {
  test(`update.json refused: ${c.why}`, () => {
    assert.throws(
      () => parseUpdateJson(typeof c.doc === "string" ? c.doc : JSON.stringify(c.doc)),
      (err: unknown) => {
        assert.ok(err instanceof UpdraftError, String(err));
        assert.equal(err.code, ErrorCodes.LABEL_INVALID);
        assert.match(err.message, /^Invalid update\.json: /);
        assert.match(err.message, c.message);
        assert.equal(err.details?.field, c.field);
        return true;
      },
    );
  });
}

test("any JSON value either parses or fails with LABEL_INVALID (property)", async () => {
  const fc = (await import("fast-check")).default;
  const file = fc.record(
    {
      filename: fc.oneof(fc.string(), fc.constant("a.zip")),
      hash: fc.oneof(fc.string(), fc.constant(HASH)),
      url: fc.oneof(fc.string(), fc.webUrl()),
    },
    { requiredKeys: [] },
  );
  const doc = fc.oneof(
    fc.jsonValue(),
    fc.record(
      {
        version: fc.oneof(fc.string(), fc.constant("1.0.1"), fc.integer()),
        files: fc.oneof(fc.array(file), fc.jsonValue()),
      },
      { requiredKeys: [] },
    ),
  );
  fc.assert(
    fc.property(doc, (value) => {
      try {
        parseUpdateJson(JSON.stringify(value) ?? "null");
      } catch (err) {
        return err instanceof UpdraftError && err.code === ErrorCodes.LABEL_INVALID;
      }
      return true;
    }),
    { numRuns: 3000 },
  );
});

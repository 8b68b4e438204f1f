/**
 * python-autoupdate's version file, `update.json` (seed `000_fe76da7a75a2a8fb.txt`):
 * `{ "version": "1.0.1", "files": [ { "filename", "hash" (sha256 hex), "url" } ] }`.
 *
 * Pure parse/serialize: no I/O. Every error is `LABEL_INVALID` and names the field.
 */
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { assertSafeRelativePath } from "../core/fs.js";
import { isJsonObject } from "../core/json.js";
import { isValidVersion } from "../core/version.js";

/** The file's conventional name, appended to a folder URL. */
export const UPDATE_JSON_FILE = "update.json";

/** Largest `update.json` accepted. */
export const UPDATE_JSON_MAX_BYTES = 1 << 20;

/** One downloadable file of a release. */
export interface UpdateJsonFile {
  /** Plain file name (no folder), e.g. `your_app_v1.0.1.zip`. */
  filename: string;
  /** Lower-case hex sha256 of the file. */
  hash: string;
  /** http(s) URL to download it from. */
  url: string;
}

/** A parsed `update.json`. */
export interface UpdateJson {
  version: string;
  files: UpdateJsonFile[];
}

function fail(field: string, why: string): never {
  throw new UpdraftError(ErrorCodes.LABEL_INVALID, `Invalid ${UPDATE_JSON_FILE}: "${field}" ${why}`, {
    hint: "Fix update.json in the repository, or publish with `updraft publish --format update-json`.",
    details: { field },
  });
}

function stringField(obj: Record<string, unknown>, field: string, path: string): string {
  const v = obj[field];
  if (v === undefined) fail(path, "is missing");
  if (typeof v !== "string" || v.trim() === "") fail(path, "must be a non-empty string");
  return v.trim();
}

/** Parses and validates `update.json` (text, bytes, or an already parsed value). */
export function parseUpdateJson(input: string | Uint8Array | unknown): UpdateJson {
  let value: unknown = input;
  if (typeof input === "string" || input instanceof Uint8Array) {
    const size = typeof input === "string" ? input.length : input.byteLength;
    if (size > UPDATE_JSON_MAX_BYTES) fail("(document)", `is larger than ${UPDATE_JSON_MAX_BYTES} bytes`);
    let text = typeof input === "string" ? input : new TextDecoder().decode(input);
    if (text.startsWith("\uFEFF")) text = text.slice(1);
    try {
      value = JSON.parse(text);
    } catch (err) {
      fail("(document)", `is not JSON: ${(err as Error).message}`);
    }
  }
  if (!isJsonObject(value)) fail("(document)", "must be a JSON object");
  const version = stringField(value, "version", "version");
  if (!isValidVersion(version)) {
    fail("version", `"${version}" is not a version (use 1.0.1, 1.0.1-beta.1 or dotted numbers)`);
  }
  const filesRaw = value.files;
  if (filesRaw === undefined) fail("files", "is missing");
  if (!Array.isArray(filesRaw) || filesRaw.length === 0) fail("files", "must be a non-empty array");
  if (filesRaw.length > 1000) fail("files", "lists more than 1000 files");
  const seen = new Set<string>();
  const files = filesRaw.map((f: unknown, i: number): UpdateJsonFile => {
    const at = `files[${i}]`;
    if (!isJsonObject(f)) fail(at, "must be an object");
    const filename = stringField(f, "filename", `${at}.filename`);
    if (/[\\/]/.test(filename)) fail(`${at}.filename`, `"${filename}" must be a file name without a path`);
    try {
      assertSafeRelativePath(filename, "filename");
    } catch (err) {
      fail(`${at}.filename`, (err as Error).message);
    }
    const folded = filename.toLowerCase();
    if (seen.has(folded)) fail(`${at}.filename`, `"${filename}" is listed twice`);
    seen.add(folded);
    const hash = stringField(f, "hash", `${at}.hash`).toLowerCase();
    if (hash.length !== 64) {
      fail(`${at}.hash`, `must be a sha256: 64 hex characters, got ${hash.length} characters`);
    }
    if (!/^[0-9a-f]{64}$/.test(hash)) fail(`${at}.hash`, "must be a sha256 written in hex (0-9, a-f)");
    const url = stringField(f, "url", `${at}.url`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      fail(`${at}.url`, `"${url}" is not a URL`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      fail(`${at}.url`, `"${url}" must be an http:// or https:// URL`);
    }
    return { filename, hash, url };
  });
  return { version, files };
}

/** Serializes `update.json` as the seed shows it (2-space JSON, trailing newline). */
export function serializeUpdateJson(doc: UpdateJson): string {
  parseUpdateJson(doc);
  const out = {
    version: doc.version,
    files: doc.files.map((f) => ({ filename: f.filename, hash: f.hash, url: f.url })),
  };
  return `${JSON.stringify(out, null, 2)}\n`;
}

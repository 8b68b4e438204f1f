/**
 * The in-place engine's records on disk, read as untrusted input: the prepared plan
 * (`prepared.json`: what a later swap installs) and the index of a kept backup set (which version
 * it was, what the swap replaced and added). A record of the wrong shape is refused here, so the
 * engine never acts on a path or a version that Updraft could not have written.
 */
import { assertSafeRelativePath } from "../../core/fs.js";
import { isValidVersion } from "../../core/version.js";

/** A prepared in-place install: the staged files to swap in, and the paths to remove. */
export interface PreparedPlan {
  schema: 1;
  version: string;
  files: { path: string; sha256: string; size: number }[];
  remove: string[];
}

/** The index of a kept backup set: the version it holds and the paths the swap replaced or added. */
export interface BackupIndex {
  version: string | null;
  replaced: string[];
  added: string[];
}

/** Longest list of paths a record may hold (a SAAU app has tens of files; this is far beyond). */
const MAX_PATHS = 1_000_000;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isSafePath(v: unknown): v is string {
  if (typeof v !== "string") return false;
  try {
    assertSafeRelativePath(v, "path");
    return true;
  } catch {
    return false;
  }
}

function isPathList(v: unknown): v is string[] {
  return Array.isArray(v) && v.length <= MAX_PATHS && v.every(isSafePath);
}

/** The plan in `raw`, or undefined when it is not one this engine wrote. */
export function parsePreparedPlan(raw: unknown): PreparedPlan | undefined {
  if (!isRecord(raw) || raw.schema !== 1) return undefined;
  const { version, files, remove } = raw;
  if (typeof version !== "string" || !isValidVersion(version)) return undefined;
  if (!Array.isArray(files) || files.length > MAX_PATHS || !isPathList(remove)) return undefined;
  const parsed: PreparedPlan["files"] = [];
  for (const f of files) {
    if (!isRecord(f) || !isSafePath(f.path)) return undefined;
    if (typeof f.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(f.sha256)) return undefined;
    if (typeof f.size !== "number" || !Number.isSafeInteger(f.size) || f.size < 0) return undefined;
    parsed.push({ path: f.path, sha256: f.sha256, size: f.size });
  }
  return { schema: 1, version, files: parsed, remove };
}

/** The backup index in `raw`, or undefined when it is not one this engine wrote. */
export function parseBackupIndex(raw: unknown): BackupIndex | undefined {
  if (!isRecord(raw)) return undefined;
  const { version, replaced, added } = raw;
  if (version !== null && (typeof version !== "string" || !isValidVersion(version))) return undefined;
  if (!isPathList(replaced) || !isPathList(added)) return undefined;
  return { version, replaced, added };
}

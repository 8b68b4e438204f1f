/** `Cache-Control` and `Content-Type` for repository files, decided from the path alone. */
import mime from "mime-types";

/** For names that never change content (versioned metadata, content-addressed targets). */
export const CACHE_IMMUTABLE = "public, max-age=31536000, immutable";
/** For mutable names: caches must revalidate (cheap with the `ETag`) before each use. */
export const CACHE_REVALIDATE = "no-cache";

const VERSIONED_METADATA = /^\d+\./;
const CONTENT_ADDRESSED = /^[0-9a-f]{64}\./;

/**
 * The `Cache-Control` for a repository path (see docs/format.md):
 * - `…/metadata/<N>.<role>.json` (numeric prefix): immutable.
 * - `…/targets/…/<sha256>.<name>` (consistent-snapshot names): immutable.
 * - everything else, notably `timestamp.json` and the unversioned `metadata/root.json`: `no-cache`.
 */
export function cacheControlFor(segments: readonly string[]): string {
  const last = segments.length - 1;
  const name = segments[last] ?? "";
  if (name === "timestamp.json") return CACHE_REVALIDATE;
  if (last >= 1 && segments[last - 1] === "metadata") {
    return VERSIONED_METADATA.test(name) ? CACHE_IMMUTABLE : CACHE_REVALIDATE;
  }
  if (CONTENT_ADDRESSED.test(name) && segments.lastIndexOf("targets", last - 1) !== -1) return CACHE_IMMUTABLE;
  return CACHE_REVALIDATE;
}

const OVERRIDES: ReadonlyMap<string, string> = new Map([
  ["json", "application/json"],
  ["zst", "application/zstd"],
]);
const FALLBACK_TYPE = "application/octet-stream";
const byExtension = new Map<string, string>();

/** The `Content-Type` for a file name: `.json` and `.zst` fixed, others from mime-types. */
export function contentTypeFor(name: string): string {
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return FALLBACK_TYPE;
  const ext = name.slice(dot + 1).toLowerCase();
  let type = byExtension.get(ext);
  if (type === undefined) {
    type = OVERRIDES.get(ext) ?? (mime.contentType(ext) || FALLBACK_TYPE);
    if (byExtension.size < 256) byExtension.set(ext, type);
  }
  return type;
}

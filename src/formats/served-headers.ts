/**
 * `Cache-Control` and `Content-Type` for repository files, decided from the path alone. The cache
 * rule of each published name lives with the names themselves (`cacheControlOf` in
 * served-paths.ts), so every host uses the same: `updraft serve`, the nginx snippet of
 * docs/serving.md, and the publisher's uploads to object stores.
 */
import mime from "mime-types";
import { CACHE_MUTABLE, cacheControlOf, classifyServedPath } from "./served-paths.js";

/**
 * The `Cache-Control` for a repository path: a year, immutable, for versioned metadata and
 * content-addressed targets; a short max-age for names publishing rewrites (`timestamp.json`,
 * `root.json`, legacy labels) and for anything unknown.
 */
export function cacheControlFor(segments: readonly string[]): string {
  const served = classifyServedPath(segments.join("/"));
  return served === undefined ? CACHE_MUTABLE : cacheControlOf(served);
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

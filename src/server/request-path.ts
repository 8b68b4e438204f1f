/**
 * Turns a request target into a safe path relative to the repository root, or says why not.
 * Percent-encoding is decoded exactly once; anything that could name a file outside the root,
 * or a file the server must never show, is refused before the file system is touched.
 */
import { assertSafeRelativePath } from "../core/fs.js";
import { classifyServedPath, type ServedFile } from "../formats/served-paths.js";

/** A request path the server may look up. */
export interface RepositoryPath {
  readonly kind: "file";
  /** POSIX path relative to the root, e.g. `demo/metadata/timestamp.json`. */
  readonly relPath: string;
  /** `relPath` split on `/`. */
  readonly segments: readonly string[];
  /** What the repository publishes under this name. */
  readonly served: ServedFile;
}

/** The outcome of {@link parseRequestPath}: a path, or the status to answer with. */
export type ParsedRequestPath = RepositoryPath | { readonly kind: "bad-request" } | { readonly kind: "not-found" };

const BAD_REQUEST = { kind: "bad-request" } as const;
const NOT_FOUND = { kind: "not-found" } as const;
/** Encoded slash, backslash or NUL: a segment must not smuggle a separator or a terminator. */
const ENCODED_SEPARATOR = /%(?:2f|5c|00)/i;
/** Absolute-form targets (`GET http://host/path`), which proxies send. */
const ABSOLUTE_FORM = /^https?:\/\/[^/?#]*/i;

/**
 * True for names the server never serves: dotfiles (such as `.publish.lock`) and temporary
 * files (`*.tmp`, written before an atomic rename).
 */
export function isHiddenName(name: string): boolean {
  return name.charCodeAt(0) === 46 /* . */ || name.toLowerCase().endsWith(".tmp");
}

/**
 * Parses `req.url` (origin-form, or absolute-form from a proxy). Query and fragment are ignored.
 * Returns `bad-request` for traversal attempts and malformed targets (`..`, `%2f`, `%5c`,
 * backslashes, NUL, `:` as in drive letters, `//absolute`, bad percent-encoding) and `not-found`
 * for folders, the root itself, dotfiles, `*.tmp` files and any name a repository does not
 * publish (see {@link classifyServedPath}: key files and anything else left in the folder).
 */
export function parseRequestPath(url: string): ParsedRequestPath {
  let end = url.length;
  const query = url.indexOf("?");
  if (query !== -1) end = query;
  const hash = url.indexOf("#");
  if (hash !== -1 && hash < end) end = hash;
  let raw = url.slice(0, end);
  if (raw.charCodeAt(0) !== 47 /* / */) {
    const absolute = ABSOLUTE_FORM.exec(raw);
    if (!absolute) return BAD_REQUEST;
    raw = raw.slice(absolute[0].length) || "/";
  }
  if (ENCODED_SEPARATOR.test(raw)) return BAD_REQUEST;
  let path: string;
  try {
    path = raw.includes("%") ? decodeURIComponent(raw) : raw;
  } catch {
    return BAD_REQUEST;
  }
  if (path.includes("\\") || path.includes("\0") || path.includes(":")) return BAD_REQUEST;
  const relPath = path.slice(1);
  if (relPath === "") return NOT_FOUND;
  if (relPath.charCodeAt(0) === 47 /* / */) return BAD_REQUEST;
  const segments = relPath.split("/");
  let hidden = false;
  for (const segment of segments) {
    if (segment === ".." || segment === ".") return BAD_REQUEST;
    if (segment === "" || isHiddenName(segment)) hidden = true;
  }
  if (hidden) return NOT_FOUND;
  try {
    assertSafeRelativePath(relPath);
  } catch {
    return BAD_REQUEST;
  }
  const served = classifyServedPath(relPath);
  if (served === undefined) return NOT_FOUND;
  return { kind: "file", relPath, segments, served };
}

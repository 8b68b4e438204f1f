/**
 * Several base URLs for one repository: the install's mirrors in order, then its repository URL.
 * Every file is verified against the signed metadata whichever base serves it, so a mirror is
 * trusted with availability only: a base that is down, serves stale or altered metadata, or an
 * altered file is passed over for the next one. Such a failure is the mirror's, never the
 * release's, so it never holds a version back.
 */
import { ERRORS, ErrorCodes, toUpdraftError, UpdraftError } from "../../core/errors.js";
import type { AppConfig } from "../../formats/native.js";
import type { HttpClient } from "../net/http.js";

/** The base URLs to try, in order: the mirrors, then the repository URL, each once. */
export function repositoryBases(config: AppConfig): string[] {
  const bases = [...(config.mirrors ?? []), ...(config.url !== undefined ? [config.url] : [])];
  const seen = new Set<string>();
  return bases.filter((b) => {
    const key = b.replace(/\/+$/, "");
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * True when `err` may be the base's fault, so the next base may do better: the network, an HTTP
 * status, metadata that does not verify (expired, rolled back, badly signed, altered), a file that
 * does not match its signed hash, or one the base lacks.
 */
export function isMirrorFault(err: UpdraftError): boolean {
  const { phase } = ERRORS[err.code];
  if (err.code === ErrorCodes.INSECURE_TRANSPORT || err.code === ErrorCodes.DOWNGRADE_REFUSED) return false;
  return phase === "network" || phase === "trust" || phase === "download";
}

/** `url`, a file under base `from`, moved under base `to`. */
export function onBase(url: string, from: string, to: string): string {
  const trimmed = from.replace(/\/+$/, "");
  return url.startsWith(trimmed) ? `${to.replace(/\/+$/, "")}${url.slice(trimmed.length)}` : url;
}

/**
 * The HTTP client to read base `index` of `count` with: a base with another one after it gives up
 * at once when it cannot be reached (refused, no route, no such host), so a mirror that is down
 * costs one failed connection, not the retry budget; the last base keeps every retry.
 */
export function httpForBase(http: HttpClient, index: number, count: number): HttpClient {
  return index < count - 1 ? http.failingFastWhenUnreachable() : http;
}

/**
 * Runs `attempt` on each base in turn until one succeeds, with the HTTP client of
 * {@link httpForBase}; a failure that is not a mirror's fault, or the last base's failure, is
 * thrown. `onFault` hears each base passed over.
 */
export async function tryEachBase<T>(
  bases: readonly string[],
  http: HttpClient,
  attempt: (base: string, http: HttpClient) => Promise<T>,
  onFault?: (base: string, err: UpdraftError) => void,
): Promise<{ value: T; base: string }> {
  for (const [i, base] of bases.entries()) {
    try {
      return { value: await attempt(base, httpForBase(http, i, bases.length)), base };
    } catch (err) {
      const e = toUpdraftError(err);
      if (i === bases.length - 1 || !isMirrorFault(e)) throw e;
      onFault?.(base, e);
    }
  }
  throw new UpdraftError(ErrorCodes.NOT_INSTALLED, "No repository URL is configured for this install");
}

/**
 * The transport rule for updates without signatures (SAAU labels, python-autoupdate files): with
 * nothing signed, the connection is the only protection, so plain `http://` is refused for any
 * host but loopback unless the user passes the flag that names the risk.
 */
import { ErrorCodes, UpdraftError } from "../../../core/errors.js";
import { isLoopbackHost } from "../../net/url-policy.js";

/** The command-line flag that accepts unsigned updates over plain HTTP. */
export const ALLOW_UNSIGNED_HTTP_FLAG = "--allow-unsigned-http";

/** Parses an http(s) URL or throws `USAGE` naming `what`. */
export function parseLegacyUrl(url: string, what: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UpdraftError(ErrorCodes.USAGE, `${what} is not a URL: "${url}"`, {
      hint: "Give an https:// URL (or http:// to this machine).",
    });
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new UpdraftError(ErrorCodes.USAGE, `${what} must be http(s), not ${parsed.protocol} ("${url}")`, {
      hint: "Give an https:// URL.",
    });
  }
  return parsed;
}

/**
 * Throws `INSECURE_TRANSPORT` for a plain `http://` URL to a non-loopback host when the update
 * has no signatures, unless `allowUnsignedHttp`.
 */
export function assertUnsignedTransport(url: URL, allowUnsignedHttp: boolean): void {
  if (url.protocol === "https:" || allowUnsignedHttp || isLoopbackHost(url.hostname)) return;
  throw new UpdraftError(
    ErrorCodes.INSECURE_TRANSPORT,
    `Refusing an update without signatures over plain http:// from ${url.host}: anyone on the network path could replace the files this app runs`,
    {
      hint: `Serve the repository over https://, or publish it with Updraft's signed metadata; to accept the risk anyway pass ${ALLOW_UNSIGNED_HTTP_FLAG}.`,
      details: { host: url.host },
    },
  );
}

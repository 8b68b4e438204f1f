/**
 * Which URLs the client may fetch, and how URLs appear in messages: `https://` always, plain
 * `http://` only to a loopback host unless the user opted in, and never a credential in a message.
 */
import { isIP } from "node:net";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";

/** True for `localhost`, `*.localhost`, 127.0.0.0/8 and `::1`: traffic that never leaves the machine. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1" || host === "0:0:0:0:0:0:0:1" || /^::ffff:127\./.test(host);
  return false;
}

/** A URL for messages: no user name, password or query string (they may carry tokens). */
export function redactUrl(url: string | URL): string {
  try {
    const u = new URL(String(url));
    u.username = "";
    u.password = "";
    if (u.search) u.search = "?…";
    u.hash = "";
    return u.toString();
  } catch {
    return "(unparseable URL)";
  }
}

/**
 * Parses `url`, refusing anything but http(s) with `USAGE`. `what` names the setting the URL came
 * from (`--saau`, `files[0].url`), for messages.
 */
export function parseHttpUrl(url: string, what?: string): URL {
  const from = what === undefined ? "" : ` for ${what}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UpdraftError(ErrorCodes.USAGE, `Not a URL${from}: "${redactUrl(url)}"`, {
      hint: "Give an https:// URL (or http:// to a host on this machine).",
    });
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new UpdraftError(
      ErrorCodes.USAGE,
      `Unsupported URL scheme ${parsed.protocol}${from} in ${redactUrl(parsed)}`,
      {
        hint: "Use an https:// URL.",
      },
    );
  }
  return parsed;
}

/** What a refusal of plain `http://` says: the risk differs with what the connection protects. */
export interface PlainHttpRefusal {
  message: string;
  hint: string;
  details: Record<string, unknown>;
}

/** The refusal where signatures protect the content (the native repository). */
function signedContentRefusal(url: URL): PlainHttpRefusal {
  return {
    message: `Refusing plain http:// to ${url.host}: anyone on the network can see and block this traffic`,
    hint: "Use an https:// URL. To accept the risk (e.g. on a closed network), pass --allow-insecure-http (allowInsecureHttp: true).",
    details: { url: redactUrl(url) },
  };
}

/**
 * Throws `INSECURE_TRANSPORT` for plain `http://` to a host other than loopback, unless
 * `allowPlainHttp`; `refusal` words the risk. By default signatures still protect the content;
 * plain HTTP exposes which app and version this machine runs, any token sent, and lets a network
 * attacker withhold updates.
 */
export function assertTransportAllowed(
  url: URL,
  allowPlainHttp: boolean,
  refusal: (url: URL) => PlainHttpRefusal = signedContentRefusal,
): void {
  if (url.protocol === "https:" || allowPlainHttp || isLoopbackHost(url.hostname)) return;
  const { message, hint, details } = refusal(url);
  throw new UpdraftError(ErrorCodes.INSECURE_TRANSPORT, message, { hint, details });
}

/** True when two URLs share scheme, host and port (where custom headers may still be sent). */
export function sameOrigin(a: URL, b: URL): boolean {
  return a.origin === b.origin;
}

/**
 * The transport rule for updates without signatures (SAAU labels, python-autoupdate files): with
 * nothing signed, the connection is the only protection, so plain `http://` is refused for any
 * host but loopback unless the user passes the flag that names the risk.
 */
import { assertTransportAllowed } from "../../net/url-policy.js";

/** The command-line flag that accepts unsigned updates over plain HTTP. */
export const ALLOW_UNSIGNED_HTTP_FLAG = "--allow-unsigned-http";

/**
 * Throws `INSECURE_TRANSPORT` for a plain `http://` URL to a non-loopback host when the update
 * has no signatures, unless `allowUnsignedHttp`.
 */
export function assertUnsignedTransport(url: URL, allowUnsignedHttp: boolean): void {
  assertTransportAllowed(url, allowUnsignedHttp, (refused) => ({
    message: `Refusing an update without signatures over plain http:// from ${refused.host}: anyone on the network path could replace the files this app runs`,
    hint: `Serve the repository over https://, or publish it with Updraft's signed metadata; to accept the risk anyway pass ${ALLOW_UNSIGNED_HTTP_FLAG}.`,
    details: { host: refused.host },
  }));
}

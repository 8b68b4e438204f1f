/**
 * Proxies and custom certificate authorities. Picks the proxy for a URL from an explicit option or
 * from `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (lower-case names first, as curl does), and
 * builds the undici dispatcher that goes through it (`ProxyAgent`, CONNECT tunnels) or direct
 * (`Agent`), trusting the extra CA certificates on top of the system ones.
 */
import { readFile } from "node:fs/promises";
import { rootCertificates } from "node:tls";
import { Agent, type Dispatcher, ProxyAgent } from "undici";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { redactUrl } from "./url-policy.js";

/** Where proxy settings come from. */
export interface ProxySettings {
  /** Proxy URL for every request, or `false` to ignore the environment. Default: the environment. */
  proxy?: string | false;
  /** Environment to read `HTTPS_PROXY` & co. from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name.toLowerCase()] ?? env[name.toUpperCase()];
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

function defaultPort(protocol: string): string {
  return protocol === "https:" ? "443" : "80";
}

/**
 * True if `NO_PROXY` (comma or space separated: `*`, `host`, `.domain`, `*.domain`, `host:port`,
 * IP addresses) says `url` goes direct. A name covers itself and its subdomains.
 */
export function bypassesProxy(url: URL, noProxy: string | undefined): boolean {
  if (!noProxy) return false;
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = url.port || defaultPort(url.protocol);
  for (const raw of noProxy.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === "*") return true;
    let entryPort: string | undefined;
    const m = entry.match(/^(\[[^\]]+\]|[^:]+):(\d+)$/);
    if (m) {
      entry = m[1]!;
      entryPort = m[2];
    }
    entry = entry.replace(/^\[|\]$/g, "").replace(/^\*?\./, "");
    if (entryPort !== undefined && entryPort !== port) continue;
    // A name matches itself and its subdomains (curl's rule), never a longer name: "example.com"
    // covers "a.example.com" but not "badexample.com".
    if (host === entry || host.endsWith(`.${entry}`)) return true;
  }
  return false;
}

/** The proxy URL to use for `url`, or undefined for a direct connection. */
export function proxyFor(url: URL, settings: ProxySettings = {}): string | undefined {
  if (settings.proxy === false) return undefined;
  const env = settings.env ?? process.env;
  if (bypassesProxy(url, envValue(env, "no_proxy"))) return undefined;
  if (settings.proxy !== undefined) return settings.proxy;
  if (url.protocol === "https:") return envValue(env, "https_proxy") ?? envValue(env, "all_proxy");
  // Only the lower-case http_proxy is trusted from the environment when it could come from a CGI
  // `Proxy:` header; Updraft never runs as CGI, so both spellings are read, as curl does for https.
  return envValue(env, "http_proxy") ?? envValue(env, "all_proxy");
}

/** Where requests go through (proxy) and which extra CA certificates they trust. */
export interface DispatchOptions extends ProxySettings {
  /** Extra trusted CA certificates (PEM), added to the system's. */
  ca?: string | Buffer | (string | Buffer)[];
  /** A PEM file of extra trusted CA certificates. */
  caFile?: string;
}

function checkProxyUrl(proxy: string): string {
  let parsed: URL;
  try {
    parsed = new URL(proxy);
  } catch {
    throw new UpdraftError(ErrorCodes.USAGE, `The proxy "${redactUrl(proxy)}" is not a URL`, {
      hint: "Give the proxy as http://host:port (or https://host:port).",
    });
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new UpdraftError(ErrorCodes.USAGE, `Unsupported proxy scheme ${parsed.protocol}`, {
      hint: "Updraft supports http:// and https:// proxies.",
    });
  }
  return proxy;
}

/**
 * The dispatcher for each URL: a `ProxyAgent` for the proxy chosen for it (always tunnelling with
 * CONNECT, so the proxy sees only the host), or a direct `Agent`; both trust the extra CAs.
 * Dispatchers are created on first use and shared by later requests.
 */
export function createDispatcherPool(options: DispatchOptions): (url: URL) => Promise<Dispatcher> {
  let caPromise: Promise<string[] | undefined> | undefined;
  const loadCa = (): Promise<string[] | undefined> => {
    caPromise ??= (async () => {
      const extra: string[] = [];
      const given = options.ca === undefined ? [] : Array.isArray(options.ca) ? options.ca : [options.ca];
      for (const c of given) extra.push(String(c));
      if (options.caFile !== undefined) {
        try {
          extra.push(await readFile(options.caFile, "utf8"));
        } catch (err) {
          throw new UpdraftError(ErrorCodes.USAGE, `Cannot read the CA bundle ${options.caFile}`, {
            cause: err,
            hint: "Give a readable PEM file with --ca-file (caFile).",
          });
        }
      }
      return extra.length > 0 ? [...rootCertificates, ...extra] : undefined;
    })();
    return caPromise;
  };
  const dispatchers = new Map<string, Dispatcher>();
  return async (url: URL): Promise<Dispatcher> => {
    const proxy = proxyFor(url, options);
    const key = proxy ?? "direct";
    let d = dispatchers.get(key);
    if (!d) {
      const ca = await loadCa();
      const tls = ca ? { ca } : {};
      d = proxy
        ? new ProxyAgent({ uri: checkProxyUrl(proxy), requestTls: tls, proxyTls: tls, proxyTunnel: true })
        : new Agent({ connect: tls });
      dispatchers.set(key, d);
    }
    return d;
  };
}

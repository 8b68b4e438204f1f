/**
 * `updraft dashboard`: a small web server showing a repository's releases and adoption. It
 * listens on 127.0.0.1 unless told otherwise; on any other address every request needs the
 * access token generated at start (given once as `?token=`, then kept in a cookie). Pages are
 * rendered from the files at each request, so a publish shows at the next reload.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { openEventStore, type StoredReport } from "../events/index.js";
import { type LoggedRequest, readAccessLog } from "../server/index.js";
import { type DashboardActions, parseActionForm, runAction } from "./actions.js";
import { adoptionOf } from "./adoption.js";
import { asset } from "./assets.js";
import { listApps, readAppView } from "./model.js";
import { adoptionPage, appPage, appsPage, confirmPage, messagePage, type PageContext } from "./pages.js";

/** Options of {@link createDashboard}. */
export interface DashboardOptions {
  /** The repository folder. */
  repoDir: string;
  /** Access logs (`updraft serve --access-log`, nginx `combined`), read at each page view. */
  logs?: readonly string[];
  /** The health events database of `updraft serve --events`. */
  eventsDb?: string;
  /** Default `127.0.0.1`; any other address requires the access token. */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
  /** Offer the actions (rollout, halt/resume, promote, yank) through these. Default: read-only. */
  actions?: DashboardActions;
}

/** A running dashboard. */
export interface Dashboard {
  /** The URL to open (with the token when one is needed). */
  url: string;
  /** The access token, when the dashboard listens beyond the loopback address. */
  token?: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
const COOKIE = "updraft_dashboard";
const MAX_FORM_BYTES = 8 * 1024;
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  // Not no-referrer: with it a browser sends `Origin: null` on form posts, which the action check refuses.
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
};

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  extra: Record<string, string> = {},
): void {
  res
    .writeHead(status, {
      ...SECURITY_HEADERS,
      "content-type": type,
      "content-length": Buffer.byteLength(body),
      ...extra,
    })
    .end(body);
}

const html = (res: ServerResponse, status: number, body: string) => send(res, status, "text/html; charset=utf-8", body);

function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  return new Promise((resolve) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_FORM_BYTES) {
        req.destroy();
        resolve(undefined);
      } else chunks.push(c);
    });
    req.on("end", () => resolve(new URLSearchParams(Buffer.concat(chunks).toString("utf8"))));
    req.on("error", () => resolve(undefined));
  });
}

/** Starts the dashboard. `USAGE` when the address cannot be bound, `REPO_NOT_FOUND` when the folder is missing. */
export async function createDashboard(options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? "127.0.0.1";
  const token = LOOPBACK.has(host) ? undefined : randomBytes(24).toString("base64url");
  const formToken = randomBytes(24).toString("base64url");
  const ctx: PageContext = { actions: options.actions !== undefined, formToken };
  try {
    await listApps(options.repoDir);
  } catch (err) {
    throw new UpdraftError(ErrorCodes.REPO_NOT_FOUND, `Cannot read the repository folder ${options.repoDir}`, {
      hint: "Pass --repo the folder that holds your apps (the one `updraft init` created).",
      cause: err,
    });
  }
  if (options.eventsDb !== undefined) openEventStore(options.eventsDb, { readOnly: true }).close();

  const loadActivity = async (): Promise<{ requests: LoggedRequest[]; reports: StoredReport[] }> => {
    const requests: LoggedRequest[] = [];
    for (const log of options.logs ?? []) await readAccessLog(log, requests);
    let reports: StoredReport[] = [];
    if (options.eventsDb !== undefined) {
      const store = openEventStore(options.eventsDb, { readOnly: true });
      try {
        reports = store.reports();
      } finally {
        store.close();
      }
    }
    return { requests, reports };
  };

  const authorised = (req: IncomingMessage, url: URL, res: ServerResponse): boolean => {
    if (token === undefined) return true;
    const given = url.searchParams.get("token");
    if (given !== null && same(given, token)) {
      res.setHeader("set-cookie", `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`);
      return true;
    }
    const cookie = (req.headers.cookie ?? "").split(/;\s*/).find((c) => c.startsWith(`${COOKIE}=`));
    return cookie !== undefined && same(cookie.slice(COOKIE.length + 1), token);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://dashboard");
    if (!authorised(req, url, res))
      return html(
        res,
        401,
        messagePage("Access token needed", "Open the URL with the token printed when the dashboard started."),
      );
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    if (parts[0] === "assets" && parts.length === 2) {
      const file = await asset(parts[1]!);
      if (file) return send(res, 200, file.type, file.body);
    }
    const apps = await listApps(options.repoDir);
    if (parts.length === 0) {
      const views = [];
      for (const app of apps) views.push(await readAppView(options.repoDir, app));
      return html(res, 200, appsPage(views));
    }
    const app = parts[1];
    if (parts[0] !== "apps" || app === undefined || !apps.includes(app))
      return html(res, 404, messagePage("Not found", "No such page or app."));
    if (parts.length === 3 && parts[2] === "actions" && req.method === "POST") return handleAction(req, res, app);
    const { requests, reports } = await loadActivity();
    const adoption = adoptionOf(app, requests, reports);
    if (parts.length === 2) return html(res, 200, appPage(await readAppView(options.repoDir, app), adoption, ctx));
    if (parts.length === 3 && parts[2] === "adoption") return html(res, 200, adoptionPage(adoption));
    return html(res, 404, messagePage("Not found", "No such page."));
  };

  const handleAction = async (req: IncomingMessage, res: ServerResponse, app: string): Promise<void> => {
    if (options.actions === undefined)
      return html(res, 403, messagePage("Read-only", "This dashboard was started without the publisher's keys."));
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}`)
      return html(res, 403, messagePage("Refused", "The form came from another site."));
    const form = await readForm(req);
    if (form === undefined || !same(form.get("token") ?? "", formToken))
      return html(res, 403, messagePage("Refused", "The form is stale: reload the page."));
    const action = parseActionForm(app, form);
    if (typeof action === "string") return html(res, 400, messagePage("Cannot do that", action));
    if (form.get("confirmed") !== "1") return html(res, 200, confirmPage(action, options.repoDir, form, ctx));
    try {
      await runAction(options.actions, action);
    } catch (err) {
      return html(res, 500, messagePage("The action failed", (err as Error).message));
    }
    res.writeHead(303, { ...SECURITY_HEADERS, location: `/apps/${encodeURIComponent(app)}` }).end();
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) html(res, 500, messagePage("Error", (err as Error).message));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new UpdraftError(ErrorCodes.USAGE, `Cannot listen on ${host}:${options.port ?? 0}: ${err.message}`, {
          hint: "Pick another --port or --host.",
          cause: err,
        }),
      ),
    );
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const base = `http://${host.includes(":") ? `[${host}]` : host}:${port}/`;
  return {
    url: token === undefined ? base : `${base}?token=${token}`,
    ...(token === undefined ? {} : { token }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Opt-in health reports: when a release names a `reportUrl`, the install tells it how the update
 * went, in one small anonymous JSON document per outcome (see formats/health-report.ts). A report
 * never blocks or delays an update: the updater hands it to a detached helper process
 * (`spawnHealthReporter`), and the helper, which already runs apart from any update, sends its
 * own with a short timeout. A report that cannot be sent is dropped.
 */
import { randomUUID } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { readLocalJson } from "../../core/fs.js";
import {
  HEALTH_REPORT_SCHEMA,
  type HealthOutcome,
  type HealthReport,
  type RollbackReason,
} from "../../formats/health-report.js";
import { parseReleaseManifest } from "../../formats/native.js";
import type { InstallLayout } from "../install/layout.js";

/** How long one report may take, connection included, before it is dropped. */
export const HEALTH_REPORT_TIMEOUT_MS = 5000;
/** The install's report id, in its state folder. */
const REPORT_ID_FILE = "report-id";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** What happened, before the report's fixed fields are added. */
export interface OutcomeFacts {
  event: HealthOutcome;
  from?: string | undefined;
  to: string;
  artifact?: string;
  bytes?: number;
  seconds?: number;
  reason?: string;
}

/**
 * The install's random report id, made on first use: a UUID from the system's random source,
 * never derived from the machine, kept in `.updraft/report-id` so the reports of one install can
 * be told apart. (It is not the rollout's install id, which never leaves the machine.)
 */
async function reportId(layout: InstallLayout): Promise<string> {
  const file = join(layout.stateDir, REPORT_ID_FILE);
  try {
    const text = (await readFile(file, "utf8")).trim();
    if (UUID.test(text)) return text;
  } catch {
    // Not made yet.
  }
  const id = randomUUID();
  await writeFile(file, `${id}\n`, { mode: 0o644 });
  return id;
}

/** Where reports about an installed version go, and its app, from its kept manifest. */
export interface ReportTarget {
  url: string;
  app: string;
}

/** The report target of an installed version; undefined when its manifest names no report URL. */
export async function reportTargetOf(layout: InstallLayout, version: string): Promise<ReportTarget | undefined> {
  try {
    const file = layout.manifestFile(version);
    const { reportUrl, app } = parseReleaseManifest(await readLocalJson(file), file);
    return reportUrl === undefined ? undefined : { url: reportUrl, app };
  } catch {
    return undefined;
  }
}

/** The app's report for `facts`; undefined if it cannot be made (a state folder that cannot be written). */
export async function healthReportOf(
  layout: InstallLayout,
  app: string,
  facts: OutcomeFacts,
): Promise<HealthReport | undefined> {
  try {
    return {
      schema: HEALTH_REPORT_SCHEMA,
      app,
      event: facts.event,
      ...(facts.from !== undefined ? { from: facts.from } : {}),
      to: facts.to,
      platform: `${process.platform}-${process.arch}`,
      ...(facts.artifact !== undefined ? { artifact: facts.artifact } : {}),
      ...(facts.bytes !== undefined ? { bytes: facts.bytes } : {}),
      ...(facts.seconds !== undefined ? { seconds: Math.round(facts.seconds * 1000) / 1000 } : {}),
      ...(facts.reason !== undefined ? { reason: facts.reason } : {}),
      installId: await reportId(layout),
    };
  } catch {
    return undefined;
  }
}

/**
 * POSTs `report` to `url`. Resolves true once the server accepted it (2xx), false on anything
 * else, including no answer within `timeoutMs`; never rejects.
 */
export function sendHealthReport(
  url: string,
  report: HealthReport,
  timeoutMs = HEALTH_REPORT_TIMEOUT_MS,
): Promise<boolean> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      resolve(false);
      return;
    }
    const body = JSON.stringify(report);
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(target, {
      method: "POST",
      agent: false,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    });
    const timer = setTimeout(() => req.destroy(new Error("timed out")), timeoutMs);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      resolve(ok);
    };
    req.on("response", (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      res.on("end", () => done(status >= 200 && status < 300));
      res.on("error", () => done(false));
    });
    req.on("error", () => done(false));
    req.end(body);
  });
}

/** The report reason of a rollback, from the sentence the probation or the user gave. */
export function rollbackReasonOf(reason: string): RollbackReason {
  if (/exited with code/.test(reason)) return "crashed";
  if (/times without proving/.test(reason)) return "too-many-launches";
  if (/did not confirm/.test(reason)) return "not-confirmed";
  return "by-user";
}

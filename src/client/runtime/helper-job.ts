/**
 * The job document the detached helper gets as its only argument: JSON naming what to do, a
 * restart (wait for the app to exit, swap, start it again, watch its probation) or an uptime watch.
 * The helper treats it as untrusted input (anyone can start the entry with any argument), so it is
 * validated field by field before anything is touched.
 */
import { isAbsolute } from "node:path";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { isJsonObject } from "../../core/json.js";
import { type HealthReport, parseHealthReport } from "../../formats/health-report.js";
import { isReportUrl } from "../../formats/native.js";

/** Restart the app once process `waitPid` has exited (see `RestartPlan` in restart-helper.ts). */
export interface RestartJob {
  job: "restart";
  /** PID to wait for. */
  waitPid: number;
  /** Program and arguments to start. */
  command: string[];
  /** Working folder of the restarted app (absolute). */
  cwd: string;
  /** Install folder whose new version's probation the helper watches after the restart. */
  watchDir?: string;
  /** App folder with a prepared in-place install to apply once the app has exited. */
  applyPrepared?: string;
}

/** Confirm the version on an `uptime:N` probation once process `pid` has lived N seconds. */
export interface UptimeJob {
  job: "watch-uptime";
  /** Install folder (absolute). */
  dir: string;
  /** The app's process. */
  pid: number;
}

/** Send one health report (see ./health-report.ts), so that the updater never waits for it. */
export interface ReportJob {
  job: "report";
  /** The release's report URL. */
  url: string;
  report: HealthReport;
}

/** Every job the helper runs. */
export type HelperJob = RestartJob | UptimeJob | ReportJob;

/** The most a job document may hold: a command line's worth, far above any real plan. */
const MAX_JOB_CHARS = 64 * 1024;

function refuse(problem: string): never {
  throw new UpdraftError(ErrorCodes.USAGE, `Invalid helper job: ${problem}`, {
    hint: "The helper is started by Updraft itself with one JSON argument; nothing was changed.",
  });
}

/** The job documents as they arrive, before validation. */
type Fields = Record<string, unknown>;

function processId(fields: Fields, key: string): number {
  const value = fields[key];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    refuse(`"${key}" must be a positive integer process id`);
  }
  return value;
}

function absolutePath(fields: Fields, key: string): string {
  const value = fields[key];
  if (typeof value !== "string" || value.length === 0 || value.includes("\0") || !isAbsolute(value)) {
    refuse(`"${key}" must be an absolute path`);
  }
  return value;
}

function optionalPath(fields: Fields, key: string): string | undefined {
  return fields[key] === undefined ? undefined : absolutePath(fields, key);
}

function commandLine(fields: Fields): string[] {
  const value = fields.command;
  if (!Array.isArray(value) || value.length === 0) refuse(`"command" must be a non-empty list of strings`);
  const words: string[] = [];
  for (const word of value) {
    if (typeof word !== "string" || word.includes("\0")) refuse(`"command" must be a non-empty list of strings`);
    words.push(word);
  }
  if (words[0] === "") refuse(`"command" must name a program`);
  return words;
}

function onlyKeys(fields: Fields, allowed: readonly string[]): void {
  const unknown = Object.keys(fields).find((k) => !allowed.includes(k));
  if (unknown !== undefined) refuse(`unknown field "${unknown}"`);
}

/** Serializes a job for the helper's command line. */
export function serializeHelperJob(job: HelperJob): string {
  return JSON.stringify(job);
}

/**
 * Parses the helper's arguments: exactly one, a JSON job document. Throws a `USAGE` error that
 * names the problem for anything else.
 */
export function parseHelperJob(args: readonly string[]): HelperJob {
  if (args.length !== 1) refuse(`expected one JSON argument, got ${args.length}`);
  const text = args[0]!;
  if (text.length > MAX_JOB_CHARS) refuse(`the document is longer than ${MAX_JOB_CHARS} characters`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    refuse(`not JSON (${(err as Error).message})`);
  }
  if (!isJsonObject(doc)) refuse("the document must be a JSON object");
  const fields: Fields = doc;
  switch (fields.job) {
    case "restart": {
      onlyKeys(fields, ["job", "waitPid", "command", "cwd", "watchDir", "applyPrepared"]);
      const watchDir = optionalPath(fields, "watchDir");
      const applyPrepared = optionalPath(fields, "applyPrepared");
      return {
        job: "restart",
        waitPid: processId(fields, "waitPid"),
        command: commandLine(fields),
        cwd: absolutePath(fields, "cwd"),
        ...(watchDir === undefined ? {} : { watchDir }),
        ...(applyPrepared === undefined ? {} : { applyPrepared }),
      };
    }
    case "watch-uptime":
      onlyKeys(fields, ["job", "dir", "pid"]);
      return { job: "watch-uptime", dir: absolutePath(fields, "dir"), pid: processId(fields, "pid") };
    case "report": {
      onlyKeys(fields, ["job", "url", "report"]);
      if (typeof fields.url !== "string" || !isReportUrl(fields.url)) refuse(`"url" must be an http or https URL`);
      const report = parseHealthReport(fields.report);
      if (typeof report === "string") refuse(`"report": ${report}`);
      return { job: "report", url: fields.url, report };
    }
    default:
      return refuse(`"job" must be "restart", "watch-uptime" or "report"`);
  }
}

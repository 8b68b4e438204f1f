/**
 * The access log (`updraft serve --access-log FILE`): one JSON line per request for a published
 * name, saying what kind of file it was (a check, a manifest, a full archive, a delta from→to)
 * so that `updraft stats` and the dashboard can count adoption; and the reader of these logs and
 * of nginx's `combined` logs. Nothing that identifies a person is written: no
 * address unless asked for (`--log-ip`), no user agent, no query string.
 */
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { classifyServedPath, type ServedFileKind } from "../formats/served-paths.js";

/** One line of the access log. */
export interface AccessLogRecord {
  /** ISO date-time the response ended. */
  readonly time: string;
  readonly app: string;
  /** What was asked for (see `ServedFileKind`). */
  readonly kind: ServedFileKind;
  /** The release a manifest, archive or delta belongs to. */
  readonly version?: string;
  /** For deltas: the version updated from. */
  readonly from?: string;
  /** For channel pointers: the channel. */
  readonly channel?: string;
  /** HTTP status sent (0 if none was). */
  readonly status: number;
  /** Body bytes sent (0 when the response was cut before its end). */
  readonly bytes: number;
  /** True if the client went away before the end. */
  readonly aborted?: boolean;
  /** Client address, only with `--log-ip`. */
  readonly ip?: string;
}

/** Appends access-log records to a file, one JSON document per line. */
export interface AccessLogWriter {
  write(record: AccessLogRecord): void;
  /** Flushes and closes the file. */
  close(): Promise<void>;
}

/** Opens `file` for appending access-log lines (created if missing, mode 0640). */
export async function openAccessLog(file: string): Promise<AccessLogWriter> {
  const stream: WriteStream = createWriteStream(file, { flags: "a", mode: 0o640 });
  await new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", reject);
  });
  return {
    write(record) {
      stream.write(`${JSON.stringify(record)}\n`);
    },
    close() {
      return new Promise<void>((resolve) => stream.end(resolve));
    },
  };
}

/** One request for a published file, from either log format (see {@link readAccessLog}). */
export interface LoggedRequest {
  day: string;
  app: string;
  kind: ServedFileKind;
  version?: string;
  from?: string;
  status: number;
  bytes: number;
  aborted: boolean;
}

/** The figures of one day and app. */
export interface DayStats {
  /** UTC date, `YYYY-MM-DD`. */
  day: string;
  app: string;
  /** `timestamp.json` requests answered 200 or 304: one per client check. */
  checks: number;
  /** Completed downloads of full archives and deltas (200 or 206 to the end). */
  downloads: number;
  fullDownloads: number;
  deltaDownloads: number;
  /** Downloads by `from→to` (`?→to` for full archives, whose starting version is unknown). */
  byVersion: Record<string, number>;
  /** Body bytes of every request. */
  bytesServed: number;
  /** Deltas among downloads, 0 to 1. */
  deltaShare: number;
  /** Full archive size minus delta size, summed over delta downloads whose full size is known. */
  bytesSavedByDeltas: number;
}

/** `combined`: addr - user [time] "request" status bytes "referer" "agent". */
const COMBINED = /^\S+ \S+ \S+ \[([^\]]+)\] "(?:[A-Z]+) (\S+)[^"]*" (\d{3}) (\d+|-)/;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** nginx's `$time_local` (`10/Oct/2026:13:55:36 +0200`) as a UTC date. */
function nginxDay(text: string): string | undefined {
  const m = /^(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[2]!);
  const offsetMin = (m[7] === "-" ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
  const utc =
    Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])) - offsetMin * 60_000;
  return new Date(utc).toISOString().slice(0, 10);
}

function parseCombined(line: string): LoggedRequest | undefined {
  const m = COMBINED.exec(line);
  if (!m) return undefined;
  const day = nginxDay(m[1]!);
  let target = m[2]!.split("?")[0]!;
  try {
    target = decodeURIComponent(target);
  } catch {
    return undefined;
  }
  const served = classifyServedPath(target.replace(/^\/+/, ""));
  if (day === undefined || served === undefined) return undefined;
  return {
    day,
    app: served.app,
    kind: served.kind,
    ...(served.version === undefined ? {} : { version: served.version }),
    ...(served.from === undefined ? {} : { from: served.from }),
    status: Number(m[3]),
    bytes: m[4] === "-" ? 0 : Number(m[4]),
    aborted: false,
  };
}

function parseJsonLine(line: string): LoggedRequest | undefined {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const { time, app, kind, version, from, status, bytes, aborted } = record;
  if (typeof time !== "string" || typeof app !== "string" || typeof kind !== "string") return undefined;
  return {
    day: time.slice(0, 10),
    app,
    kind: kind as ServedFileKind,
    ...(typeof version === "string" ? { version } : {}),
    ...(typeof from === "string" ? { from } : {}),
    status: typeof status === "number" ? status : 0,
    bytes: typeof bytes === "number" ? bytes : 0,
    aborted: aborted === true,
  };
}

/**
 * Reads one access log (`updraft serve --access-log` JSON lines, or nginx `combined`) into `into`;
 * lines of neither format (or for unpublished names) are skipped and counted. `USAGE` when the file cannot be read.
 */
export async function readAccessLog(file: string, into: LoggedRequest[]): Promise<number> {
  let skipped = 0;
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) {
      if (line.trim() === "") continue;
      const request = line.startsWith("{") ? parseJsonLine(line) : parseCombined(line);
      if (request === undefined) skipped++;
      else into.push(request);
    }
  } catch (err) {
    throw new UpdraftError(ErrorCodes.USAGE, `Cannot read the log ${file}: ${(err as Error).message}`, {
      hint: "Give access logs written by `updraft serve --access-log` or nginx (combined format).",
      cause: err,
    });
  }
  return skipped;
}

const isDownload = (r: LoggedRequest): boolean =>
  (r.kind === "full" || r.kind === "delta") && (r.status === 200 || r.status === 206) && !r.aborted;

/** Adds up requests per day and app. */
export function summarizeAccessLog(requests: readonly LoggedRequest[]): DayStats[] {
  // Full sizes per app and version, from completed whole downloads, for the savings of deltas.
  const fullSize = new Map<string, number>();
  for (const r of requests) {
    if (r.kind === "full" && r.status === 200 && !r.aborted && r.version !== undefined) {
      const key = `${r.app}\n${r.version}`;
      fullSize.set(key, Math.max(fullSize.get(key) ?? 0, r.bytes));
    }
  }
  const days = new Map<string, DayStats>();
  for (const r of requests) {
    const key = `${r.day}\n${r.app}`;
    let stats = days.get(key);
    if (stats === undefined) {
      stats = {
        day: r.day,
        app: r.app,
        checks: 0,
        downloads: 0,
        fullDownloads: 0,
        deltaDownloads: 0,
        byVersion: {},
        bytesServed: 0,
        deltaShare: 0,
        bytesSavedByDeltas: 0,
      };
      days.set(key, stats);
    }
    stats.bytesServed += r.bytes;
    if (r.kind === "timestamp" && (r.status === 200 || r.status === 304)) stats.checks++;
    if (!isDownload(r)) continue;
    stats.downloads++;
    const transition = `${r.from ?? "?"}→${r.version ?? "?"}`;
    stats.byVersion[transition] = (stats.byVersion[transition] ?? 0) + 1;
    if (r.kind === "full") stats.fullDownloads++;
    else {
      stats.deltaDownloads++;
      const full = fullSize.get(`${r.app}\n${r.version}`);
      if (full !== undefined) stats.bytesSavedByDeltas += Math.max(0, full - r.bytes);
    }
  }
  const out = [...days.values()].sort((a, b) => a.day.localeCompare(b.day) || a.app.localeCompare(b.app));
  for (const s of out) s.deltaShare = s.downloads === 0 ? 0 : s.deltaDownloads / s.downloads;
  return out;
}

/**
 * The health events database (`updraft serve --events DB`): one SQLite file (`node:sqlite`, no
 * native add-on) holding every accepted health report with the time it arrived. Several
 * `serve --workers` processes may write it at once (WAL, busy timeout); the dashboard and
 * `releaseHealth` read it.
 */
import { DatabaseSync } from "node:sqlite";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import type { HealthOutcome, HealthReport } from "../formats/health-report.js";

/** Version of the table layout, kept in SQLite's `user_version`. */
const LAYOUT_VERSION = 1;
/** How long a writer waits for another process's write to end, ms. */
const BUSY_TIMEOUT_MS = 5000;

const CREATE = `
CREATE TABLE IF NOT EXISTS reports (
  id INTEGER PRIMARY KEY,
  received_at TEXT NOT NULL,
  app TEXT NOT NULL,
  event TEXT NOT NULL,
  from_version TEXT,
  to_version TEXT NOT NULL,
  platform TEXT NOT NULL,
  artifact TEXT,
  bytes INTEGER,
  seconds REAL,
  reason TEXT,
  install_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_by_release ON reports (app, to_version, event);
`;

/** A stored report: the report and when the server received it. */
export interface StoredReport extends HealthReport {
  /** ISO date-time the server accepted it. */
  receivedAt: string;
}

/** An open events database. */
export interface EventStore {
  /** Stores one validated report. */
  record(report: HealthReport, receivedAt?: Date): void;
  /** Every report of `app` (all apps when absent), oldest first. */
  reports(app?: string): StoredReport[];
  /** Closes the file. */
  close(): void;
}

function dbError(file: string, err: unknown): UpdraftError {
  return new UpdraftError(
    ErrorCodes.EVENTS_DB_INVALID,
    `Cannot use ${file} as a health events database: ${(err as Error).message}`,
    {
      hint: "Give a file `updraft serve --events` created, or a new file name in a folder you can write to.",
      cause: err,
    },
  );
}

interface Row {
  received_at: string;
  app: string;
  event: string;
  from_version: string | null;
  to_version: string;
  platform: string;
  artifact: string | null;
  bytes: number | null;
  seconds: number | null;
  reason: string | null;
  install_id: string;
}

function fromRow(row: Row): StoredReport {
  return {
    schema: 1,
    receivedAt: row.received_at,
    app: row.app,
    event: row.event as HealthOutcome,
    ...(row.from_version !== null ? { from: row.from_version } : {}),
    to: row.to_version,
    platform: row.platform,
    ...(row.artifact !== null ? { artifact: row.artifact } : {}),
    ...(row.bytes !== null ? { bytes: row.bytes } : {}),
    ...(row.seconds !== null ? { seconds: row.seconds } : {}),
    ...(row.reason !== null ? { reason: row.reason } : {}),
    installId: row.install_id,
  };
}

/**
 * Opens (creating unless `readOnly`) the events database `file`. `EVENTS_DB_INVALID` when it is
 * not an SQLite file, or one of a later layout.
 */
export function openEventStore(file: string, options: { readOnly?: boolean } = {}): EventStore {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file, { readOnly: options.readOnly === true, timeout: BUSY_TIMEOUT_MS });
  } catch (err) {
    throw dbError(file, err);
  }
  try {
    const { user_version: version } = db.prepare("PRAGMA user_version").get() as { user_version: number };
    if (version > LAYOUT_VERSION) throw new Error(`its layout (${version}) is newer than this updraft knows`);
    if (!options.readOnly) {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec(CREATE);
      db.exec(`PRAGMA user_version = ${LAYOUT_VERSION}`);
    } else if (version === 0) {
      throw new Error("it holds no health reports table");
    }
  } catch (err) {
    db.close();
    throw dbError(file, err);
  }
  const insert = options.readOnly
    ? undefined
    : db.prepare(
        `INSERT INTO reports (received_at, app, event, from_version, to_version, platform, artifact, bytes, seconds, reason, install_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
  return {
    record(report, receivedAt = new Date()) {
      if (insert === undefined) throw new UpdraftError(ErrorCodes.USAGE, `${file} was opened read-only`);
      insert.run(
        receivedAt.toISOString(),
        report.app,
        report.event,
        report.from ?? null,
        report.to,
        report.platform,
        report.artifact ?? null,
        report.bytes ?? null,
        report.seconds ?? null,
        report.reason ?? null,
        report.installId,
      );
    },
    reports(app) {
      const rows =
        app === undefined
          ? db.prepare("SELECT * FROM reports ORDER BY id").all()
          : db.prepare("SELECT * FROM reports WHERE app = ? ORDER BY id").all(app);
      return (rows as unknown as Row[]).map(fromRow);
    },
    close() {
      db.close();
    },
  };
}

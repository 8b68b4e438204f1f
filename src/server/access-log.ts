/**
 * The access log (`updraft serve --access-log FILE`): one JSON line per request for a published
 * name, saying what kind of file it was (a check, a manifest, a full archive, a delta from→to)
 * so that `updraft stats` can count adoption. Nothing that identifies a person is written: no
 * address unless asked for (`--log-ip`), no user agent, no query string.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import type { ServedFileKind } from "../formats/served-paths.js";

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

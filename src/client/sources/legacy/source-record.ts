/**
 * What an in-place app updates from (`.updraft/source.json`): the legacy format, its URL and
 * whether its updates are verified by signatures, so `updraft status` can say when an app is
 * updating without them.
 */
import { join } from "node:path";
import { ErrorCodes, type Fail, failWith } from "../../../core/errors.js";
import { readLocalJson, writeJsonAtomic } from "../../../core/fs.js";
import { isJsonObject } from "../../../core/json.js";
import type { InstallLayout } from "../../install/index.js";
import type { SourceOrigin } from "../source.js";

/** The record written on each check: the source's origin (`signed` as of the last check) and when. */
export interface SourceRecord extends SourceOrigin {
  schema: 1;
  checkedAt: string;
}

/** Path of the record. */
export function sourceRecordFile(layout: InstallLayout): string {
  return join(layout.stateDir, "source.json");
}

/** Writes the record (atomically). */
export async function writeSourceRecord(layout: InstallLayout, record: Omit<SourceRecord, "schema">): Promise<void> {
  await writeJsonAtomic(sourceRecordFile(layout), { schema: 1, ...record });
}

/**
 * Validates a record read from `file`. Throws `MANIFEST_INVALID` naming the file and the field
 * for anything Updraft did not write.
 */
export function parseSourceRecord(raw: unknown, file: string): SourceRecord {
  const invalid: Fail = failWith(
    ErrorCodes.MANIFEST_INVALID,
    "Delete it: the next update check writes it again.",
    `${file} is not a source record: `,
  );
  if (!isJsonObject(raw)) invalid("it is not a JSON object");
  if (raw.schema !== 1) invalid(`"schema" must be 1 (got ${JSON.stringify(raw.schema)})`);
  const format = raw.format;
  if (format !== "saau" && format !== "update-json") invalid(`"format" must be "saau" or "update-json"`);
  if (typeof raw.url !== "string") invalid(`"url" must be a string`);
  if (typeof raw.app !== "string") invalid(`"app" must be a string`);
  return {
    schema: 1,
    format,
    url: raw.url,
    app: raw.app,
    signed: raw.signed === true,
    checkedAt: typeof raw.checkedAt === "string" ? raw.checkedAt : "",
  };
}

/**
 * Reads the record, or undefined when this app never updated from a legacy source. Throws
 * `MANIFEST_INVALID` naming the file when it is not a record Updraft wrote.
 */
export async function readSourceRecord(layout: InstallLayout): Promise<SourceRecord | undefined> {
  const file = sourceRecordFile(layout);
  const raw = await readLocalJson(file);
  return raw === undefined ? undefined : parseSourceRecord(raw, file);
}

/** One line for `status`: how this app's updates are verified. */
export function describeVerification(record: SourceRecord): string {
  return record.signed
    ? `signed: updates from ${record.url} are verified with Updraft's signed metadata`
    : `WITHOUT SIGNATURES: this app updates from a ${record.format === "saau" ? "SAAU versao.txt" : "update.json"} at ${record.url}; only ${record.format === "saau" ? "the file list and zip CRCs" : "sha256 hashes from the same server"} are checked. Publish Updraft's signed metadata beside it (updraft publish --format ${record.format}).`;
}

/**
 * What an in-place app updates from (`.updraft/source.json`): the legacy format, its URL and
 * whether its updates are verified by signatures, so `updraft status` can say when an app is
 * updating without them.
 */
import { join } from "node:path";
import { readLocalJson, writeJsonAtomic } from "../../../core/fs.js";
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

/** Reads the record, or undefined when this app never updated from a legacy source. */
export async function readSourceRecord(layout: InstallLayout): Promise<SourceRecord | undefined> {
  const raw = (await readLocalJson(sourceRecordFile(layout)).catch(() => undefined)) as
    | Partial<SourceRecord>
    | undefined;
  if (raw?.schema !== 1 || (raw.format !== "saau" && raw.format !== "update-json")) return undefined;
  if (typeof raw.url !== "string" || typeof raw.app !== "string") return undefined;
  return {
    schema: 1,
    format: raw.format,
    url: raw.url,
    app: raw.app,
    signed: raw.signed === true,
    checkedAt: typeof raw.checkedAt === "string" ? raw.checkedAt : "",
  };
}

/** One line for `status`: how this app's updates are verified. */
export function describeVerification(record: SourceRecord): string {
  return record.signed
    ? `signed: updates from ${record.url} are verified with Updraft's signed metadata`
    : `WITHOUT SIGNATURES: this app updates from a ${record.format === "saau" ? "SAAU versao.txt" : "update.json"} at ${record.url}; only ${record.format === "saau" ? "the file list and zip CRCs" : "sha256 hashes from the same server"} are checked. Publish Updraft's signed metadata beside it (updraft publish --format ${record.format}).`;
}

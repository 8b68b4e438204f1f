/**
 * An app's publish settings, remembered between publishes in `REPO/<app>/updraft-app.json`
 * (not a TUF target: only the publisher reads it). Today: the repository URL embedded in each
 * release's `updraft.json`.
 */
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { readLocalJson, writeJsonAtomic } from "../core/fs.js";
import { isJsonObject } from "../core/json.js";
import { NATIVE_SCHEMA } from "../formats/native.js";

/** Content of `updraft-app.json`. */
export interface AppSettings {
  schema: typeof NATIVE_SCHEMA;
  app: string;
  /** Repository base URL (the folder holding `<app>/metadata`). */
  url?: string;
}

/** Throws `USAGE` unless `url` is an http(s) or file URL, as `updraft.json` requires. */
export function assertRepoUrl(url: string): string {
  let ok = /^(https?|file):\/\//.test(url);
  if (ok) {
    try {
      new URL(url);
    } catch {
      ok = false;
    }
  }
  if (!ok) {
    throw new UpdraftError(ErrorCodes.USAGE, `Invalid repository URL "${url}"`, {
      hint: "Give the base URL that serves the repository folder, e.g. https://updates.example.com/.",
    });
  }
  return url;
}

/** Reads the settings, or returns defaults when the file does not exist. */
export async function readAppSettings(path: string, app: string): Promise<AppSettings> {
  const raw = await readLocalJson(path);
  if (raw === undefined) return { schema: NATIVE_SCHEMA, app };
  if (!isJsonObject(raw) || (raw.url !== undefined && typeof raw.url !== "string")) {
    throw new UpdraftError(ErrorCodes.MANIFEST_INVALID, `${path} is not a valid app settings file`, {
      hint: "Fix or delete it, then pass --url again.",
    });
  }
  return { schema: NATIVE_SCHEMA, app, ...(raw.url ? { url: raw.url } : {}) };
}

/** Writes the settings atomically. */
export async function writeAppSettings(path: string, settings: AppSettings): Promise<void> {
  await writeJsonAtomic(path, settings);
}

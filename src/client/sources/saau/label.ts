/**
 * Where a SAAU repository keeps an app's package: `<base>/<app in lower case>/versao.txt` and the
 * zip named on its line 3, in the same folder.
 */
import { parseVersao, VERSAO_FILE, VERSAO_MAX_BYTES, type VersaoLabel } from "../../../formats/versao.js";
import type { HttpClient } from "../../net/http.js";

/** The folder URL of an app in a SAAU repository (with a trailing slash). */
export function saauAppUrl(baseUrl: string, app: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/${encodeURIComponent(app.toLowerCase())}/`;
}

/** URL of the app's `versao.txt`. */
export function saauLabelUrl(baseUrl: string, app: string): string {
  return `${saauAppUrl(baseUrl, app)}${VERSAO_FILE}`;
}

/** URL of the zip a label names. */
export function saauZipUrl(baseUrl: string, app: string, zipName: string): string {
  return `${saauAppUrl(baseUrl, app)}${encodeURIComponent(zipName)}`;
}

/** A fetched label: its bytes (compared with the zip's copy) and its parsed form. */
export interface FetchedLabel {
  url: string;
  bytes: Buffer;
  label: VersaoLabel;
}

/** Fetches and parses the published label; throws `LABEL_INVALID` (naming the line) or network errors. */
export async function fetchSaauLabel(http: HttpClient, baseUrl: string, app: string): Promise<FetchedLabel> {
  const url = saauLabelUrl(baseUrl, app);
  const bytes = await http.getBytes(url, VERSAO_MAX_BYTES);
  return { url, bytes, label: parseVersao(bytes) };
}

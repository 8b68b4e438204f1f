/**
 * A python-autoupdate repository as an {@link UpdateSource}: `update.json` at a folder URL
 * (`…/updates/` + `update.json`) or a file URL, and the files it lists. Each file is downloaded,
 * checked against its sha256, and (when it is a `.zip` or `.tar.gz`) unpacked with the hardened
 * readers; plain files are installed under their own name.
 */
import { join } from "node:path";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import {
  parseUpdateJson,
  UPDATE_JSON_FILE,
  UPDATE_JSON_MAX_BYTES,
  type UpdateJson,
} from "../../formats/update-json.js";
import { archiveFormatOf, DEFAULT_MAX_BYTES, readArchive } from "../artifacts/archives.js";
import type { InPlaceFile, InPlaceRelease } from "../install/index.js";
import type { HttpClient } from "../net/http.js";
import { parseHttpUrl } from "../net/url-policy.js";
import { fetchFile } from "./legacy/fetch-file.js";
import { assertUnsignedTransport } from "./legacy/transport.js";
import type { SourceOrigin, UpdateSource } from "./source.js";

/** The `update.json` URL for an `updateUrl` that names the folder or the file itself. */
export function updateJsonUrl(updateUrl: string): string {
  const u = parseHttpUrl(updateUrl, "updateUrl");
  if (/\.json$/i.test(u.pathname)) return u.toString();
  if (!u.pathname.endsWith("/")) u.pathname += "/";
  return new URL(UPDATE_JSON_FILE, u).toString();
}

/** Fetches and parses `update.json`. */
export async function fetchUpdateJson(http: HttpClient, url: string): Promise<UpdateJson> {
  return parseUpdateJson(await http.getBytes(url, UPDATE_JSON_MAX_BYTES));
}

/** Downloads, verifies and unpacks every file of `doc` into `workDir`; returns the files to install. */
export async function stageUpdateJson(
  http: HttpClient,
  doc: UpdateJson,
  workDir: string,
  options: { allowUnsignedHttp: boolean; maxBytes?: number },
): Promise<InPlaceRelease> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const files: InPlaceFile[] = [];
  const seen = new Map<string, string>();
  const add = (path: string, source: string, from: string) => {
    const folded = path.toLowerCase();
    const other = seen.get(folded);
    if (other !== undefined) {
      throw new UpdraftError(ErrorCodes.ARCHIVE_INVALID, `"${path}" comes from both ${other} and ${from}`, {
        hint: "Each path may come from one listed file only; fix update.json.",
      });
    }
    seen.set(folded, from);
    files.push({ path, source });
  };
  for (const [i, f] of doc.files.entries()) {
    assertUnsignedTransport(parseHttpUrl(f.url, `files[${i}].url`), options.allowUnsignedHttp);
    const download = join(workDir, "downloads", f.filename);
    await fetchFile(http, { url: f.url, dest: download, maxBytes, sha256: f.hash });
    const format = archiveFormatOf(f.filename);
    if (!format) {
      add(f.filename, download, f.filename);
      continue;
    }
    const contents = await readArchive(download, format, { dest: join(workDir, `unpacked-${i}`), maxBytes });
    for (const staged of contents.files) add(staged.name, staged.file, f.filename);
  }
  if (files.length === 0) {
    throw new UpdraftError(ErrorCodes.ARCHIVE_INVALID, `The files of ${doc.version} hold nothing to install`, {
      hint: "Publish an archive with the app's files.",
    });
  }
  return { version: doc.version, files };
}

/** A release an `update.json` describes. */
export interface UpdateJsonRelease {
  version: string;
  signed: false;
  doc: UpdateJson;
}

/** Options of {@link UpdateJsonSource}. */
export interface UpdateJsonSourceOptions {
  http: HttpClient;
  /** The folder holding `update.json`, or the file itself. */
  updateUrl: string;
  /** The app's name, as `updraft status` reports it. */
  app: string;
  /** Accept `update.json` and its files over plain http:// from a non-loopback host. */
  allowUnsignedHttp: boolean;
  /** Most bytes a file may have and unpack to (default 2 GiB). */
  maxBytes?: number;
}

/** The `update.json` of a python-autoupdate repository and the files it lists. */
export class UpdateJsonSource implements UpdateSource<UpdateJsonRelease> {
  readonly origin: SourceOrigin;

  /** Throws `USAGE` for a URL that is not http(s), `INSECURE_TRANSPORT` for plain http:// to another host. */
  constructor(private readonly options: UpdateJsonSourceOptions) {
    const url = updateJsonUrl(options.updateUrl);
    assertUnsignedTransport(parseHttpUrl(url, "updateUrl"), options.allowUnsignedHttp);
    this.origin = { format: "update-json", url, app: options.app, signed: false };
  }

  async latest(): Promise<UpdateJsonRelease> {
    const doc = await fetchUpdateJson(this.options.http, this.origin.url);
    return { version: doc.version, signed: false, doc };
  }

  stage(release: UpdateJsonRelease, workDir: string): Promise<InPlaceRelease> {
    return stageUpdateJson(this.options.http, release.doc, workDir, {
      allowUnsignedHttp: this.options.allowUnsignedHttp,
      ...(this.options.maxBytes ? { maxBytes: this.options.maxBytes } : {}),
    });
  }
}

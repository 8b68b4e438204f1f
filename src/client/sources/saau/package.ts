/**
 * Downloads and verifies a SAAU package the way SAAU does, and more: every file the label lists
 * must be at the zip's root (entries inside folders are ignored, as SAAU's rules say), the zip must
 * carry its copy of `versao.txt` equal to the published one, every entry passes the hardened zip
 * reader (names, links, sizes) and every extracted file its CRC-32.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { ErrorCodes, UpdraftError } from "../../../core/errors.js";
import { parseVersao, VERSAO_FILE, type VersaoLabel } from "../../../formats/versao.js";
import { DEFAULT_MAX_BYTES, readZip } from "../../artifacts/archives.js";
import type { InPlaceFile, InPlaceRelease } from "../../install/index.js";
import type { HttpClient } from "../../net/http.js";
import { fetchFile } from "../legacy/fetch-file.js";
import { saauZipUrl } from "./label.js";

/** What {@link stageSaauPackage} needs. */
export interface SaauPackageJob {
  baseUrl: string;
  app: string;
  label: VersaoLabel;
  /** Folder for the download and the unpacked files (created). */
  workDir: string;
  /** Most bytes the zip may have and unpack to. */
  maxBytes?: number;
}

function bad(message: string): never {
  throw new UpdraftError(ErrorCodes.ARCHIVE_INVALID, message, {
    hint: "The package does not match its label; republish it. Nothing was installed.",
  });
}

const fold = (name: string) => name.normalize("NFC").toLowerCase();

/** Summary of a label for comparisons: what SAAU reads from it. */
function essence(label: VersaoLabel) {
  return {
    version: label.version,
    date: label.date,
    zipName: label.zipName,
    files: label.files.map((f) => [f.index, f.name, f.folder]),
  };
}

/** Downloads the label's zip, verifies it and returns the files to install in place. */
export async function stageSaauPackage(http: HttpClient, job: SaauPackageJob): Promise<InPlaceRelease> {
  const { label } = job;
  const maxBytes = job.maxBytes ?? DEFAULT_MAX_BYTES;
  const zipPath = join(job.workDir, "package.zip");
  await fetchFile(http, { url: saauZipUrl(job.baseUrl, job.app, label.zipName), dest: zipPath, maxBytes });
  const wanted = new Map(label.files.map((f) => [fold(f.name), f]));
  const labelKey = fold(VERSAO_FILE);
  const unpacked = join(job.workDir, "unpacked");
  const contents = await readZip(zipPath, {
    dest: unpacked,
    maxBytes,
    select: (name) => !name.includes("/") && (wanted.has(fold(name)) || fold(name) === labelKey),
  });
  const atRoot = new Map(contents.files.map((f) => [fold(f.name), f]));
  for (const f of label.files) {
    if (atRoot.has(fold(f.name))) continue;
    const inFolder = contents.skipped.find(
      (s) => s.includes("/") && fold(s.slice(s.lastIndexOf("/") + 1)) === fold(f.name),
    );
    bad(
      inFolder
        ? `${label.zipName}: "${f.name}" (file${f.index}, line ${f.line} of ${VERSAO_FILE}) is inside a folder ("${inFolder}"); SAAU packages hold every file at the zip's root and ignore folders`
        : `${label.zipName} lacks "${f.name}", listed as file${f.index} on line ${f.line} of ${VERSAO_FILE}`,
    );
  }
  const copy = atRoot.get(labelKey);
  if (!copy) bad(`${label.zipName} carries no copy of ${VERSAO_FILE} at its root`);
  let copied: VersaoLabel;
  try {
    copied = parseVersao(await readFile(copy.file));
  } catch (err) {
    return bad(`The copy of ${VERSAO_FILE} inside ${label.zipName} is invalid: ${(err as Error).message}`);
  }
  if (!isDeepStrictEqual(essence(copied), essence(label))) {
    bad(
      `The copy of ${VERSAO_FILE} inside ${label.zipName} (version ${copied.version}, ${copied.files.length} files) differs from the published label (version ${label.version}, ${label.files.length} files)`,
    );
  }
  const files: InPlaceFile[] = label.files.map((f) => ({ path: f.target, source: atRoot.get(fold(f.name))!.file }));
  if (!label.files.some((f) => fold(f.target) === labelKey)) files.push({ path: VERSAO_FILE, source: copy.file });
  return { version: label.version, files };
}

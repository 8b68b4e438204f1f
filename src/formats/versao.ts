/**
 * SAAU's package label, `versao.txt` (seed `003_667f640654390c6e.txt`): line 1 the version
 * (dotted numbers, `10.0.2.0`), line 2 the publication date (`dd/mm/yyyy`), line 3 the zip's name
 * (`<app>_v<version>.zip`), line 4 `count=N`, then `file1=NAME|PATH` … `fileN=NAME|PATH`, PATH
 * relative to the app's folder with Windows separators (`.\`, `.\sub\`).
 *
 * Pure parse/serialize: no I/O. Every error is `LABEL_INVALID` and names the line.
 */
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { assertSafeRelativePath } from "../core/fs.js";
import { isValidVersion } from "../core/version.js";

/** The label's fixed file name, in the repository folder and at the zip's root. */
export const VERSAO_FILE = "versao.txt";

/** Largest label accepted (a label of 10 000 files is about 500 kB). */
export const VERSAO_MAX_BYTES = 1 << 20;

/** Largest `count=` accepted. */
export const VERSAO_MAX_FILES = 10_000;

/** One `fileK=NAME|PATH` line. */
export interface VersaoFile {
  /** K of `fileK`. */
  index: number;
  /** File name, as stored at the zip's root. */
  name: string;
  /** PATH as written in the label (`.\`, `.\sub\`). */
  path: string;
  /** The folder as a POSIX path relative to the app folder (`""` for the app folder itself). */
  folder: string;
  /** Where the file goes: POSIX path relative to the app folder (`sub/NAME`). */
  target: string;
  /** 1-based line number in the label. */
  line: number;
}

/** A parsed `versao.txt`. */
export interface VersaoLabel {
  version: string;
  /** Publication date as written (`dd/mm/yyyy`). */
  date: string;
  /** Name of the zip beside the label. */
  zipName: string;
  /** Files, ordered by K. */
  files: VersaoFile[];
}

/** A file to list when writing a label. */
export interface VersaoEntryInput {
  name: string;
  /** POSIX folder relative to the app folder (`""` or omitted for the app folder). */
  folder?: string;
}

/** What {@link writeVersao} needs. */
export interface VersaoInput {
  version: string;
  /** A `dd/mm/yyyy` string, or a date (written in UTC). */
  date: string | Date;
  zipName: string;
  files: VersaoEntryInput[];
}

const HINT =
  "Fix the label in the repository (see SAAU's publication rules), or publish with `updraft publish --format saau`.";

function fail(line: number, message: string, version?: string): never {
  throw new UpdraftError(ErrorCodes.LABEL_INVALID, `Invalid ${VERSAO_FILE}, line ${line}: ${message}`, {
    hint: HINT,
    details: { line, ...(version !== undefined ? { version } : {}) },
  });
}

/** Decodes label bytes: UTF-8 (with or without BOM), else Windows-1252 (what Delphi writes). */
export function decodeLabelText(input: string | Uint8Array): string {
  let text: string;
  if (typeof input === "string") text = input;
  else {
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(input);
    } catch {
      text = new TextDecoder("windows-1252").decode(input);
    }
  }
  return text.startsWith("\uFEFF") ? text.slice(1) : text;
}

/** True for a SAAU version: dotted numbers (`10.0.2.0`). */
export function isSaauVersion(text: string): boolean {
  return /^\d+(\.\d+)*$/.test(text) && isValidVersion(text);
}

function checkDate(text: string, line: number, version: string): string {
  const m = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(text);
  if (!m) fail(line, `"${text}" is not a date; write it as dd/mm/yyyy (e.g. 11/02/2020)`, version);
  const [day, month, year] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const d = new Date(Date.UTC(year, month - 1, day));
  if (month < 1 || month > 12 || d.getUTCDate() !== day || d.getUTCMonth() !== month - 1 || year < 1900) {
    fail(line, `"${text}" is not a real date (dd/mm/yyyy)`, version);
  }
  return text;
}

/** Checks a single file name (no folder): the zip name, or a listed file's NAME. */
function checkPlainName(name: string, line: number, what: string, version: string): string {
  if (name.length === 0) fail(line, `empty ${what}`, version);
  if (/[\\/]/.test(name)) fail(line, `${what} "${name}" holds a folder; give the folder in PATH`, version);
  try {
    assertSafeRelativePath(name, what);
  } catch (err) {
    fail(line, (err as Error).message, version);
  }
  return name;
}

/** Turns a label PATH (`.\`, `.\sub\`, `sub`) into a POSIX folder, refusing anything leaving the app folder. */
function folderOf(path: string, line: number, version: string): string {
  if (/^[\\/]{2}/.test(path)) fail(line, `PATH "${path}" is a network (UNC) path; use .\\ or .\\sub\\`, version);
  if (/^[A-Za-z]:/.test(path)) fail(line, `PATH "${path}" has a drive letter; use .\\ or .\\sub\\`, version);
  if (/^[\\/]/.test(path)) fail(line, `PATH "${path}" is absolute; use .\\ or .\\sub\\`, version);
  const parts: string[] = [];
  for (const part of path.split(/[\\/]/)) {
    if (part === "" || part === ".") continue;
    if (part === "..") fail(line, `PATH "${path}" leaves the app folder ("..")`, version);
    parts.push(part);
  }
  return parts.join("/");
}

/** The label PATH of a POSIX folder: `""` → `.\`, `a/b` → `.\a\b\`. */
export function saauPathOf(folder: string): string {
  const parts = folder.split("/").filter((p) => p !== "" && p !== ".");
  return parts.length === 0 ? ".\\" : `.\\${parts.join("\\")}\\`;
}

/** `dd/mm/yyyy` of a date, in UTC. */
export function formatSaauDate(date: Date): string {
  const dd = String(date.getUTCDate()).padStart(2, "0");
  const mm = String(date.getUTCMonth() + 1).padStart(2, "0");
  return `${dd}/${mm}/${date.getUTCFullYear()}`;
}

function keyValue(text: string): [string, string] | undefined {
  const eq = text.indexOf("=");
  if (eq < 0) return undefined;
  return [text.slice(0, eq).trim().toLowerCase(), text.slice(eq + 1).trim()];
}

/**
 * Parses a `versao.txt` (CRLF or LF, optional UTF-8 BOM, trailing blank lines allowed).
 * Throws `LABEL_INVALID` naming the line; `details.version` carries line 1 when it was valid,
 * so a client can record the failed attempt at that version.
 */
export function parseVersao(input: string | Uint8Array): VersaoLabel {
  const size = typeof input === "string" ? input.length : input.byteLength;
  if (size > VERSAO_MAX_BYTES) fail(1, `the label is larger than ${VERSAO_MAX_BYTES} bytes`);
  const lines = decodeLabelText(input)
    .split(/\r\n|\n|\r/)
    .map((l) => l.trim());
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();

  const versionText = lines[0] ?? "";
  if (versionText === "") fail(1, "the version is missing (e.g. 10.0.2.0)");
  if (!isSaauVersion(versionText)) {
    fail(1, `"${versionText}" is not a version; SAAU versions are dotted numbers like 10.0.2.0`);
  }
  const version = versionText;
  if (lines.length < 2) fail(2, "the publication date is missing (dd/mm/yyyy)", version);
  const date = checkDate(lines[1]!, 2, version);
  if (lines.length < 3) fail(3, "the zip name is missing (e.g. app_v10.0.2.0.zip)", version);
  const zipName = checkPlainName(lines[2]!, 3, "zip name", version);
  if (!/\.zip$/i.test(zipName)) fail(3, `zip name "${zipName}" does not end in .zip`, version);
  if (lines.length < 4) fail(4, "count=N is missing", version);
  const countKv = keyValue(lines[3]!);
  if (countKv?.[0] !== "count") fail(4, `expected count=N, got "${lines[3]}"`, version);
  if (!/^\d{1,6}$/.test(countKv[1])) fail(4, `count "${countKv[1]}" is not a whole number`, version);
  const count = Number(countKv[1]);
  if (count < 1) fail(4, "count=0: a package must list at least one file", version);
  if (count > VERSAO_MAX_FILES) fail(4, `count=${count} is more than ${VERSAO_MAX_FILES} files`, version);

  const byIndex = new Map<number, VersaoFile>();
  const targets = new Map<string, number>();
  const names = new Map<string, number>();
  for (let i = 4; i < lines.length; i++) {
    const line = i + 1;
    const text = lines[i]!;
    if (text === "") fail(line, "blank line inside the file list", version);
    const kv = keyValue(text);
    const m = kv ? /^file([1-9]\d{0,5})$/.exec(kv[0]) : null;
    if (!kv || !m) fail(line, `expected fileK=NAME|PATH, got "${text}"`, version);
    const index = Number(m[1]);
    if (index > count) fail(line, `file${index} is beyond count=${count} (line 4)`, version);
    const first = byIndex.get(index);
    if (first) fail(line, `file${index} is listed twice (first on line ${first.line})`, version);
    const bar = kv[1].indexOf("|");
    if (bar < 0) fail(line, `expected NAME|PATH after file${index}=, got "${kv[1]}"`, version);
    const name = checkPlainName(kv[1].slice(0, bar).trim(), line, "file name", version);
    const path = kv[1].slice(bar + 1).trim();
    if (path.includes("|")) fail(line, `PATH "${path}" holds a '|'`, version);
    const folder = folderOf(path, line, version);
    const target = folder === "" ? name : `${folder}/${name}`;
    try {
      assertSafeRelativePath(target, "file path");
    } catch (err) {
      fail(line, (err as Error).message, version);
    }
    const folded = target.normalize("NFC").toLowerCase();
    const sameTarget = targets.get(folded);
    if (sameTarget !== undefined) fail(line, `"${target}" is already listed on line ${sameTarget}`, version);
    const sameName = names.get(name.normalize("NFC").toLowerCase());
    if (sameName !== undefined) {
      fail(
        line,
        `"${name}" is already listed on line ${sameName}; a SAAU zip holds every file at its root, so a name can be listed once`,
        version,
      );
    }
    targets.set(folded, line);
    names.set(name.normalize("NFC").toLowerCase(), line);
    byIndex.set(index, { index, name, path, folder, target, line });
  }
  for (let k = 1; k <= count; k++) {
    if (!byIndex.has(k)) {
      fail(4, `count=${count} but file${k} is missing (${byIndex.size} file lines follow)`, version);
    }
  }
  const files = [...byIndex.values()].sort((a, b) => a.index - b.index);
  return { version, date, zipName, files };
}

/**
 * Writes a label: CRLF line ends (as Delphi writes them) by default, a final line end, files
 * numbered in the given order. The result is parsed back, so an invalid input throws
 * `LABEL_INVALID` naming the line it would have produced.
 */
export function writeVersao(input: VersaoInput, options: { eol?: "\r\n" | "\n" } = {}): string {
  const eol = options.eol ?? "\r\n";
  const date = typeof input.date === "string" ? input.date : formatSaauDate(input.date);
  const lines = [
    input.version,
    date,
    input.zipName,
    `count=${input.files.length}`,
    ...input.files.map((f, i) => `file${i + 1}=${f.name}|${saauPathOf(f.folder ?? "")}`),
  ];
  const text = lines.join(eol) + eol;
  parseVersao(text);
  return text;
}

/** The zip name SAAU's rules give a release: `<app in lower case>_v<version>.zip`. */
export function saauZipName(app: string, version: string): string {
  return `${app.toLowerCase()}_v${version}.zip`;
}

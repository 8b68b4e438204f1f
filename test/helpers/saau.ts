/**
 * SAAU repositories and app folders written by hand for tests, the way a SAAU team made them:
 * a `versao.txt` typed line by line (CRLF), a zip made with a zip tool (yazl), and an app folder
 * as the old SAAU client left it. The "app" is a shell script that logs its version and asks
 * Updraft to update it, as a SAAU app calls TUpdateVersion at start.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import yazl from "yazl";
import { CLI } from "./cli.js";

/** One file of a SAAU package: its name at the zip root and its PATH in the label. */
export interface SaauFile {
  name: string;
  path: string;
  content: string | Buffer;
}

/** The `versao.txt` text for these files (hand-written format, CRLF). */
export function labelText(version: string, files: { name: string; path: string }[], count = files.length): string {
  const lines = [
    version,
    "11/02/2020",
    `tsprint_v${version}.zip`,
    `count=${count}`,
    ...files.map((f, i) => `file${i + 1}=${f.name}|${f.path}`),
  ];
  return `${lines.join("\r\n")}\r\n`;
}

/** Zips `entries` (name → bytes) with yazl, like a zip tool would. */
export function zipOf(entries: Record<string, string | Buffer>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, content] of Object.entries(entries)) {
    if (name.endsWith("/")) zip.addEmptyDirectory(name, { mtime: new Date(0) });
    else zip.addBuffer(Buffer.from(content), name, { mtime: new Date(0), mode: 0o100644 });
  }
  zip.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zip.outputStream.on("data", (c: Buffer) => chunks.push(c));
    zip.outputStream.on("end", () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on("error", reject);
  });
}

/** The app: a shell script that records its version, then runs `updraft update --saau … --restart`. */
export function appScript(version: string, extraArgs = ""): string {
  return `#!/bin/sh
echo "${version}" >> "$APP_REPORT"
"$NODE" "$UPDRAFT_CLI" update --dir "$APP_DIR" --saau "$SAAU_URL" --app TSPrint --json ${extraArgs} --restart "sh '$APP_DIR/TSPrint.exe'" > "$APP_REPORT.update-${version}.json" 2> "$APP_REPORT.update-${version}.err"
`;
}

/** The files of one version of the TSPrint app (one of them in a sub-folder). */
export function tsprintFiles(version: string): SaauFile[] {
  return [
    { name: "TSPrint.exe", path: ".\\", content: appScript(version) },
    { name: "TSImgCap.exe", path: ".\\", content: `TSImgCap ${version}\n` },
    { name: "TSFingerCap_NIT.exe", path: ".\\", content: Buffer.alloc(20_000, version.length) },
    { name: "report.dll", path: ".\\lib\\", content: `report.dll of ${version}\n` },
  ];
}

/** Where a file of the label lands in the app folder. */
export function targetOf(f: { name: string; path: string }): string {
  const folder = f.path
    .split("\\")
    .filter((p) => p !== "" && p !== ".")
    .join("/");
  return folder ? `${folder}/${f.name}` : f.name;
}

/**
 * Publishes `files` as `version` in `repo/tsprint/` by hand: the label, then the zip holding every
 * file at its root, the label's copy, `usleep.exe` and a folder (ignored). `zipOverride` changes
 * the zip's entries (to break it).
 */
export async function publishByHand(
  repo: string,
  version: string,
  files: SaauFile[],
  options: { zipOverride?: (entries: Record<string, string | Buffer>) => void; label?: string } = {},
): Promise<void> {
  const dir = join(repo, "tsprint");
  await mkdir(dir, { recursive: true });
  const label = options.label ?? labelText(version, files);
  const entries: Record<string, string | Buffer> = {};
  for (const f of files) entries[f.name] = f.content;
  entries["versao.txt"] = label;
  entries["usleep.exe"] = "MZ usleep for old SAAU clients";
  entries["docs/"] = "";
  entries["docs/manual.txt"] = "folders inside the zip are ignored";
  options.zipOverride?.(entries);
  await writeFile(join(dir, `tsprint_v${version}.zip`), await zipOf(entries));
  await writeFile(join(dir, "versao.txt"), label);
}

/** Installs `files` + their label as an old SAAU client would have left the app folder. */
export async function installByHand(appDir: string, version: string, files: SaauFile[]): Promise<void> {
  for (const f of files) {
    const full = join(appDir, ...targetOf(f).split("/"));
    await mkdir(join(full, ".."), { recursive: true });
    await writeFile(full, f.content);
  }
  await writeFile(join(appDir, "versao.txt"), labelText(version, files));
}

/** The bytes each listed file should have, by target path (plus the label copy). */
export async function expectedSet(files: SaauFile[], version: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of files) out.set(targetOf(f), Buffer.from(f.content).toString("base64"));
  out.set("versao.txt", Buffer.from(labelText(version, files)).toString("base64"));
  return out;
}

/** The bytes the app folder holds for the same paths. */
export async function actualSet(appDir: string, paths: Iterable<string>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const p of paths) {
    const bytes = await readFile(join(appDir, ...p.split("/"))).catch(() => undefined);
    out.set(p, bytes ? bytes.toString("base64") : "(missing)");
  }
  return out;
}

/** Environment for running the app script. */
export function appEnv(appDir: string, report: string, saauUrl: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    APP_DIR: appDir,
    APP_REPORT: report,
    SAAU_URL: saauUrl,
    NODE: process.execPath,
    UPDRAFT_CLI: CLI,
  };
}

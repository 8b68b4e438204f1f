/**
 * `updraft publish --format saau`: publishes a build as an unchanged SAAU package — the label
 * `REPO/<app lower case>/versao.txt` and the flat zip `<app>_v<version>.zip` (every file at its
 * root, the label's copy, and optional extra files such as `usleep.exe` for old clients) — next
 * to Updraft's own signed release of the same files (plus `versao.txt`), so upgraded clients
 * verify signatures while old SAAU clients keep working.
 */
import { mkdir } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { isSaauVersion, saauZipName, VERSAO_FILE, writeVersao } from "../formats/versao.js";
import { scanBuild } from "./pack.js";
import { type PublishOptions, type PublishResult, publishRelease } from "./publish.js";
import { writeZip, type ZipEntry } from "./zip-writer.js";

/** Options of {@link publishSaau}. */
export interface SaauPublishOptions extends Omit<PublishOptions, "extraFiles"> {
  /** Publication date written on line 2 (default: now). */
  date?: Date;
  /** Files added at the zip's root but not listed in the label (e.g. `usleep.exe` for old SAAU clients). */
  zipExtras?: string[];
}

/** What {@link publishSaau} wrote. */
export interface SaauPublishResult extends PublishResult {
  saau: { label: string; zip: string; zipSize: number; zipSha256: string; listed: number };
}

function invalid(message: string, hint: string): never {
  throw new UpdraftError(ErrorCodes.BUILD_INVALID, message, { hint });
}

/** Publishes `buildDir` in SAAU format and as a signed Updraft release. */
export async function publishSaau(options: SaauPublishOptions): Promise<SaauPublishResult> {
  if (!isSaauVersion(options.version)) {
    throw new UpdraftError(ErrorCodes.USAGE, `SAAU versions are dotted numbers (10.0.2.0), not "${options.version}"`, {
      hint: "Give --version as dotted numbers.",
    });
  }
  const app = options.app.toLowerCase();
  const build = await scanBuild(resolve(options.buildDir));
  if (build.symlinks.length > 0) {
    invalid(`"${build.symlinks[0]!.path}" is a symbolic link`, "SAAU packages hold regular files only; copy the file.");
  }
  const byName = new Map<string, string>();
  for (const f of build.files) {
    const name = basename(f.path);
    const seen = byName.get(name.toLowerCase());
    if (seen !== undefined) {
      invalid(
        `"${seen}" and "${f.path}" have the same name; a SAAU zip holds every file at its root, so it cannot hold both`,
        "Rename one of them (SAAU installs each file to the folder the label gives it, but stores it by name).",
      );
    }
    if (f.path.toLowerCase() === VERSAO_FILE)
      invalid(`The build already contains ${VERSAO_FILE}`, "Remove it: the publisher writes the label.");
    byName.set(name.toLowerCase(), f.path);
  }
  const extras: ZipEntry[] = (options.zipExtras ?? []).map((path) => {
    const name = basename(path);
    if (byName.has(name.toLowerCase()) || name.toLowerCase() === VERSAO_FILE) {
      invalid(`The extra zip file "${name}" has the name of a released file`, "Rename it or drop it from --zip-extra.");
    }
    return { name, sourcePath: resolve(path) };
  });
  const zipName = saauZipName(app, options.version);
  const label = writeVersao({
    version: options.version,
    date: options.date ?? options.now ?? new Date(),
    zipName,
    files: build.files.map((f) => {
      const slash = f.path.lastIndexOf("/");
      return { name: f.path.slice(slash + 1), folder: slash < 0 ? "" : f.path.slice(0, slash) };
    }),
  });
  const labelBytes = Buffer.from(label, "utf8");
  const published = await publishRelease({ ...options, app, extraFiles: [{ path: VERSAO_FILE, data: labelBytes }] });

  const dir = join(resolve(options.repoDir), app);
  await mkdir(dir, { recursive: true });
  const entries: ZipEntry[] = [
    ...build.files.map((f) => ({ name: basename(f.path), sourcePath: f.sourcePath!, executable: f.mode === 0o755 })),
    { name: VERSAO_FILE, data: labelBytes },
    ...extras,
  ];
  const zip = await writeZip(join(dir, zipName), entries);
  // The label last: a SAAU client that reads it finds its zip already there.
  await writeFileAtomic(join(dir, VERSAO_FILE), labelBytes);
  return {
    ...published,
    saau: {
      label: join(dir, VERSAO_FILE),
      zip: join(dir, zipName),
      zipSize: zip.size,
      zipSha256: zip.sha256,
      listed: build.files.length,
    },
  };
}

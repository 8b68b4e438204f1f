/**
 * `updraft publish --format update-json`: publishes a build for python-autoupdate clients — the
 * zip `REPO/<app>/<app>_v<version>.zip` and `REPO/<app>/update.json` naming its sha256 and URL —
 * next to Updraft's own signed release of the same build.
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { writeFileAtomic } from "../core/fs.js";
import { serializeUpdateJson, UPDATE_JSON_FILE } from "../formats/update-json.js";
import { readAppSettings } from "./app-settings.js";
import { scanBuild } from "./pack.js";
import { type PublishOptions, type PublishResult, publishRelease } from "./publish.js";
import { appPaths } from "./tuf-repo.js";
import { writeZip } from "./zip-writer.js";

/** What {@link publishUpdateJson} wrote. */
export interface UpdateJsonPublishResult extends PublishResult {
  updateJson: { file: string; zip: string; url: string; sha256: string; size: number };
}

/** Publishes `buildDir` as a signed release and as `update.json` + zip. */
export async function publishUpdateJson(options: Omit<PublishOptions, "extraFiles">): Promise<UpdateJsonPublishResult> {
  const app = options.app.toLowerCase();
  const build = await scanBuild(resolve(options.buildDir));
  if (build.symlinks.length > 0) {
    throw new UpdraftError(ErrorCodes.BUILD_INVALID, `"${build.symlinks[0]!.path}" is a symbolic link`, {
      hint: "Archives for update.json clients hold regular files only; copy the file.",
    });
  }
  const known =
    options.url ??
    (await readAppSettings(appPaths(resolve(options.repoDir), app).settingsFile, app).catch(() => undefined))?.url;
  if (!known) {
    throw new UpdraftError(ErrorCodes.USAGE, "update.json needs the repository's public URL to name the archive", {
      hint: "Pass --url https://… (it is remembered for later publishes).",
    });
  }
  const published = await publishRelease({ ...options, app });
  if (!published.url) throw new UpdraftError(ErrorCodes.INTERNAL, "The published release has no URL");
  const dir = join(resolve(options.repoDir), app);
  await mkdir(dir, { recursive: true });
  const zipName = `${app}_v${published.version}.zip`;
  const zipPath = join(dir, zipName);
  const zip = await writeZip(
    zipPath,
    build.files.map((f) => ({ name: f.path, sourcePath: f.sourcePath!, executable: f.mode === 0o755 })),
  );
  const url = `${published.url.replace(/\/+$/, "")}/${encodeURIComponent(app)}/${encodeURIComponent(zipName)}`;
  const file = join(dir, UPDATE_JSON_FILE);
  await writeFileAtomic(
    file,
    serializeUpdateJson({ version: published.version, files: [{ filename: zipName, hash: zip.sha256, url }] }),
  );
  return { ...published, updateJson: { file, zip: zipPath, url, sha256: zip.sha256, size: zip.size } };
}

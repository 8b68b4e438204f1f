/**
 * The `Autoupdate` facade follows python-autoupdate's own example flows line by line, against
 * repositories served over real HTTP on 127.0.0.1: `update.json` written as the seed shows it (its
 * hash computed by the seed's own Python function), the folder URL and the file URL, a zip and a
 * tar.gz; a tampered archive is refused and backed off; a repository written by
 * `updraft publish --format update-json` is verified through signatures.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { Autoupdate } from "../src/compat/index.js";
import { ErrorCodes, UpdraftError } from "../src/core/errors.js";
import { runCli } from "./helpers/cli.js";
import { serveStatic } from "./helpers/publish-fixtures.js";
import { createTestRepo } from "./helpers/repo.js";
import { zipOf } from "./helpers/saau.js";
import { tempDir } from "./helpers/tmp.js";

/** The seed's `generate_file_hash`, run by python3 exactly as the seed prints it. */
function seedHash(path: string): string {
  const script = `import hashlib

def generate_file_hash(filepath):
    hash_sha256 = hashlib.sha256()
    with open(filepath, "rb") as f:
        for chunk in iter(lambda: f.read(4096), b""):
            hash_sha256.update(chunk)
    return hash_sha256.hexdigest()

import sys
file_hash = generate_file_hash(sys.argv[1])
print(file_hash)
`;
  return execFileSync("python3", ["-c", script, path], { encoding: "utf8" }).trim();
}

const V1 = { "main.py": "print('1.0.0')\n", "lib/util.py": "VERSION = '1.0.0'\n" };
const V2 = { "main.py": "print('1.0.1')\n", "lib/util.py": "VERSION = '1.0.1'\n", "lib/new.py": "NEW = True\n" };

async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [p, c] of Object.entries(files)) {
    await mkdir(join(dir, p, ".."), { recursive: true });
    await writeFile(join(dir, p), c);
  }
}

async function readTree(dir: string, paths: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const p of paths) out[p] = await readFile(join(dir, p), "utf8").catch(() => "(missing)");
  return out;
}

async function tarGzOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => pack.on("end", () => r()));
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mtime: new Date(0) }, content);
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

/** A python-autoupdate server folder: the archive and update.json as the seed describes them. */
async function seedServer(root: string, baseUrl: string, archiveName: string, archive: Buffer): Promise<void> {
  const dir = join(root, "updates");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, archiveName), archive);
  const updateJson = {
    version: "1.0.1",
    files: [
      { filename: archiveName, hash: seedHash(join(dir, archiveName)), url: `${baseUrl}/updates/${archiveName}` },
    ],
  };
  await writeFile(join(dir, "update.json"), JSON.stringify(updateJson, null, 2));
}

for (const [example, urlOf, archiveName] of [
  ["first example: update_url is the folder, a .zip", (base: string) => `${base}/updates/`, "your_app_v1.0.1.zip"],
  [
    "second example: update_url is update.json itself, a .tar.gz",
    (base: string) => `${base}/updates/update.json`,
    "your_app_v1.0.1.tar.gz",
  ],
] as const) {
  test(`Autoupdate, the seed's ${example}`, async (t) => {
    const work = await tempDir(t);
    const root = join(work, "www");
    await mkdir(root);
    const server = await serveStatic(root);
    t.after(() => server.close());
    const archive = archiveName.endsWith(".zip") ? await zipOf(V2) : await tarGzOf(V2);
    await seedServer(root, server.url, archiveName, archive);
    const appDir = join(work, "YourApp");
    await writeTree(appDir, V1);

    // from python_autoupdate import Autoupdate
    // def main():
    //     updater = Autoupdate(app_name='YourAppName', current_version='1.0.0',
    //                          update_url='https://example.com/updates/')
    const updater = new Autoupdate({
      appName: "YourAppName",
      currentVersion: "1.0.0",
      updateUrl: urlOf(server.url),
      appDir,
    });
    //     if updater.check_for_updates():
    const available = await updater.checkForUpdates();
    assert.equal(available, true);
    assert.equal(updater.latestVersion, "1.0.1");
    assert.equal(updater.signed, false);
    //         updated = updater.download_updates()
    const updated = await updater.downloadUpdates();
    //         if updated:
    assert.equal(updated, true);
    assert.deepEqual(await readTree(appDir, Object.keys(V1)), V1, "downloading changes nothing yet");
    //             updater.apply_updates()
    const applied = await updater.applyUpdates();
    assert.equal(applied?.version, "1.0.1");
    //             # 这里可以添加重启应用的逻辑 (restart logic goes here)
    //     print("App is up-to-date and running!")
    assert.deepEqual(await readTree(appDir, Object.keys(V2)), V2);

    // The restarted 1.0.1 finds itself current.
    const again = new Autoupdate({
      appName: "YourAppName",
      currentVersion: "1.0.1",
      updateUrl: urlOf(server.url),
      appDir,
    });
    assert.equal(await again.checkForUpdates(), false);
  });
}

test("Autoupdate refuses an archive whose hash does not match, keeps the app, and tries it again next time (the mirror, not the release)", async (t) => {
  const work = await tempDir(t);
  const root = join(work, "www");
  await mkdir(root);
  const server = await serveStatic(root);
  t.after(() => server.close());
  await seedServer(root, server.url, "your_app_v1.0.1.zip", await zipOf(V2));
  await writeFile(join(root, "updates", "your_app_v1.0.1.zip"), await zipOf({ ...V2, "main.py": "evil()\n" }));
  const appDir = join(work, "YourApp");
  await writeTree(appDir, V1);
  const options = { appName: "YourAppName", currentVersion: "1.0.0", updateUrl: `${server.url}/updates/`, appDir };
  const updater = new Autoupdate(options);
  assert.equal(await updater.checkForUpdates(), true);
  await assert.rejects(updater.downloadUpdates(), (err: unknown) => {
    assert.ok(err instanceof UpdraftError);
    assert.equal(err.code, ErrorCodes.TARGET_MISMATCH);
    assert.match(err.message, /does not match its published sha256/);
    return true;
  });
  assert.deepEqual(await readTree(appDir, Object.keys(V1)), V1);
  const later = new Autoupdate(options);
  assert.equal(await later.checkForUpdates(), true);
  assert.equal(later.skipped, undefined);
});

test("Autoupdate over a repository written by `updraft publish --format update-json` uses the signatures", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work, "yourappname");
  const server = await serveStatic(repo.repoDir);
  t.after(() => server.close());
  const build = join(work, "build");
  await writeTree(build, V2);
  const r = await runCli([
    "publish",
    build,
    "--format",
    "update-json",
    "--repo",
    repo.repoDir,
    "--app",
    "yourappname",
    "--version",
    "1.0.1",
    "--url",
    server.url,
    "--keys",
    repo.keysDir,
    "--level",
    "3",
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const doc = JSON.parse(await readFile(join(repo.repoDir, "yourappname", "update.json"), "utf8"));
  assert.equal(doc.version, "1.0.1");
  assert.equal(doc.files[0].filename, "yourappname_v1.0.1.zip");
  assert.equal(doc.files[0].url, `${server.url}/yourappname/yourappname_v1.0.1.zip`);
  assert.equal(doc.files[0].hash, seedHash(join(repo.repoDir, "yourappname", "yourappname_v1.0.1.zip")));

  const appDir = join(work, "YourApp");
  await writeTree(appDir, V1);
  const updater = new Autoupdate({
    appName: "YourAppName",
    currentVersion: "1.0.0",
    updateUrl: `${server.url}/yourappname/`,
    appDir,
  });
  assert.equal(await updater.checkForUpdates(), true);
  assert.equal(updater.signed, true);
  assert.equal(await updater.downloadUpdates(), true);
  await updater.applyUpdates();
  assert.deepEqual(await readTree(appDir, Object.keys(V2)), V2);

  // An old python-autoupdate-style client reading only update.json gets the same files.
  const plain = new Autoupdate({
    appName: "other",
    currentVersion: "1.0.0",
    updateUrl: `${server.url}/yourappname/update.json`,
    appDir: join(work, "Plain"),
  });
  await writeTree(join(work, "Plain"), V1);
  assert.equal(await plain.checkForUpdates(), true);
  assert.equal(plain.signed, false);
  await plain.applyUpdates();
  assert.deepEqual(await readTree(join(work, "Plain"), Object.keys(V2)), V2);
});

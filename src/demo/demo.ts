/**
 * `updraft demo`: the whole path on one machine. Creates keys and a repository in a temporary
 * folder, publishes 1.0.0, serves it on 127.0.0.1, installs 1.0.0, publishes 1.1.0, and runs the
 * app, which updates itself and restarts into 1.1.0. Succeeds only if the restarted app says 1.1.0.
 */
import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { installFromRepository } from "../client/first-install.js";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { isJsonObject, parseJson } from "../core/json.js";
import { generateKeys, loadKeys } from "../publish/keys.js";
import { initApp, publishRelease } from "../publish/publish.js";
import { createRepositoryServer } from "../server/static-server.js";
import { sampleAppSource, sampleDataFile } from "./sample-app.js";

const APP = "hello";

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Keep the temporary folder for inspection. */
  keep?: boolean;
  /** Where step lines go. */
  print?: (line: string) => void;
}

/** What the demo measured. */
export interface DemoResult {
  finalVersion: string;
  updateBytes: number;
  archiveBytes: { "1.0.0": number; "1.1.0": number };
  /** Seconds from starting the 1.0.0 app to the restarted 1.1.0 app reporting. */
  updateSeconds: number;
  workDir: string;
}

async function waitForFile(path: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await readFile(path, "utf8");
    } catch {
      if (Date.now() > deadline) throw new UpdraftError(ErrorCodes.INTERNAL, `Timed out waiting for ${path}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function writeBuild(dir: string, version: string): Promise<void> {
  await mkdir(join(dir, "data"), { recursive: true });
  await writeFile(join(dir, "app.mjs"), sampleAppSource(version));
  await chmod(join(dir, "app.mjs"), 0o755);
  await writeFile(join(dir, "data", "greeting.txt"), sampleDataFile(version));
  await writeFile(join(dir, "data", "unchanged.txt"), "This file never changes; the update reuses it.\n");
}

/** Runs the demo; throws if the app did not end on 1.1.0. */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const work = await mkdtemp(join(tmpdir(), "updraft-demo-"));
  const repo = join(work, "repo");
  const installDir = join(work, "install");
  const server = createRepositoryServer({ root: repo });
  try {
    print(`1. Working in ${work}`);
    await generateKeys(join(work, "keys"));
    const keys = await loadKeys({
      dir: join(work, "keys"),
      roles: ["root", "targets", "snapshot", "timestamp"],
      env: {},
    });
    print("2. Generated ed25519 keys for the root, targets, snapshot and timestamp roles");
    await mkdir(repo, { recursive: true });
    const { url } = await server.listen();
    const repoUrl = url.replace(/\/$/, "");
    print(`3. Serving the repository at ${repoUrl} (updraft serve)`);
    const init = await initApp({ repoDir: repo, app: APP, keys, url: repoUrl });
    print(`4. Created app "${APP}"; root fingerprint ${init.rootSha256.slice(0, 16)}…`);
    await writeBuild(join(work, "build-1.0.0"), "1.0.0");
    const v1 = await publishRelease({
      repoDir: repo,
      app: APP,
      version: "1.0.0",
      buildDir: join(work, "build-1.0.0"),
      keys,
    });
    print(`5. Published 1.0.0 (${v1.fileCount} files, archive ${v1.archive.size} bytes)`);
    const installed = await installFromRepository({ repoUrl, app: APP, installDir, rootSha256: init.rootSha256 });
    print(`6. Installed 1.0.0 into ${installDir} (root pinned by fingerprint)`);
    await writeBuild(join(work, "build-1.1.0"), "1.1.0");
    const v2 = await publishRelease({
      repoDir: repo,
      app: APP,
      version: "1.1.0",
      buildDir: join(work, "build-1.1.0"),
      keys,
    });
    print(`7. Published 1.1.0 (archive ${v2.archive.size} bytes)`);

    const resultFile = join(work, "result.json");
    const updateFile = join(work, "update.json");
    const logFile = join(work, "restarted-app.log");
    print("8. Running the installed app; it finds 1.1.0, updates itself and restarts:");
    const started = Date.now();
    const child = spawn(process.execPath, [join(installDir, "current", "app.mjs")], {
      stdio: ["ignore", "pipe", "inherit"],
      env: {
        ...process.env,
        UPDRAFT_LIBRARY: pathToFileURL(join(import.meta.dirname, "..", "index.js")).href,
        DEMO_RESULT_FILE: resultFile,
        DEMO_UPDATE_FILE: updateFile,
        DEMO_LOG_FILE: logFile,
      },
    });
    let pendingOutput = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      pendingOutput += chunk;
      const lines = pendingOutput.split("\n");
      pendingOutput = lines.pop() ?? "";
      for (const line of lines) print(line);
    });
    const exitCode = await new Promise<number | null>((resolve) => child.on("close", resolve));
    if (pendingOutput) print(pendingOutput);
    if (exitCode !== 0) throw new UpdraftError(ErrorCodes.INTERNAL, `The 1.0.0 app exited with ${exitCode}`);
    const final = parseJson(await waitForFile(resultFile, 60_000));
    if (!isJsonObject(final) || typeof final.version !== "string") {
      throw new UpdraftError(ErrorCodes.INTERNAL, `${resultFile} does not hold the restarted app's version`);
    }
    const seconds = (Date.now() - started) / 1000;
    for (const line of (await readFile(logFile, "utf8")).trimEnd().split("\n")) print(line);
    const update = parseJson(await readFile(updateFile, "utf8"));
    if (!isJsonObject(update) || typeof update.bytes !== "number" || typeof update.payload !== "number") {
      throw new UpdraftError(ErrorCodes.INTERNAL, `${updateFile} does not hold the update's byte count`);
    }
    if (final.version !== "1.1.0") {
      throw new UpdraftError(ErrorCodes.INTERNAL, `The restarted app reports ${final.version}, not 1.1.0`);
    }
    print(
      `9. Done: the restarted app reports ${final.version}. Update: ${update.bytes} bytes downloaded ` +
        `(${update.payload} of them the delta, the rest signed metadata and the patch of the release manifest), ` +
        `${seconds.toFixed(2)} s from start to restarted app (first install ${installed.version}).`,
    );
    return {
      finalVersion: final.version,
      updateBytes: update.bytes,
      archiveBytes: { "1.0.0": v1.archive.size, "1.1.0": v2.archive.size },
      updateSeconds: seconds,
      workDir: work,
    };
  } finally {
    await server.close();
    if (!options.keep) await rm(work, { recursive: true, force: true });
  }
}

/**
 * The drop-in clients in clients/, for real: the Python package's own `python3 -m unittest` suite
 * (the seed's two example programs, tampering, error codes, restart) run against this build of the
 * CLI; and the Delphi unit compiled with Free Pascal in Delphi mode into a console program that
 * follows SAAU's `TFMain.Atualizar` routine, updating a SAAU app folder over real HTTP: the script,
 * the wait for the app's exit, the swap, the restart, and the back-off after a broken package.
 * Plus the two CLI verbs the clients drive, `update --prepare-only` and `apply-prepared`.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import yazl from "yazl";
import { CLI, parseJson, runCli } from "./helpers/cli.js";
import { serveStatic } from "./helpers/publish-fixtures.js";
import {
  actualSet,
  expectedSet,
  installByHand,
  labelText,
  publishByHand,
  type SaauFile,
  tsprintFiles,
} from "./helpers/saau.js";
import { tempDir } from "./helpers/tmp.js";
import { waitFor } from "./helpers/wait.js";

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PYTHON_CLIENT = join(REPO_ROOT, "clients", "python");
const DELPHI_CLIENT = join(REPO_ROOT, "clients", "delphi");
const HAS_FPC = spawnSync("fpc", ["-iV"]).status === 0;
const NO_FPC = "fpc is not installed (.ci/run installs the Debian package fp-compiler)";

/** A POSIX shell word. */
function shellWord(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

test("python: updraft_autoupdate's unittest suite passes against this CLI", async () => {
  const result = spawnSync("python3", ["-m", "unittest", "discover", "-s", "tests", "-v"], {
    cwd: PYTHON_CLIENT,
    env: {
      ...process.env,
      UPDRAFT_CMD: `${shellWord(process.execPath)} ${shellWord(CLI)}`,
      PYTHONDONTWRITEBYTECODE: "1",
    },
    encoding: "utf8",
    timeout: 170_000,
  });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /^Ran (\d+) tests? in /m);
  assert.match(result.stderr, /test_folder_url_example_updates_the_app \(.*\) \.\.\. ok/);
  assert.match(result.stderr, /test_update_json_url_example_updates_the_app \(.*\) \.\.\. ok/);
  assert.match(result.stderr, /\nOK\n?$/);
});

/** Compiles the console SAAU app into `dir` (`-dNEWBUILD` for the new version); returns the executable's bytes. */
async function compileTsprint(dir: string, newBuild: boolean): Promise<Buffer> {
  const units = join(dir, "units");
  await mkdir(units, { recursive: true });
  await run("fpc", [
    "-Mdelphi",
    `-Fu${DELPHI_CLIENT}`,
    `-FU${units}`,
    `-FE${dir}`,
    ...(newBuild ? ["-dNEWBUILD"] : []),
    join(DELPHI_CLIENT, "tests", "TSPrint.dpr"),
  ]);
  return readFile(join(dir, "TSPrint"));
}

/** The TSPrint app's files: the compiled program (executable) and the files SAAU's example lists. */
function appFiles(version: string, program: Buffer): SaauFile[] {
  return [{ name: "TSPrint", path: ".\\", content: program }, ...tsprintFiles(version).slice(1)];
}

/** Publishes `files` as SAAU would, the program marked executable in the zip (`omit`: a listed file left out). */
async function publishSaau(repo: string, version: string, files: SaauFile[], omit?: string): Promise<void> {
  const dir = join(repo, "tsprint");
  await mkdir(dir, { recursive: true });
  const label = labelText(version, files);
  const zip = new yazl.ZipFile();
  for (const f of files) {
    if (f.name === omit) continue;
    zip.addBuffer(Buffer.from(f.content), f.name, {
      mtime: new Date(0),
      mode: f.name === "TSPrint" ? 0o100755 : 0o100644,
    });
  }
  zip.addBuffer(Buffer.from(label), "versao.txt", { mtime: new Date(0) });
  zip.addBuffer(Buffer.from("MZ usleep for old SAAU clients"), "usleep.exe", { mtime: new Date(0) });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  await writeFile(join(dir, `tsprint_v${version}.zip`), Buffer.concat(chunks));
  await writeFile(join(dir, "versao.txt"), label);
}

/** A SAAU app folder at 10.0.1.0 with the `updraft` command beside its executable, and a repository server. */
async function saauSetup(t: import("node:test").TestContext) {
  const work = await tempDir(t, "updraft-delphi-");
  const [v1, v2] = await Promise.all([
    compileTsprint(join(work, "build1"), false),
    compileTsprint(join(work, "build2"), true),
  ]);
  const appDir = join(work, "TSPrint");
  const v1Files = appFiles("10.0.1.0", v1);
  await installByHand(appDir, "10.0.1.0", v1Files);
  await chmod(join(appDir, "TSPrint"), 0o755);
  const updraft = join(appDir, "updraft");
  await writeFile(updraft, `#!/bin/sh\nexec ${shellWord(process.execPath)} ${shellWord(CLI)} "$@"\n`);
  await chmod(updraft, 0o755);
  const repo = join(work, "repo");
  const server = await serveStatic(repo);
  t.after(() => server.close());
  const log = join(appDir, "TSPrint.log");
  const readLog = () => readFile(log, "utf8").catch(() => "");
  const startApp = () =>
    runCli([server.url], { command: join(appDir, "TSPrint"), cwd: work, env: { UPDRAFT_EXE: "" }, limitMs: 120_000 });
  return { work, appDir, repo, server, v1Files, v2Files: appFiles("10.0.2.0", v2), readLog, startApp };
}

test("delphi: the seed's Atualizar over UUpdate updates TSPrint 10.0.1.0 -> 10.0.2.0: script, exit, swap, restart", {
  skip: HAS_FPC ? false : NO_FPC,
}, async (t) => {
  const app = await saauSetup(t);
  await publishSaau(app.repo, "10.0.2.0", app.v2Files);

  const first = await app.startApp();
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /TSPrint build 1 started/);
  assert.match(first.stdout, /Preparando atualização de TSPrint para a versão 10\.0\.2\.0/);
  assert.match(
    first.stdout,
    /Atualizando arquivos\.\.\.\n\{"ok":true,"prepared":true,"applied":false,"restarting":true,"helperPid":\d+\}\nclosing for the update\n$/,
  );
  const script = await readFile(join(app.appDir, ".updraft", "atualizar.sh"), "utf8");
  assert.match(script, /apply-prepared --dir .* --wait-pid \d+ --restart /);

  // Once the old process has exited, the helper swaps the files and starts the new build, whose
  // own Atualizar finds nothing newer (and so confirms it works).
  const restartLog = () => readFile(join(app.appDir, ".updraft", "restart.log"), "utf8").catch(() => "");
  const log = await waitFor(
    "the restarted 10.0.2.0 to finish its update check",
    async () => {
      const text = await app.readLog();
      return /já está na ultima versão disponível\.\nrunning Versão {2}10\.0\.2\.0\n/.test(text) ? text : undefined;
    },
    60_000,
  ).catch(async (err: Error) =>
    assert.fail(`${err.message}\napp log:\n${await app.readLog()}\nhelper log:\n${await restartLog()}`),
  );
  assert.match(log, /closing for the update\n(.|\n)*TSPrint build 2 started/, await restartLog());
  const pids = [...log.matchAll(/started, pid (\d+)/g)].map((m) => m[1]);
  assert.equal(pids.length, 2);
  assert.notEqual(pids[0], pids[1]);
  const expected = await expectedSet(app.v2Files, "10.0.2.0");
  assert.deepEqual(await actualSet(app.appDir, expected.keys()), expected);

  const status = await waitFor("the new version to leave probation", async () => {
    const doc = parseJson(await runCli(["status", "--dir", app.appDir, "--json"]));
    const state = JSON.parse(await readFile(join(app.appDir, ".updraft", "state.json"), "utf8"));
    return state.probation === undefined ? doc : undefined;
  });
  assert.equal(status.currentVersion, "10.0.2.0");
  assert.equal(status.previousVersion, "10.0.1.0");
});

test("delphi: a broken package leaves the old files and is not retried for 2 hours", {
  skip: HAS_FPC ? false : NO_FPC,
}, async (t) => {
  const app = await saauSetup(t);
  await publishSaau(app.repo, "10.0.2.0", app.v2Files, "TSImgCap.exe");
  const zipRequests = () => app.server.requests.filter((r) => r.endsWith(".zip")).length;

  const first = await app.startApp();
  assert.equal(first.code, 0, first.stderr);
  assert.match(
    first.stdout,
    /Baixando arquivos da atualização\.\.\.\nERRO {4}Erro ao baixar o pacote de atualização\.\n/,
  );
  assert.match(first.stdout, /\nrunning \n$/);
  const expected = await expectedSet(app.v1Files, "10.0.1.0");
  assert.deepEqual(await actualSet(app.appDir, [...expected.keys(), "TSImgCap.exe"]), expected);
  const fetched = zipRequests();
  assert.ok(fetched >= 1);

  const second = await app.startApp();
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /A versão 10\.0\.2\.0 falhou nas últimas 2 horas; não será tentada agora\./);
  assert.doesNotMatch(second.stdout, /Baixando/);
  assert.equal(zipRequests(), fetched);
  assert.deepEqual(await actualSet(app.appDir, expected.keys()), expected);
  const check = parseJson(
    await runCli(["check", "--dir", app.appDir, "--saau", app.server.url, "--app", "TSPrint", "--json"]),
  );
  const skipped = check.skipped as { version: string; retryAfter: string };
  assert.equal(skipped.version, "10.0.2.0");
  const wait = Date.parse(skipped.retryAfter) - Date.now();
  assert.ok(wait > 119 * 60_000 && wait <= 120 * 60_000, `retry in ${wait} ms`);
});

test("cli: update --prepare-only stages without touching the app; apply-prepared swaps it in", async (t) => {
  const work = await tempDir(t);
  const appDir = join(work, "app");
  const repo = join(work, "repo");
  await installByHand(appDir, "10.0.1.0", tsprintFiles("10.0.1.0"));
  await publishByHand(repo, "10.0.2.0", tsprintFiles("10.0.2.0"));
  const server = await serveStatic(repo);
  t.after(() => server.close());
  const old = await expectedSet(tsprintFiles("10.0.1.0"), "10.0.1.0");
  const saau = ["--dir", appDir, "--saau", server.url, "--app", "TSPrint", "--json"];

  const nothing = await runCli(["apply-prepared", "--dir", appDir, "--json"]);
  assert.equal(nothing.code, 0, nothing.stderr);
  assert.deepEqual(parseJson(nothing), { ok: true, prepared: false, applied: false });

  const misuse = await runCli(["update", ...saau, "--prepare-only", "--restart", "true"]);
  assert.equal(misuse.code, 2);
  assert.equal((parseJson(misuse).error as { code: string }).code, "USAGE");

  const prepared = await runCli(["update", ...saau, "--prepare-only"]);
  assert.equal(prepared.code, 0, prepared.stderr);
  const doc = parseJson(prepared);
  assert.equal(doc.updated, true);
  assert.equal(doc.applied, false);
  assert.equal(doc.version, "10.0.2.0");
  assert.deepEqual(await actualSet(appDir, old.keys()), old);

  const applied = await runCli(["apply-prepared", "--dir", appDir, "--json"]);
  assert.equal(applied.code, 0, applied.stderr);
  const outcome = parseJson(applied);
  assert.equal(outcome.prepared, true);
  assert.equal(outcome.applied, true);
  assert.equal(outcome.version, "10.0.2.0");
  assert.equal(outcome.previous, "10.0.1.0");
  const now = await expectedSet(tsprintFiles("10.0.2.0"), "10.0.2.0");
  assert.deepEqual(await actualSet(appDir, now.keys()), now);
  const check = parseJson(await runCli(["check", ...saau]));
  assert.equal(check.updateAvailable, false);
  assert.equal(check.currentVersion, "10.0.2.0");
});

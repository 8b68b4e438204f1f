/**
 * The package as a user installs it: `npm pack` of this repository, unpacked into a project's
 * `node_modules` beside its runtime dependencies (what `npm install` leaves there, without the
 * network). Both entry points load by the package's name through package.json `exports`, the
 * internals behind them cannot be imported, their types resolve for a TypeScript consumer, and
 * the `updraft` command runs.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type CliResult, runCli } from "./helpers/cli.js";
import { tempDir } from "./helpers/tmp.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface PackageJson {
  name: string;
  version: string;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
}

const PACKAGE = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as PackageJson;

/** A hang fails the test; none of these runs comes near it. */
const LIMIT_MS = 120_000;

function assertRan(result: CliResult, what: string): void {
  assert.equal(result.code, 0, `${what} failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
}

/** Links `name` from this repository's node_modules into `modules`, as npm would have installed it. */
async function linkDependency(modules: string, name: string): Promise<void> {
  const at = join(modules, name);
  await mkdir(dirname(at), { recursive: true });
  await symlink(join(ROOT, "node_modules", name), at, "dir");
}

/** The tarball `npm pack` makes of this repository (what the registry would serve), made once. */
let tarball = "";
let packDir = "";

before(async () => {
  packDir = await mkdtemp(join(tmpdir(), "updraft-pack-"));
  const pack = await runCli(["pack", "--json", "--pack-destination", packDir], {
    command: "npm",
    cwd: ROOT,
    limitMs: LIMIT_MS,
  });
  assertRan(pack, "npm pack");
  const [packed] = JSON.parse(pack.stdout) as { filename: string }[];
  assert.ok(packed, "npm pack names its tarball");
  tarball = join(packDir, packed.filename);
});

after(() => rm(packDir, { recursive: true, force: true }));

/** A project folder with the packed package installed: returns the project and the package's folder. */
async function installPacked(t: TestContext): Promise<{ project: string; installed: string }> {
  const work = await tempDir(t, "updraft-package-");
  assertRan(await runCli(["-xzf", tarball, "-C", work], { command: "tar", limitMs: LIMIT_MS }), "tar");
  const project = join(work, "project");
  const modules = join(project, "node_modules");
  const installed = join(modules, PACKAGE.name);
  await mkdir(dirname(installed), { recursive: true });
  await rename(join(work, "package"), installed);
  for (const name of Object.keys(PACKAGE.dependencies)) await linkDependency(modules, name);
  await writeFile(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  return { project, installed };
}

/** Runs an ES module in `project` with the tests' Node and returns what it printed as JSON. */
async function runModule(project: string, source: string): Promise<unknown> {
  const file = join(project, "probe.mjs");
  await writeFile(file, source);
  const result = await runCli([file], { command: process.execPath, cwd: project, limitMs: LIMIT_MS });
  assertRan(result, "the probe module");
  return JSON.parse(result.stdout);
}

test("the packed package loads by its name: the main entry, the compat entry, and nothing behind them", async (t) => {
  const { project } = await installPacked(t);
  const name = JSON.stringify(PACKAGE.name);
  const deep = JSON.stringify(`${PACKAGE.name}/dist/src/client/install/layout.js`);
  const probe = await runModule(
    project,
    `const main = await import(${name});
const compat = await import(${name} + "/compat");
let deep;
try { await import(${deep}); deep = "loaded"; } catch (err) { deep = err.code; }
console.log(JSON.stringify({
  main: Object.keys(main).sort(),
  compat: Object.keys(compat).sort(),
  sameErrorClass: main.UpdraftError === compat.UpdraftError,
  updater: typeof main.Updater,
  autoupdate: typeof compat.Autoupdate,
  deep,
}));
`,
  );
  const { main, compat, sameErrorClass, updater, autoupdate, deep: deepImport } = probe as Record<string, unknown>;
  assert.equal(updater, "function");
  assert.equal(autoupdate, "function");
  for (const exported of ["Updater", "installFromRepository", "UpdraftError", "isUpdraftError", "ErrorCodes"]) {
    assert.ok((main as string[]).includes(exported), `main entry exports ${exported}`);
  }
  assert.ok(!(main as string[]).includes("Autoupdate"), "the python-autoupdate facade is only in the compat entry");
  for (const exported of ["Autoupdate", "UpdraftError", "isUpdraftError", "ErrorCodes"]) {
    assert.ok((compat as string[]).includes(exported), `compat entry exports ${exported}`);
  }
  assert.equal(sameErrorClass, true, "one UpdraftError class behind both entries, so instanceof holds across them");
  assert.equal(deepImport, "ERR_PACKAGE_PATH_NOT_EXPORTED");
});

test("a TypeScript consumer gets both entries' types through exports, and no internal module", async (t) => {
  const { project } = await installPacked(t);
  await linkDependency(join(project, "node_modules"), "@types/node");
  await writeFile(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        module: "NodeNext",
        moduleResolution: "NodeNext",
        target: "ES2023",
        strict: true,
        exactOptionalPropertyTypes: true,
        noEmit: true,
        skipLibCheck: true,
        types: ["node"],
      },
      files: ["consumer.ts"],
    }),
  );
  await writeFile(
    join(project, "consumer.ts"),
    `import { isUpdraftError, Updater, type UpdaterOptions, UpdraftError } from ${JSON.stringify(PACKAGE.name)};
import { Autoupdate, type AutoupdateOptions } from ${JSON.stringify(`${PACKAGE.name}/compat`)};
// @ts-expect-error: the install layout is internal, not exported
import type { InstallLayout } from ${JSON.stringify(`${PACKAGE.name}/dist/src/client/install/layout.js`)};

const options: UpdaterOptions = { installDir: "/opt/app" };
export const updater: Updater = new Updater(options);
const legacy: AutoupdateOptions = { appName: "App", currentVersion: "1.0.0", updateUrl: "https://example.com/" };
export const facade: Autoupdate = new Autoupdate(legacy);
export function codeOf(err: unknown): string | undefined {
  return isUpdraftError(err) || err instanceof UpdraftError ? err.code : undefined;
}
export type Unused = InstallLayout;
`,
  );
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  assertRan(
    await runCli([tsc, "-p", project], { command: process.execPath, cwd: project, limitMs: LIMIT_MS }),
    "tsc on the consumer",
  );
});

test("the package's `updraft` command runs and prints the package's version", async (t) => {
  const { installed } = await installPacked(t);
  const bin = PACKAGE.bin.updraft;
  assert.ok(bin, "package.json names an `updraft` command");
  const command = join(installed, bin);
  assert.match(await readFile(command, "utf8"), /^#!\/usr\/bin\/env node\n/, "npm links it as a node script");
  const result = await runCli([command, "--version"], { command: process.execPath, limitMs: LIMIT_MS });
  assertRan(result, "updraft --version");
  assert.equal(result.stdout.trim(), PACKAGE.version);
});

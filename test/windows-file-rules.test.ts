/**
 * Both install engines and recovery, run over a fake of the Windows file system rules
 * (test/helpers/fake-windows-fs.ts): a running program can be renamed but not deleted or
 * overwritten, nothing is renamed onto a folder link, a scanner holds new files for a while.
 * The versioned engine uses the Windows `current` pointer there (pointer file + junction). Each
 * engine is also killed at every file operation (the fake "dies" there) and recovered: the
 * install is exactly the old or the new version, and the running program is never deleted.
 */
import assert from "node:assert/strict";
import { cp, mkdir, readdir, readFile, readlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import type { ExtractStats } from "../src/client/artifacts/tar-zst.js";
import { type FileBusy, fileOps } from "../src/client/install/fs-ops.js";
import { installInPlace } from "../src/client/install/in-place.js";
import { type InstallLayout, installLayout } from "../src/client/install/layout.js";
import { junctionPointer, readCurrentVersion, switchCurrent, symlinkPointer } from "../src/client/install/pointer.js";
import { confirm, recoverTransaction } from "../src/client/install/recover.js";
import { readState, updateState } from "../src/client/install/state.js";
import { installRelease } from "../src/client/install/versioned.js";
import { ErrorCodes, isUpdraftError } from "../src/core/errors.js";
import { NATIVE_SCHEMA, type ReleaseManifest } from "../src/formats/native.js";
import { type FakeWindowsFileSystem, fakeWindowsFileSystem, SimulatedCrash } from "./helpers/fake-windows-fs.js";
import { tempDir } from "./helpers/tmp.js";

/** The files of one version of a small Windows app. */
const appFiles = (version: string): Record<string, string> => ({
  "app.exe": `app.exe ${version}\n`,
  "core.dll": `core.dll ${version}\n`,
  "data/version.txt": `${version}\n`,
  [`data/only-in-${version}.txt`]: "x\n",
});

/** A layout of `dir` whose file operations go through `fake` with a short budget, reporting pauses to `busy`. */
function layoutOver(dir: string, fake: FakeWindowsFileSystem, busy: FileBusy[] = [], budgetMs = 2_000): InstallLayout {
  return installLayout(dir, fileOps({ calls: fake, budgetMs, onBusy: (b) => busy.push(b) }));
}

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, ".."), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

/** Every file under `root` (relative POSIX path → content), `.updraft` left out. */
async function readTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const rel = join(entry.parentPath, entry.name)
      .slice(root.length + 1)
      .split("\\")
      .join("/");
    if (rel.startsWith(".updraft/")) continue;
    out[rel] = await readFile(join(root, rel), "utf8");
  }
  return out;
}

function manifestOf(version: string): ReleaseManifest {
  return {
    schema: NATIVE_SCHEMA,
    app: "win-app",
    version,
    channel: "stable",
    releasedAt: new Date(0).toISOString(),
    files: [],
    symlinks: [],
    artifacts: [],
  };
}

/** A producer that writes the files of `version` into the staging folder. */
const produce =
  (version: string) =>
  async (staging: string): Promise<ExtractStats> => {
    await writeTree(staging, appFiles(version));
    return { written: Object.keys(appFiles(version)).length, linked: 0 } as ExtractStats;
  };

/** A versioned install of 1.0.0 (Windows pointer) whose `app.exe` runs. */
async function versionedWindowsInstall(t: TestContext) {
  const dir = join(await tempDir(t), "install");
  const fake = fakeWindowsFileSystem();
  const layout = layoutOver(dir, fake);
  await mkdir(layout.stateDir, { recursive: true });
  await writeTree(layout.versionDir("1.0.0"), appFiles("1.0.0"));
  await switchCurrent(layout, "1.0.0");
  await updateState(layout, (s) => ({ ...s, mode: "versioned", current: "1.0.0" }));
  fake.running.add(join(layout.versionDir("1.0.0"), "app.exe").toLowerCase());
  return { dir, fake, layout };
}

/** What `current` shows (through the junction) and what the pointer file and state say. */
async function versionedView(layout: InstallLayout) {
  const version = await readCurrentVersion(layout);
  const tree = await readTree(layout.currentLink);
  const state = await readState(layout);
  return { version, tree, state: state.current };
}

test("Windows pointer: the truth is the pointer file, `current` a junction made from it, repaired by recovery", async (t) => {
  const { layout, fake } = await versionedWindowsInstall(t);
  assert.equal((await readFile(layout.currentPointerFile, "utf8")).trim(), "app-1.0.0");
  assert.equal(await readlink(layout.currentLink), layout.versionDir("1.0.0"), "a junction holds an absolute target");
  // A POSIX-style switch (a new link renamed onto `current`) is what Windows refuses.
  await writeTree(layout.versionDir("1.1.0"), appFiles("1.1.0"));
  const strict = installLayout(layout.dir, fileOps({ calls: fake, budgetMs: 0 }));
  await assert.rejects(symlinkPointer.write(strict, "app-1.1.0"), (err) => isUpdraftError(err, ErrorCodes.FILE_LOCKED));
  assert.equal(await readCurrentVersion(layout), "1.0.0");
  // A crash between the pointer file's replacement and the new junction: the file is the truth.
  fake.crashAtCall = fake.calls + 2; // the pointer file's rename passes, the junction's removal dies
  await assert.rejects(junctionPointer.write(layout, "app-1.1.0"), SimulatedCrash);
  fake.crashAtCall = undefined;
  assert.equal(await readCurrentVersion(layout), "1.1.0");
  assert.equal(await readlink(layout.currentLink), layout.versionDir("1.0.0"), "the junction is stale");
  await recoverTransaction(layout);
  assert.equal(await readlink(layout.currentLink), layout.versionDir("1.1.0"), "recovery made it again");
  assert.deepEqual(await readTree(layout.currentLink), appFiles("1.1.0"));
});

test("versioned engine on Windows rules: a scanner holding the new files is waited out and reported, the running version never touched", async (t) => {
  const { layout, fake } = await versionedWindowsInstall(t);
  const busy: FileBusy[] = [];
  const watched = layoutOver(layout.dir, fake, busy);
  // The scanner holds the new version's folder and the pointer file twice each.
  fake.hold.set(layout.versionDir("1.1.0"), 2);
  fake.hold.set(layout.currentPointerFile, 2);
  await installRelease(watched, manifestOf("1.1.0"), produce("1.1.0"), { checkSpace: false });
  assert.deepEqual(await versionedView(layout), { version: "1.1.0", tree: appFiles("1.1.0"), state: "1.1.0" });
  // Four refusals: one of them found the held folder gone on its retry, the other three were pauses.
  assert.equal(fake.refusals.length, 4, fake.refusals.join("\n"));
  assert.equal(busy.length, 3, `each pause was reported: ${JSON.stringify(busy)}`);
  assert.ok(busy.every((b) => b.errno === "EBUSY" && b.remainingMs >= 0 && b.delayMs > 0));
  assert.ok(busy.some((b) => b.path === layout.versionDir("1.1.0")));
  assert.deepEqual(
    busy.filter((b) => b.path === layout.currentPointerFile).map((b) => b.attempt),
    [1, 2],
  );
  // The running 1.0.0 was not touched: no refusal ever named it.
  assert.deepEqual(
    fake.refusals.filter((r) => r.includes("app.exe")),
    [],
  );
  assert.deepEqual(await readTree(layout.versionDir("1.0.0")), appFiles("1.0.0"));
});

test("versioned engine on Windows rules: pruning a version still running moves it aside, and a later run deletes it", async (t) => {
  const { layout, fake } = await versionedWindowsInstall(t);
  await installRelease(layout, manifestOf("1.1.0"), produce("1.1.0"), { checkSpace: false });
  await installRelease(layout, manifestOf("1.2.0"), produce("1.2.0"), { checkSpace: false });
  await confirm(layout); // keeps 1.2.0 and 1.1.0, prunes 1.0.0, whose app.exe still runs
  const names = () => readdir(layout.dir);
  const aside = (await names()).filter((n) => n.startsWith("app-1.0.0.old-"));
  assert.equal(aside.length, 1, `1.0.0 was moved aside: ${await names()}`);
  assert.ok(!(await names()).includes("app-1.0.0"));
  await recoverTransaction(layout);
  assert.equal((await names()).filter((n) => n.includes(".old-")).length, 1, "kept while it runs");
  fake.running.clear(); // the old app exits
  await recoverTransaction(layout);
  assert.deepEqual((await names()).filter((n) => n.startsWith("app-")).sort(), ["app-1.1.0", "app-1.2.0"]);
  assert.deepEqual(await versionedView(layout), { version: "1.2.0", tree: appFiles("1.2.0"), state: "1.2.0" });
});

test("versioned engine on Windows rules: killed at every file operation, recovery leaves exactly 1.0.0 or 1.1.0", async (t) => {
  const { dir } = await versionedWindowsInstall(t);
  const pristine = `${dir}-pristine`;
  await cp(dir, pristine, { recursive: true, verbatimSymlinks: true });
  const outcomes: string[] = [];
  for (let crashAt = 1; ; crashAt++) {
    const runDir = `${dir}-${crashAt}`;
    await cp(pristine, runDir, { recursive: true, verbatimSymlinks: true });
    const running = join(runDir, "app-1.0.0", "app.exe");
    const dying = fakeWindowsFileSystem([running]);
    dying.crashAtCall = crashAt;
    const completed = await installRelease(layoutOver(runDir, dying), manifestOf("1.1.0"), produce("1.1.0"), {
      checkSpace: false,
    }).then(
      () => true,
      (err: unknown) => {
        assert.ok(err instanceof SimulatedCrash || isUpdraftError(err), `${crashAt}: ${String(err)}`);
        return false;
      },
    );
    // The junction's absolute target moved with the copy: the next start's recovery finds it stale.
    const after = layoutOver(runDir, fakeWindowsFileSystem([running]));
    await recoverTransaction(after);
    const view = await versionedView(after);
    const which = view.version === "1.0.0" ? "1.0.0" : "1.1.0";
    assert.deepEqual(view, { version: which, tree: appFiles(which), state: which }, `crash at call ${crashAt}`);
    assert.deepEqual(await readTree(join(runDir, "app-1.0.0")), appFiles("1.0.0"), "the running version is intact");
    outcomes.push(`${crashAt}:${which}`);
    if (completed) break;
  }
  t.diagnostic(`file operations walked: ${outcomes.join(" ")}`);
  assert.ok(outcomes.length > 5);
  assert.ok(outcomes.some((o) => o.endsWith("1.0.0")) && outcomes.some((o) => o.endsWith("1.1.0")));
});

/** An in-place app folder with version 1.0.0 whose `app.exe` runs. */
async function inPlaceWindowsInstall(t: TestContext) {
  const work = await tempDir(t);
  const dir = join(work, "app");
  await writeTree(dir, appFiles("1.0.0"));
  const fake = fakeWindowsFileSystem([join(dir, "app.exe")]);
  const layout = layoutOver(dir, fake);
  await mkdir(layout.stateDir, { recursive: true });
  await updateState(layout, (s) => ({ ...s, mode: "in-place", current: "1.0.0" }));
  return { work, dir, fake, layout };
}

/** A release of `version` for the in-place engine, its files written under `work/src-version`. */
async function inPlaceRelease(work: string, version: string) {
  const src = join(work, `src-${version}`);
  await writeTree(src, appFiles(version));
  return {
    version,
    files: Object.keys(appFiles(version)).map((path) => ({ path, source: join(src, path) })),
    remove: [`data/only-in-1.0.0.txt`],
  };
}

test("in-place engine on Windows rules: the running app.exe is moved, never deleted; its copy is deleted once it exits", async (t) => {
  const { work, dir, fake, layout } = await inPlaceWindowsInstall(t);
  await installInPlace(layout, await inPlaceRelease(work, "1.1.0"));
  const expect11 = { ...appFiles("1.1.0") };
  assert.deepEqual(await readTree(dir), expect11);
  // The running program moved into the kept set, under its new name.
  const kept = join(layout.stateDir, "backup", "previous", "app.exe");
  assert.ok(fake.running.has(kept.toLowerCase()), [...fake.running].join());
  // The next update replaces the kept set: the running one cannot be deleted, so it is moved aside.
  await installInPlace(layout, { ...(await inPlaceRelease(work, "1.2.0")), remove: [] });
  assert.deepEqual(
    Object.keys(await readTree(dir)).sort(),
    Object.keys({ ...appFiles("1.2.0"), "data/only-in-1.1.0.txt": "" }).sort(),
  );
  const backups = await readdir(join(layout.stateDir, "backup"));
  assert.equal(backups.filter((n) => n.startsWith("previous.old-")).length, 1, backups.join());
  assert.ok(fake.refusals.some((r) => r.startsWith("EPERM unlink") && r.endsWith("app.exe")));
  fake.running.clear(); // the old app exits
  await recoverTransaction(layout);
  assert.deepEqual((await readdir(join(layout.stateDir, "backup"))).sort(), ["previous"]);
  assert.equal(await readFile(join(layout.stateDir, "leftovers.json"), "utf8").catch(() => "gone"), "gone");
});

test("in-place engine on Windows rules: killed at every file operation, recovery leaves exactly the old or the new set", async (t) => {
  const { work, dir } = await inPlaceWindowsInstall(t);
  const release = await inPlaceRelease(work, "1.1.0");
  const pristine = join(work, "pristine");
  await cp(dir, pristine, { recursive: true, verbatimSymlinks: true });
  const oldSet = appFiles("1.0.0");
  const newSet = { ...appFiles("1.1.0") };
  const outcomes: string[] = [];
  for (let crashAt = 1; ; crashAt++) {
    const runDir = join(work, `run-${crashAt}`);
    await cp(pristine, runDir, { recursive: true, verbatimSymlinks: true });
    const dying = fakeWindowsFileSystem([join(runDir, "app.exe")]);
    dying.crashAtCall = crashAt;
    const completed = await installInPlace(layoutOver(runDir, dying), release).then(
      () => true,
      (err: unknown) => {
        assert.ok(err instanceof SimulatedCrash || isUpdraftError(err), `${crashAt}: ${String(err)}`);
        return false;
      },
    );
    // The app may still run (it was renamed, not stopped): recovery works around it.
    const alive = fakeWindowsFileSystem(dying.running);
    await recoverTransaction(layoutOver(runDir, alive));
    const tree = await readTree(runDir);
    const which = isDeepEqual(tree, oldSet) ? "old" : isDeepEqual(tree, newSet) ? "new" : "MIXED";
    assert.notEqual(which, "MIXED", `crash at call ${crashAt}: ${JSON.stringify(tree)}`);
    outcomes.push(`${crashAt}:${which}`);
    if (completed) break;
  }
  t.diagnostic(`file operations walked: ${outcomes.join(" ")}`);
  assert.ok(outcomes.some((o) => o.endsWith("old")) && outcomes.some((o) => o.endsWith("new")));
});

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

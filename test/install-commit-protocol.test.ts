/**
 * The commit step both install engines share (src/client/install/commit.ts): the intent and the
 * probation are journalled before the engine's switch; a switch that fails is undone before its
 * commit point and finished after it; recovery settles an open journal the same way, and doing it
 * again after a crash changes nothing. The engine here switches by writing a marker file, the
 * simplest switch with a commit point on disk.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { type CommitEngine, commitInstall, journalIntent, settleCommit } from "../src/client/install/commit.js";
import { type InPlaceRelease, installInPlace, rollbackInPlace } from "../src/client/install/in-place.js";
import {
  type Journal,
  journalFile,
  readJournal,
  type VersionedJournal,
  writeJournal,
} from "../src/client/install/journal.js";
import { type InstallLayout, installLayout } from "../src/client/install/layout.js";
import type { ProbationPolicy } from "../src/client/install/probation.js";
import { type InstallState, readState } from "../src/client/install/state.js";
import { ErrorCodes, UpdraftError } from "../src/core/errors.js";
import { inPlaceAppAt100 } from "./helpers/installed.js";
import { tempDir } from "./helpers/tmp.js";

const CONFIRM: ProbationPolicy = { health: { kind: "confirm" }, timeoutMs: 60_000, maxLaunches: 3 };

/** An engine whose switch is a marker file naming the version switched to; it logs what the protocol asks of it. */
function markerEngine(layout: InstallLayout) {
  const marker = join(layout.dir, "switched-to");
  const calls: string[] = [];
  const engine: CommitEngine<VersionedJournal> = {
    isCommitted: async (_layout, journal) => (await readFile(marker, "utf8").catch(() => "")) === journal.to,
    async rollBack() {
      calls.push("rollBack");
      await rm(marker, { force: true });
    },
    async finish() {
      calls.push("finish");
    },
  };
  const switchTo = (to: string) => writeFile(marker, to);
  /** Commits `journal` with `switchOver` as the switch. */
  const commit = (journal: VersionedJournal, switchOver: () => Promise<void>) =>
    commitInstall(
      layout,
      engine,
      journal,
      async () => {
        await switchOver();
        return journal;
      },
      `Switching to ${journal.to}`,
    );
  return { commit, calls, engine, switchTo };
}

async function installedAt(t: TestContext, state: InstallState): Promise<InstallLayout> {
  const layout = installLayout(await tempDir(t));
  await mkdir(layout.stateDir, { recursive: true });
  await writeFile(layout.stateFile, JSON.stringify(state));
  return layout;
}

const journalTo = (to: string, from: string, policy?: ProbationPolicy): VersionedJournal => ({
  mode: "versioned",
  ...journalIntent(to, from, policy),
});

const fileExists = (path: string) =>
  readFile(path).then(
    () => true,
    () => false,
  );

test("a commit journals the intent and the probation before the switch, then records the state and closes the journal", async (t) => {
  const layout = await installedAt(t, { schema: 1, mode: "versioned", current: "1.0.0" });
  const { commit, calls, switchTo } = markerEngine(layout);
  let journalledBeforeSwitch: Journal | undefined;
  await commit(journalTo("1.1.0", "1.0.0", CONFIRM), async () => {
    journalledBeforeSwitch = await readJournal(layout);
    await switchTo("1.1.0");
  });
  assert.equal(journalledBeforeSwitch?.to, "1.1.0");
  assert.equal(journalledBeforeSwitch?.from, "1.0.0");
  assert.equal(journalledBeforeSwitch?.probation?.version, "1.1.0", "the probation is journalled with the intent");
  const state = await readState(layout);
  assert.equal(state.current, "1.1.0");
  assert.equal(state.previous, "1.0.0");
  assert.equal(state.probation?.version, "1.1.0");
  assert.equal(state.probation?.previous, "1.0.0");
  assert.deepEqual(calls, ["finish"]);
  assert.equal(await fileExists(journalFile(layout)), false, "the journal is closed");
});

test("a switch that fails before its commit point is undone, the state untouched, and reported as INSTALL_FAILED", async (t) => {
  const layout = await installedAt(t, { schema: 1, mode: "versioned", current: "1.0.0" });
  const before = await readFile(layout.stateFile, "utf8");
  const { commit, calls } = markerEngine(layout);
  await assert.rejects(
    commit(journalTo("1.1.0", "1.0.0"), async () => {
      throw new Error("the disk went away");
    }),
    (err: unknown) =>
      err instanceof UpdraftError &&
      err.code === ErrorCodes.INSTALL_FAILED &&
      err.message === "Switching to 1.1.0: the disk went away",
  );
  assert.deepEqual(calls, ["rollBack"]);
  assert.equal(await readFile(layout.stateFile, "utf8"), before, "the state is untouched");
  assert.equal(await fileExists(journalFile(layout)), false, "the journal is closed");
});

test("a switch that fails after its commit point is finished, then reported", async (t) => {
  const layout = await installedAt(t, { schema: 1, mode: "versioned", current: "1.0.0" });
  const { commit, calls, switchTo } = markerEngine(layout);
  await assert.rejects(
    commit(journalTo("1.1.0", "1.0.0"), async () => {
      await switchTo("1.1.0");
      throw new Error("syncing the folder failed");
    }),
    (err: unknown) => err instanceof UpdraftError && err.code === ErrorCodes.INSTALL_FAILED,
  );
  assert.deepEqual(calls, ["finish"], "past the commit point the install goes forward, never back");
  const state = await readState(layout);
  assert.equal(state.current, "1.1.0");
  assert.equal(state.previous, "1.0.0");
  assert.equal(await fileExists(journalFile(layout)), false);
});

test("recovery settles an open journal forward only past the commit point, and settling it again changes nothing", async (t) => {
  const layout = await installedAt(t, { schema: 1, mode: "versioned", current: "1.0.0" });
  const { engine, calls, switchTo } = markerEngine(layout);
  const journal = journalTo("1.1.0", "1.0.0", CONFIRM);

  await writeJournal(layout, journal);
  assert.equal(await settleCommit(layout, engine, journal), "rolled-back", "killed before the switch");
  assert.equal((await readState(layout)).current, "1.0.0");

  await writeJournal(layout, journal);
  await switchTo("1.1.0");
  assert.equal(await settleCommit(layout, engine, journal), "rolled-forward", "killed after the switch");
  const recorded = await readFile(layout.stateFile, "utf8");
  assert.equal((await readState(layout)).probation?.version, "1.1.0", "the journalled probation survives the crash");

  await writeJournal(layout, journal); // killed again before the journal was removed
  assert.equal(await settleCommit(layout, engine, journal), "rolled-forward");
  assert.equal(await readFile(layout.stateFile, "utf8"), recorded, "a state that matches the journal is left alone");
  assert.deepEqual(calls, ["rollBack", "finish", "finish"]);
  assert.equal(await fileExists(journalFile(layout)), false);
});

test("a reinstall of the current version keeps the version to go back to", async (t) => {
  const onProbation = { version: "1.1.0", previous: "1.0.0", health: "confirm", timeoutMs: 60_000 };
  const layout = await installedAt(t, {
    schema: 1,
    mode: "versioned",
    current: "1.1.0",
    previous: "1.0.0",
    probation: { ...onProbation, since: new Date().toISOString(), launches: 1, maxLaunches: 3 },
  });
  const { commit, switchTo } = markerEngine(layout);
  const journal = journalTo("1.1.0", "1.1.0", CONFIRM);
  assert.equal(journal.probation, undefined, "a reinstall opens no probation");
  await commit(journal, () => switchTo("1.1.0"));
  const state = await readState(layout);
  assert.equal(state.current, "1.1.0");
  assert.equal(state.previous, "1.0.0", "not the reinstalled version itself");
  assert.ok(state.installedAt !== undefined, "the reinstall is recorded");
});

test("an in-place reinstall of the current version keeps the older set to go back to", async (t) => {
  const { work, appDir, layout } = await inPlaceAppAt100(t);
  const release = async (version: string, text: string): Promise<InPlaceRelease> => {
    const source = join(work, `${version}-${text}.txt`);
    await writeFile(source, text);
    return { version, files: [{ path: "app.txt", source }] };
  };
  await installInPlace(layout, await release("1.1.0", "1.1.0"));
  await installInPlace(layout, await release("1.1.0", "1.1.0 repaired"));
  assert.equal(await readFile(join(appDir, "app.txt"), "utf8"), "1.1.0 repaired");
  assert.equal((await readState(layout)).previous, "1.0.0");
  assert.equal(await rollbackInPlace(layout), "1.0.0");
  assert.equal(await readFile(join(appDir, "app.txt"), "utf8"), "1.0.0", "the rollback puts back 1.0.0's files");
  assert.equal((await readState(layout)).current, "1.0.0");
});

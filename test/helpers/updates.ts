/** Shortcuts for tests that drive an `Updater` step by step. */
import assert from "node:assert/strict";
import type { Update, Updater } from "../../src/client/updater.js";

/** Checks, and returns the update the check found (failing the test when it found none). */
export async function availableUpdate(updater: Updater): Promise<Update> {
  const check = await updater.check();
  assert.ok(check.status === "available", `expected an update, the check says ${JSON.stringify(check)}`);
  return check.update;
}

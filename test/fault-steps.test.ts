/**
 * Every step at which the code can be stopped (src/core/fault.ts) is walked by a crash test: the
 * lists in test/helpers/fault-steps.ts hold exactly the steps the code calls, so a new step
 * without a test fails here.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FaultSteps, IN_PLACE_FILE_STEP_KINDS } from "../src/core/fault.js";
import { IN_PLACE_WALK_FILES, WALKED_STEPS } from "./helpers/fault-steps.js";
import { sourceCode, sourceFiles } from "./helpers/source-tree.js";

/** A per-file step stands for its kind: `in-place:swap-2` → `in-place:swap-<n>`. */
const perFileKind = (step: string) => step.replace(/-\d+$/, "-<n>");

/** The steps the code calls `faultPoint` with, per-file steps by kind; and any call whose step is not a constant. */
async function calledSteps(): Promise<{ steps: Set<string>; untyped: string[] }> {
  const named = FaultSteps as Readonly<Record<string, string>>;
  const steps = new Set<string>();
  const untyped: string[] = [];
  for (const file of await sourceFiles()) {
    const code = await sourceCode(file);
    const calls = code.matchAll(
      /(?<!function )faultPoint\((?:FaultSteps\.(\w+)|inPlaceFileStep\("(\w+)", \w+\)|([^)]*))\)/g,
    );
    for (const [call, constant, kind, other] of calls) {
      if (constant !== undefined && named[constant] !== undefined) steps.add(named[constant]);
      else if (kind !== undefined) steps.add(`in-place:${kind}-<n>`);
      else untyped.push(`${file}: ${call}${other === undefined ? " (unknown constant)" : ""}`);
    }
  }
  return { steps, untyped };
}

test("every fault step the code calls is walked by a test, and the tests walk no other", async () => {
  const { steps, untyped } = await calledSteps();
  assert.deepEqual(untyped, [], "every call names its step by a FaultSteps constant or inPlaceFileStep()");
  assert.ok(steps.size > 10, `fault steps found in the source: ${steps.size}`);
  const walked = new Set(WALKED_STEPS.map(perFileKind));
  assert.deepEqual([...walked].sort(), [...steps].sort());
});

test("every named step and every per-file kind is called somewhere", async () => {
  const { steps } = await calledSteps();
  const declared = [...Object.values(FaultSteps), ...IN_PLACE_FILE_STEP_KINDS.map((k) => `in-place:${k}-<n>`)];
  assert.deepEqual(
    declared.filter((s) => !steps.has(s)),
    [],
    "declared steps no code calls",
  );
});

test("the in-place walk stops at both per-file steps of each of its files", () => {
  for (let n = 1; n <= IN_PLACE_WALK_FILES; n++) {
    for (const kind of IN_PLACE_FILE_STEP_KINDS) assert.ok(WALKED_STEPS.includes(`in-place:${kind}-${n}`));
  }
});

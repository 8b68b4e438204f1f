#!/usr/bin/env node
/**
 * The `updraft` executable: checks that this Node can run Updraft, then loads the CLI. Like
 * ./runtime-check.ts it must stay parseable by old Node releases (nothing newer than Node 12),
 * since it runs before the check.
 *
 * Test hook: `UPDRAFT_TEST_NODE_VERSION=20.0.0` makes the check judge that version instead of the
 * running one (for machines without an old Node to run the launcher with).
 */
import { nodeSupported, SUPPORTED_NODE, wantsJson } from "./runtime-check.js";

const running = process.env.UPDRAFT_TEST_NODE_VERSION || process.versions.node;
if (nodeSupported(running)) {
  import("./main.js");
} else {
  const message = "updraft needs Node " + SUPPORTED_NODE + "; this is Node " + running + ".";
  const hint =
    "Install a supported Node (https://nodejs.org), or run updraft through npm in a project whose node_modules/.bin has one.";
  if (wantsJson(process.argv.slice(2))) {
    const error = {
      code: "UNSUPPORTED_RUNTIME",
      message: message,
      hint: hint,
      details: { node: running, required: SUPPORTED_NODE },
    };
    process.stdout.write(JSON.stringify({ ok: false, error: error }) + "\n");
  } else {
    process.stderr.write("updraft: error [UNSUPPORTED_RUNTIME]: " + message + "\n  hint: " + hint + "\n");
  }
  // The exit status of a configuration problem (ExitCodes.CONFIG), which this is.
  process.exitCode = 3;
}

/**
 * Runs one in-place install in its own process, so a test can SIGKILL it at a fault step:
 * `node inplace-driver.js APP_DIR VERSION SOURCE_DIR` installs every file of SOURCE_DIR into APP_DIR.
 */
import { readdir } from "node:fs/promises";
import { join, relative } from "node:path";
import { installInPlace } from "../../src/client/install/in-place.js";
import { installLayout } from "../../src/client/install/layout.js";

async function files(root: string, dir = root): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await files(root, full)));
    else out.push(relative(root, full).split("\\").join("/"));
  }
  return out.sort();
}

const [appDir, version, sourceDir] = process.argv.slice(2) as [string, string, string];
const list = await files(sourceDir);
const outcome = await installInPlace(
  installLayout(appDir),
  { version, files: list.map((path) => ({ path, source: join(sourceDir, path) })) },
  { probation: { health: { kind: "confirm" }, timeoutMs: 60_000, maxLaunches: 3 } },
);
process.stdout.write(`${JSON.stringify(outcome)}\n`);

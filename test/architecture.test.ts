/**
 * The folders are the architecture: the client never imports the publisher (nor the server),
 * formats import nothing but core, core imports no other layer.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(full)));
    else if (e.name.endsWith(".ts")) out.push(full);
  }
  return out;
}

/** Layers each layer may import (besides itself and packages). */
const ALLOWED: Record<string, string[]> = {
  core: [],
  formats: ["core"],
  publish: ["core", "formats"],
  client: ["core", "formats"],
  server: ["core"],
};

test("layers import only what they may", async () => {
  const files = await sourceFiles(SRC);
  assert.ok(files.length > 20, "source files found");
  const violations: string[] = [];
  for (const file of files) {
    const layer = relative(SRC, file).split("/")[0]!;
    const allowed = ALLOWED[layer];
    if (!allowed) continue;
    const text = await readFile(file, "utf8");
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
      const target = relative(SRC, join(file, "..", m[1]!)).split("/")[0]!;
      if (target !== layer && !allowed.includes(target)) violations.push(`${relative(SRC, file)} imports ${m[1]}`);
    }
  }
  assert.deepEqual(violations, []);
});

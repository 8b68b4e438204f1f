/** The TypeScript sources under src/, read by the tests that check the code's shape. */
import { readdir, readFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The src/ folder of the repository (the tests run from dist/test/). */
export const SRC = fileURLToPath(new URL("../../../src/", import.meta.url));

/** Every `.ts` file under src/, as a path relative to it with forward slashes, sorted. */
export async function sourceFiles(dir = SRC): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(full)));
    else if (e.name.endsWith(".ts")) out.push(relative(SRC, full).split(sep).join("/"));
  }
  return out.sort();
}

/** The text of `file` (relative to src/) without block comments and whole-line comments, whose examples may show code. */
export async function sourceCode(file: string): Promise<string> {
  const text = await readFile(join(SRC, file), "utf8");
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

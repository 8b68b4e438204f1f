/** Generated release pairs for the smoke benchmark: no download, a few hundred kilobytes. */
import { randomBytes } from "node:crypto";
import { mkdir, open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pseudoRandom, writeTree } from "../../test/helpers/trees.js";

function text(lines: number, seed: number, version: string): string {
  const words = ["const", "value", "return", "render", "state", "props", "=>", "if", "await", "export"];
  const bytes = pseudoRandom(lines * 6, seed);
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const line: string[] = [];
    for (let j = 0; j < 6; j++) line.push(words[bytes[i * 6 + j]! % words.length]!);
    out.push(i % 500 === 7 ? `// version ${version}` : `${line.join(" ")}; // ${i}`);
  }
  return `${out.join("\n")}\n`;
}

/** Writes one version of a small app: 40 modules, a content-hashed chunk, a binary. */
export async function writeSyntheticApp(dir: string, version: string): Promise<string> {
  const hash = Buffer.from(version).toString("hex").slice(0, 8);
  const files: Record<string, string | Buffer> = {
    "package.json": `{ "name": "smoke", "version": "${version}" }\n`,
    [`assets/chunk-${hash}.js`]: text(4000, 3, version),
    "bin/tool": pseudoRandom(100_000, 5),
  };
  for (let i = 0; i < 40; i++) files[`lib/module-${i}.js`] = text(200, 100 + i, i % 10 === 0 ? version : "1");
  return writeTree(dir, Object.fromEntries(Object.entries(files).map(([path, data]) => [path, { data }])));
}

/** Writes `bytes` of incompressible data to `path` in 16 MiB pieces (bounded memory). */
export async function writeRandomFile(path: string, bytes: number): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  const handle = await open(path, "w");
  try {
    for (let done = 0; done < bytes; ) {
      const n = Math.min(16 * 1024 * 1024, bytes - done);
      await handle.write(randomBytes(n));
      done += n;
    }
  } finally {
    await handle.close();
  }
}

/** Writes `count` files of a few bytes each in folders of 100 (a tree of tiny files); returns their bytes. */
export async function writeTinyFiles(dir: string, count: number): Promise<number> {
  let bytes = 0;
  for (let folder = 0; folder * 100 < count; folder++) {
    const sub = join(dir, `d${folder}`);
    await mkdir(sub, { recursive: true });
    const writes: Promise<void>[] = [];
    for (let i = folder * 100; i < Math.min(count, (folder + 1) * 100); i++) {
      const text = `${i}\n`;
      bytes += text.length;
      writes.push(writeFile(join(sub, `f${i}.txt`), text));
    }
    await Promise.all(writes);
  }
  return bytes;
}

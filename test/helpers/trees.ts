/**
 * Generated file trees, shared by the tests and the benchmark (bench/lib): deterministic bytes and
 * text, so a tree is the same on every run, and the writing of a tree to disk.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

/** Deterministic pseudo-random bytes (xorshift), so trees are the same on every run. */
export function pseudoRandom(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Text that compresses like source code: words drawn from a small vocabulary. */
export function pseudoText(lines: number, seed: number): string {
  const words = ["const", "value", "return", "function", "render", "state", "props", "=>", "{", "}", "if", "await"];
  const bytes = pseudoRandom(lines * 8, seed);
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const line: string[] = [];
    for (let j = 0; j < 8; j++) line.push(words[bytes[i * 8 + j]! % words.length]!);
    out.push(`${line.join(" ")}; // ${i}`);
  }
  return `${out.join("\n")}\n`;
}

/** One file of a tree: its bytes and its mode (default 0644). */
export interface TreeFile {
  data: string | Buffer;
  mode?: number;
}

/** Writes `files` (path with `/` → file) into `dir`, creating folders; returns `dir`. */
export async function writeTree(dir: string, files: Record<string, TreeFile>): Promise<string> {
  for (const [path, { data, mode }] of Object.entries(files)) {
    const full = join(dir, ...path.split("/"));
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, data, { mode: mode ?? 0o644 });
  }
  return dir;
}

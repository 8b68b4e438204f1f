/**
 * The folders are the architecture. Each unit of src/ (a top-level folder, or a room of the client)
 * may import only the units its row of {@link RULES} names; some rooms are entered through one door;
 * and no file reaches itself again through its imports.
 */
import assert from "node:assert/strict";
import { posix } from "node:path";
import { test } from "node:test";
import { sourceCode, sourceFiles } from "./helpers/source-tree.js";

/** A unit's rule: the units it may import besides itself, and why. */
interface LayerRule {
  readonly mayImport: readonly string[];
  readonly why: string;
}

/** Client files outside the rooms (the public entry, the orchestration, first install). */
const CLIENT_ROOT = "client";

/** The client's rooms a source may use (install only through its door, see {@link DOORS}). */
const ROOMS_UNDER_SOURCES = ["client/net", "client/trust", "client/artifacts", "client/install", "client/runtime"];

/**
 * The layer table. A unit absent from it (cli, demo) is an application on top and may import anything.
 * `client` is the client's root files (index.ts, updater.ts, first-install.ts): they orchestrate the rooms.
 */
const RULES: Readonly<Record<string, LayerRule>> = {
  core: { mayImport: [], why: "errors, fs, lock, version, hash: the base every layer stands on" },
  formats: { mayImport: ["core"], why: "pure parse and serialize" },
  publish: { mayImport: ["core", "formats", "events"], why: "the publisher never needs the client or the server" },
  events: {
    mayImport: ["core", "formats"],
    why: "the health events database: written by serve, read by the publisher",
  },
  dashboard: {
    mayImport: ["core", "formats", "events", "publish", "server"],
    why: "reads a repository, its logs and events; acts through the publisher; never the client",
  },
  server: {
    mayImport: ["core", "formats"],
    why: "serves what a repository publishes, as the formats name it; health reports go to a sink it is given",
  },
  "client/net": { mayImport: ["core"], why: "transport knows nothing of what it carries" },
  "client/trust": { mayImport: ["core", "formats", "client/net", "client/install"], why: "TUF over the transport" },
  "client/artifacts": {
    mayImport: ["core", "formats", "client/trust", "client/install"],
    why: "choosing, unpacking and patching artifacts; never downloads",
  },
  "client/install": {
    mayImport: ["core", "formats", "client/artifacts"],
    why: "the engines work on files already on disk and never touch the network",
  },
  "client/runtime": { mayImport: ["core", "formats", "client/install"], why: "restart helper, service, schedule" },
  "client/sources": {
    mayImport: ["core", "formats", ...ROOMS_UNDER_SOURCES],
    why: "each source fetches its own way and hands the engines a staged release",
  },
  [CLIENT_ROOT]: {
    mayImport: ["core", "formats", ...ROOMS_UNDER_SOURCES, "client/sources"],
    why: "orchestration over the rooms; never the publisher or the server",
  },
  mirror: {
    mayImport: ["core", "formats", "client/net", "client/trust", "publish"],
    why: "verifies like a client (net, trust) and writes like the publisher (its stores, through publish/remote)",
  },
  compat: {
    mayImport: ["core", "formats", CLIENT_ROOT, "client/net", "client/install", "client/sources"],
    why: "the python-autoupdate facade drives the legacy sources, like a source",
  },
};

/** Rooms entered only through one file, for importers outside the room. */
const DOORS: readonly { room: string; door: string; from: readonly string[] }[] = [
  {
    room: "client/install",
    door: "client/install/index.ts",
    from: ["client/sources", "compat"],
  },
  {
    room: "publish",
    door: "publish/remote/index.ts",
    from: ["mirror"],
  },
];

/** Where the public entry of the client lives: the only client root file compat may import. */
const CLIENT_PUBLIC_ENTRY = "client/index.ts";

/** A relative import in a source file. */
interface Edge {
  readonly from: string;
  readonly to: string;
  readonly specifier: string;
}

/** Every relative import (static, dynamic, re-export, type-only) of every file under src/. */
async function importGraph(): Promise<{ files: string[]; edges: Edge[] }> {
  const files = await sourceFiles();
  const edges: Edge[] = [];
  for (const from of files) {
    const code = await sourceCode(from);
    for (const m of code.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
      const specifier = m[1]!;
      const target = posix.join(posix.dirname(from), specifier).replace(/\.js$/, ".ts");
      edges.push({ from, to: target, specifier });
    }
  }
  return { files, edges };
}

/** The unit a file belongs to: `client/<room>` inside a client room, else its top-level folder. */
function unitOf(file: string): string {
  const [top, second, third] = file.split("/");
  if (top === "client" && third !== undefined) return `client/${second}`;
  return top!;
}

test("the graph covers the source tree", async () => {
  const { files, edges } = await importGraph();
  assert.ok(files.length > 100, `source files found: ${files.length}`);
  const known = new Set(files);
  const dangling = edges.filter((e) => !known.has(e.to)).map((e) => `${e.from} imports ${e.specifier}`);
  assert.deepEqual(dangling, [], "every relative import resolves to a source file");
  const units = new Set(files.map(unitOf));
  for (const unit of Object.keys(RULES)) assert.ok(units.has(unit), `the table names an existing unit: ${unit}`);
  for (const unit of units) {
    if (unit.startsWith("client/")) assert.ok(RULES[unit], `every room of the client has a row in the table: ${unit}`);
  }
});

test("each layer imports only what its row of the table allows", async () => {
  const { edges } = await importGraph();
  const violations: string[] = [];
  for (const { from, to, specifier } of edges) {
    const source = unitOf(from);
    const target = unitOf(to);
    const rule = RULES[source];
    if (!rule || target === source) continue;
    if (!rule.mayImport.includes(target)) violations.push(`${from} (${source}) imports ${specifier} (${target})`);
    else if (source === "compat" && target === CLIENT_ROOT && to !== CLIENT_PUBLIC_ENTRY)
      violations.push(`${from} imports ${specifier}: compat sees the client root only through ${CLIENT_PUBLIC_ENTRY}`);
  }
  assert.deepEqual(violations, []);
});

test("rooms with a door are entered only through it", async () => {
  const { edges } = await importGraph();
  const violations: string[] = [];
  for (const { from, to, specifier } of edges) {
    for (const { room, door, from: guarded } of DOORS) {
      if (guarded.includes(unitOf(from)) && unitOf(to) === room && to !== door)
        violations.push(`${from} imports ${specifier}: ${room} is entered through ${door}`);
    }
  }
  assert.deepEqual(violations, []);
});

/** One import cycle as a path of files (first file repeated at the end), or undefined when there is none. */
function findCycle(files: readonly string[], edges: readonly Edge[]): string[] | undefined {
  const next = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const e of edges) next.get(e.from)?.push(e.to);
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (file: string): string[] | undefined => {
    state.set(file, "open");
    path.push(file);
    for (const to of next.get(file) ?? []) {
      if (state.get(to) === "open") return [...path.slice(path.indexOf(to)), to];
      if (!state.has(to)) {
        const cycle = visit(to);
        if (cycle) return cycle;
      }
    }
    path.pop();
    state.set(file, "done");
    return undefined;
  };
  for (const file of files) {
    if (state.has(file)) continue;
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return undefined;
}

test("the cycle finder reports a cycle's path and accepts a tree", () => {
  const edge = (from: string, to: string): Edge => ({ from, to, specifier: to });
  assert.deepEqual(findCycle(["a", "b", "c"], [edge("a", "b"), edge("b", "c"), edge("c", "b")]), ["b", "c", "b"]);
  assert.equal(findCycle(["a", "b", "c"], [edge("a", "b"), edge("a", "c"), edge("b", "c")]), undefined);
});

test("no file reaches itself through its imports", async () => {
  const { files, edges } = await importGraph();
  const cycle = findCycle(files, edges);
  assert.equal(cycle?.join(" → "), undefined, "import cycle");
});

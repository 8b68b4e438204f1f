/**
 * The error table is the one place a code is defined: every code has a phase, a failing exit
 * status that the README documents, and one retry / resume / release-ban rule; every code the
 * sources use is in it and every code in it is used; the README's error-code table is the table.
 * On the real `updraft` executable: the exit status of a failure is its code's, and the flags that
 * steer Updraft's own retries (an untrusted encoding, a resumed file to rebuild) never reach `--json`.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { readdir, readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { installFromRepository } from "../src/client/first-install.js";
import { RETRYABLE_STATUSES } from "../src/client/net/retry.js";
import {
  ERRORS,
  type ErrorCode,
  ErrorCodes,
  type ErrorPhase,
  type ErrorSpec,
  ExitCodes,
  exitCodeFor,
  UpdraftError,
} from "../src/core/errors.js";
import { type CliResult, parseJson, runCli } from "./helpers/cli.js";
import { startFaultServer } from "./helpers/fault-server.js";
import { createTestRepo, publish } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));
const README = fileURLToPath(new URL("../../README.md", import.meta.url));
const DOCS = fileURLToPath(new URL("../../docs/", import.meta.url));
const TABLE_BEGIN = "<!-- error-codes:begin -->";
const TABLE_END = "<!-- error-codes:end -->";

/** Every phase, once: the compiler checks this list against {@link ErrorPhase}. */
const PHASES = {
  usage: true,
  config: true,
  publish: true,
  network: true,
  trust: true,
  download: true,
  install: true,
  process: true,
} as const satisfies Record<ErrorPhase, true>;

/** Names the internal flags have, or had when they still lived in `details`. */
const INTERNAL_FLAG_NAMES = ["internal", "retryable", "rebuild", "rebuildable", "damaged", "damagedJournal"];

const rows = Object.entries(ERRORS) as [ErrorCode, ErrorSpec][];

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** What Updraft does about a code on its own, in words for the README. */
function handling(spec: ErrorSpec): string {
  const steps: string[] = [];
  if (spec.retryable === true) steps.push("retried");
  if (spec.retryable === "by-status") steps.push(`retried on HTTP ${[...RETRYABLE_STATUSES].join(", ")}`);
  if (spec.resumable) steps.push("the same command resumes");
  if (spec.bansRelease) steps.push("the version is held back");
  return steps.length > 0 ? steps.join("; ") : "—";
}

/** The README's error-code table, as the error table says it must read. */
function renderTable(): string {
  const lines = ["| code | exit | phase | meaning | Updraft then |", "| --- | --- | --- | --- | --- |"];
  for (const [code, spec] of rows) {
    lines.push(`| \`${code}\` | ${spec.exit} | ${spec.phase} | ${spec.summary} | ${handling(spec)} |`);
  }
  return lines.join("\n");
}

test("every code has a phase, a failing exit status, a summary and one consistent rule", () => {
  assert.deepEqual(Object.keys(ErrorCodes), Object.keys(ERRORS));
  const failing = new Set<number>(Object.values(ExitCodes));
  failing.delete(ExitCodes.OK);
  failing.delete(ExitCodes.UPDATE_AVAILABLE);
  failing.delete(ExitCodes.UPDATE_REQUIRED);
  for (const [code, spec] of rows) {
    assert.equal(ErrorCodes[code], code);
    assert.ok(failing.has(spec.exit), `${code}: exit ${spec.exit} is not a failing status of ExitCodes`);
    assert.ok(Object.hasOwn(PHASES, spec.phase), `${code}: unknown phase ${spec.phase}`);
    assert.match(spec.summary, /^\S.*\.$/, `${code}: one sentence`);
    assert.doesNotMatch(spec.summary, /\|/, `${code}: the summary goes into a Markdown table`);
    if (spec.bansRelease) {
      // A broken release fails the same way every time: neither retrying nor resuming helps.
      assert.equal(spec.retryable, false, code);
      assert.equal(spec.resumable, false, code);
    }
  }
  // A user's mistake never looks like a bug.
  assert.deepEqual(
    rows.filter(([, spec]) => spec.exit === ExitCodes.INTERNAL).map(([code]) => code),
    [ErrorCodes.INTERNAL],
  );
});

test("every code the sources use is in the table, and every code in the table is used", async () => {
  const used = new Set<string>();
  for (const file of await sourceFiles(SRC)) {
    if (file.endsWith(join("core", "errors.ts"))) continue;
    const text = await readFile(file, "utf8");
    for (const m of text.matchAll(/ErrorCodes\.([A-Z_]+)/g)) used.add(m[1]!);
  }
  // The launcher must run on Nodes too old to load the CLI: it writes its one code as text.
  const launcher = await readFile(join(SRC, "cli", "updraft.ts"), "utf8");
  for (const m of launcher.matchAll(/code: "([A-Z_]+)"/g)) used.add(m[1]!);
  const table = new Set(Object.keys(ERRORS));
  assert.deepEqual([...used].filter((code) => !table.has(code)).sort(), [], "codes used but not in the table");
  assert.deepEqual([...table].filter((code) => !used.has(code)).sort(), [], "codes in the table nobody uses");
});

test("the README lists every exit status, and its error-code table is the error table", async () => {
  const readme = await readFile(README, "utf8");
  const exitSection = readme.slice(readme.indexOf("## CLI exit codes"));
  const exitRows = exitSection.slice(0, exitSection.indexOf("\n\n", exitSection.indexOf("| --- |")));
  const documented = [...exitRows.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1])).sort((a, b) => a - b);
  assert.deepEqual(
    documented,
    Object.values(ExitCodes).sort((a, b) => a - b),
  );

  const begin = readme.indexOf(TABLE_BEGIN);
  const end = readme.indexOf(TABLE_END);
  assert.ok(begin >= 0 && end > begin, `README.md needs the markers ${TABLE_BEGIN} and ${TABLE_END}`);
  const expected = renderTable();
  assert.equal(
    readme.slice(begin + TABLE_BEGIN.length, end).trim(),
    expected,
    `README.md's error-code table is out of date; between the markers it must read:\n${expected}\n`,
  );
});

test("where the README or docs name a code's exit status, it is the table's", async () => {
  const files = [README, ...(await readdir(DOCS)).filter((f) => f.endsWith(".md")).map((f) => join(DOCS, f))];
  const mentions: { file: string; code: string; exit: number }[] = [];
  for (const file of files) {
    const text = (await readFile(file, "utf8")).replace(/\s+/g, " ");
    for (const m of text.matchAll(/`([A-Z_]+)` \(exit (?:status )?(\d+)/g)) {
      mentions.push({ file, code: m[1]!, exit: Number(m[2]) });
    }
    for (const m of text.matchAll(/\(exit (?:status )?(\d+), `([A-Z_]+)`/g)) {
      mentions.push({ file, code: m[2]!, exit: Number(m[1]) });
    }
  }
  assert.ok(mentions.length > 0, "the docs name some codes with their exit status");
  for (const { file, code, exit } of mentions) {
    assert.ok(Object.hasOwn(ERRORS, code), `${file}: ${code} is not a code`);
    assert.equal(exit, exitCodeFor(code as ErrorCode), `${file}: ${code} exits with ${exitCodeFor(code as ErrorCode)}`);
  }
});

test("an error's internal flags steer Updraft but are neither serialised nor printed", () => {
  const error = new UpdraftError(ErrorCodes.TARGET_MISMATCH, "bad bytes", {
    details: { url: "http://127.0.0.1/x" },
    internal: { rebuildable: true, retryable: false },
  });
  assert.equal(error.internal.rebuildable, true);
  assert.equal(error.internal.retryable, false);
  assert.ok(!Object.keys(error).includes("internal"));
  for (const shown of [JSON.stringify(error), JSON.stringify(error.toJSON()), inspect(error)]) {
    assert.doesNotMatch(shown, /\b(?:rebuildable|retryable|internal)\]?"?:/, shown);
  }
  assert.deepEqual(new UpdraftError(ErrorCodes.NETWORK, "cut").internal, {});
});

/** The `error` of a failed run's one JSON document; checks the exit status is its code's. */
function failureOf(run: CliResult): { code: ErrorCode; details?: Record<string, unknown> } {
  const doc = parseJson(run);
  assert.equal(doc.ok, false, run.stdout);
  const error = doc.error as { code: ErrorCode; details?: Record<string, unknown> };
  assert.equal(run.code, exitCodeFor(error.code), `exit status of ${error.code}: ${run.stdout}${run.stderr}`);
  return error;
}

/** Every key of a JSON value, at any depth. */
function keysOf(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const item of value) keysOf(item, into);
  else if (value !== null && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      into.add(key);
      keysOf(inner, into);
    }
  }
  return into;
}

function assertNoInternalFlags(run: CliResult): void {
  const keys = keysOf(parseJson(run));
  assert.deepEqual(
    INTERNAL_FLAG_NAMES.filter((name) => keys.has(name)),
    [],
    `internal flags in --json: ${run.stdout}`,
  );
}

test("the CLI exits with its code's status: a usage error, an app not installed, an unsupported Node", async (t) => {
  const work = await tempDir(t);
  assert.equal(failureOf(await runCli(["check", "--dir", work, "--channel", "no channel", "--json"])).code, "USAGE");
  assert.equal(failureOf(await runCli(["check", "--dir", work, "--json"])).code, "NOT_INSTALLED");
  const old = await runCli(["check", "--dir", work, "--json"], { env: { UPDRAFT_TEST_NODE_VERSION: "20.0.0" } });
  assert.equal(failureOf(old).code, "UNSUPPORTED_RUNTIME");
});

test("a server answering in an encoding nobody can decode: NETWORK, not retried, and --json shows no internal flag", async (t) => {
  let requests = 0;
  const server = createServer((_req, res) => {
    requests++;
    res.writeHead(200, { "content-encoding": "x-unknown", "content-type": "application/json" });
    res.end("{}");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const work = await tempDir(t);
  const run = await runCli(["install", url, "--app", "hello", "--dir", join(work, "app"), "--json"]);
  const error = failureOf(run);
  assert.equal(error.code, ErrorCodes.NETWORK);
  assert.equal(error.details?.reason, "content-encoding");
  // The flag still does its work inside: one request, no retry.
  assert.equal(requests, 1);
  assertNoInternalFlags(run);
});

test("a resumed download that fails its hash: TARGET_MISMATCH, and --json shows no internal flag", async (t) => {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  await publish(repo, work, "1.0.0", { "bin/app": "#!/bin/sh\necho 1.0.0\n" });
  const server = await startFaultServer(t, repo.repoDir);
  const appDir = join(work, "app");
  await installFromRepository({ repoUrl: server.url, app: repo.app, installDir: appDir, rootSha256: repo.rootSha256 });
  await publish(repo, work, "1.1.0", { "bin/app": "#!/bin/sh\necho 1.1.0\n", "data.bin": randomBytes(300_000) });
  const archive = /1\.1\.0\/any\/[0-9a-f]{64}\.full\.tar\.zst$/;
  // The first response flips a byte and breaks off; the resume completes a file whose hash fails,
  // and every later response flips a byte too.
  server.addFault({ match: archive, fault: { kind: "reset", atByte: 150_000, flipAt: 100 }, times: 1 });
  server.addFault({ match: archive, fault: { kind: "flip", atByte: 100 } });
  const run = await runCli(["update", "--dir", appDir, "--json"]);
  assert.equal(failureOf(run).code, ErrorCodes.TARGET_MISMATCH);
  assert.ok(
    server.requests(archive).some((r) => r.range !== undefined),
    "the download was resumed",
  );
  assertNoInternalFlags(run);
});

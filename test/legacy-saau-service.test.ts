/**
 * Service mode, as SAAU updated Windows services: a real long-running process managed by a small
 * supervisor script (start waits until the service says it is ready, stop ends it). The update
 * stops the service, swaps the files, starts it; when the new version fails to start, the old
 * files come back and the old version is started again.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runShell } from "../src/client/runtime/service.js";
import { parseJson, runCli } from "./helpers/cli.js";
import { serveStatic } from "./helpers/publish-fixtures.js";
import { installByHand, publishByHand, type SaauFile } from "./helpers/saau.js";
import { tempDir } from "./helpers/tmp.js";

const SUPERVISOR = `#!/bin/sh
# A tiny service supervisor: "start" launches the service in the background and waits (at most
# 10 s) until it reports ready, failing if it exits first; "stop" ends it and waits (at most 5 s).
STATE="$SVC_STATE"
case "$1" in
  start)
    rm -f "$STATE/ready"
    sh "$SVC_APPDIR/service.sh" >> "$STATE/service.log" 2>&1 &
    echo $! > "$STATE/pid"
    i=0
    while [ $i -lt 100 ]; do
      [ -f "$STATE/ready" ] && exit 0
      kill -0 "$(cat "$STATE/pid")" 2>/dev/null || { echo "the service exited while starting" >&2; exit 1; }
      sleep 0.1
      i=$((i+1))
    done
    echo "the service did not become ready" >&2
    exit 1;;
  stop)
    [ -f "$STATE/pid" ] || exit 0
    pid="$(cat "$STATE/pid")"
    kill "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
    rm -f "$STATE/pid" "$STATE/ready"
    exit 0;;
esac
exit 2
`;

function serviceFiles(version: string, healthy = true): SaauFile[] {
  const body = healthy
    ? `#!/bin/sh
echo "${version}" >> "$SVC_STATE/report"
trap 'exit 0' TERM
touch "$SVC_STATE/ready"
while :; do sleep 0.1; done
`
    : `#!/bin/sh
echo "${version} crashed" >> "$SVC_STATE/report"
exit 3
`;
  return [
    { name: "service.sh", path: ".\\", content: body },
    { name: "config.ini", path: ".\\conf\\", content: `version=${version}\n` },
  ];
}

test("service mode: stop, swap, start; a new version that fails to start is rolled back and the old one restarted", async (t) => {
  const work = await tempDir(t);
  const appDir = join(work, "UniSMS");
  const state = join(work, "svc");
  const repo = join(work, "updates");
  const supervisor = join(work, "supervisor.sh");
  await writeFile(supervisor, SUPERVISOR);
  await mkdir(state);
  const env = { SVC_STATE: state, SVC_APPDIR: appDir };
  await installByHand(appDir, "10.0.1.0", serviceFiles("10.0.1.0"));
  const server = await serveStatic(repo);
  t.after(() => server.close());

  const sup = (cmd: string) =>
    runShell(`SVC_STATE='${state}' SVC_APPDIR='${appDir}' sh '${supervisor}' ${cmd}`, work, 20_000);
  assert.equal((await sup("start")).code, 0);
  t.after(async () => {
    await sup("stop");
  });
  const pidOf = async () => Number(await readFile(join(state, "pid"), "utf8"));
  const firstPid = await pidOf();

  const update = (extra: string[] = []) =>
    runCli(
      [
        "update",
        "--dir",
        appDir,
        "--saau",
        server.url,
        "--app",
        "TSPrint",
        "--service-stop",
        `sh '${supervisor}' stop`,
        "--service-start",
        `sh '${supervisor}' start`,
        "--json",
        ...extra,
      ],
      { env },
    );

  await publishByHand(repo, "10.0.2.0", serviceFiles("10.0.2.0"));
  const ok = await update();
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const r = parseJson(ok);
  assert.equal(r.updated, true);
  assert.deepEqual(r.service, { stopped: true, running: "new" });
  const secondPid = await pidOf();
  assert.notEqual(secondPid, firstPid, "a new service process runs");
  assert.doesNotThrow(() => process.kill(secondPid, 0));
  assert.equal(await readFile(join(appDir, "conf", "config.ini"), "utf8"), "version=10.0.2.0\n");

  await publishByHand(repo, "10.0.3.0", serviceFiles("10.0.3.0", false));
  const bad = await update();
  assert.equal(bad.code, 6, bad.stdout + bad.stderr);
  const err = parseJson(bad).error as { code: string; message: string };
  assert.equal(err.code, "SERVICE_FAILED");
  assert.match(
    err.message,
    /start command exited with 1.*previous files were put back and the previous version started again/,
  );
  // The 10.0.2.0 files are back, and 10.0.2.0 runs again as a service.
  assert.equal(await readFile(join(appDir, "conf", "config.ini"), "utf8"), "version=10.0.2.0\n");
  assert.match(await readFile(join(appDir, "service.sh"), "utf8"), /echo "10\.0\.2\.0"/);
  const thirdPid = await pidOf();
  assert.doesNotThrow(() => process.kill(thirdPid, 0));
  assert.deepEqual((await readFile(join(state, "report"), "utf8")).split("\n").filter(Boolean), [
    "10.0.1.0",
    "10.0.2.0",
    "10.0.3.0 crashed",
    "10.0.2.0",
  ]);

  // The failed version is backed off.
  const check = await runCli(["check", "--dir", appDir, "--saau", server.url, "--app", "TSPrint", "--json"]);
  assert.equal(check.code, 0);
  assert.equal((parseJson(check).skipped as { version: string }).version, "10.0.3.0");
});

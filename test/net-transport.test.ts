/**
 * Transport settings against real servers on 127.0.0.1: an HTTP proxy (CONNECT) chosen by option
 * or by HTTPS_PROXY/HTTP_PROXY/NO_PROXY, a custom CA bundle for an HTTPS repository, refusal of
 * an https → http redirect, the CLI's --allow-insecure-http, and scheduled background checks
 * (1 hour floor, jitter, stop function).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { readFile, readlink } from "node:fs/promises";
import { createServer, request as httpRequest } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { installFromRepository } from "../src/client/first-install.js";
import { bypassesProxy, proxyFor } from "../src/client/net/proxy.js";
import {
  DEFAULT_MIN_INTERVAL_MS,
  effectiveInterval,
  jitteredDelay,
  scheduleJittered,
} from "../src/client/runtime/schedule.js";
import { Updater } from "../src/client/updater.js";
import { ErrorCodes, UpdraftError } from "../src/core/errors.js";
import { parseJson, runCli } from "./helpers/cli.js";
import { startFaultServer } from "./helpers/fault-server.js";
import { createTestRepo, publish, type TestRepo, targetFilePath } from "./helpers/repo.js";
import { tempDir } from "./helpers/tmp.js";
import { waitUntil } from "./helpers/wait.js";

const files = (version: string) => ({ "bin/app": `#!/bin/sh\necho ${version}\n`, "data.txt": "x".repeat(5000) });

interface ProxyLog {
  method: string;
  target: string;
}

/** A minimal HTTP proxy: CONNECT tunnels and absolute-form GETs, every request logged. */
async function startProxy(t: TestContext): Promise<{ url: string; log: ProxyLog[] }> {
  const log: ProxyLog[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    log.push({ method: req.method ?? "", target: req.url ?? "" });
    const up = httpRequest(req.url ?? "", { method: req.method, headers: req.headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  server.on("connect", (req, client: Socket, head: Buffer) => {
    log.push({ method: "CONNECT", target: req.url ?? "" });
    const [host, port] = (req.url ?? "").split(":");
    const upstream = connect(Number(port), host!, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    sockets.add(client);
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(async () => {
    for (const s of sockets) s.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, log };
}

async function repoWithRelease(t: TestContext): Promise<{ repo: TestRepo; work: string }> {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  await publish(repo, work, "1.0.0", files("1.0.0"));
  return { repo, work };
}

test("NO_PROXY and proxy selection follow curl's rules", () => {
  const u = (s: string) => new URL(s);
  assert.equal(bypassesProxy(u("https://a.example.com/x"), ".example.com"), true);
  assert.equal(bypassesProxy(u("https://example.com/x"), "*.example.com"), true);
  assert.equal(bypassesProxy(u("https://badexample.com/x"), "example.com"), false);
  assert.equal(bypassesProxy(u("http://127.0.0.1:8080/"), "127.0.0.1:9090"), false);
  assert.equal(bypassesProxy(u("http://127.0.0.1:8080/"), "localhost, 127.0.0.1:8080"), true);
  assert.equal(bypassesProxy(u("https://x.org"), "*"), true);
  const env = { HTTPS_PROXY: "http://secure:1", http_proxy: "http://plain:2", NO_PROXY: "internal.lan" };
  assert.equal(proxyFor(u("https://x.org"), { env }), "http://secure:1");
  assert.equal(proxyFor(u("http://x.org"), { env }), "http://plain:2");
  assert.equal(proxyFor(u("https://pkg.internal.lan"), { env }), undefined);
  assert.equal(proxyFor(u("https://x.org"), { env, proxy: false }), undefined);
  assert.equal(proxyFor(u("https://x.org"), { env, proxy: "http://explicit:3" }), "http://explicit:3");
});

test("requests go through the proxy given as an option, or by HTTP_PROXY, and around it for NO_PROXY", async (t) => {
  const { repo, work } = await repoWithRelease(t);
  const server = await startFaultServer(t, repo.repoDir);
  const proxy = await startProxy(t);
  const target = new URL(server.url).host;

  const viaOption = join(work, "via-option");
  await installFromRepository({
    repoUrl: server.url,
    app: repo.app,
    installDir: viaOption,
    rootSha256: repo.rootSha256,
    proxy: proxy.url,
    env: {},
  });
  assert.equal(await readlink(join(viaOption, "current")), "app-1.0.0");
  assert.ok(proxy.log.length > 0, "the proxy carried the requests");
  assert.ok(proxy.log.every((l) => l.method === "CONNECT" && l.target === target));

  proxy.log.length = 0;
  const viaEnv = join(work, "via-env");
  await installFromRepository({
    repoUrl: server.url,
    app: repo.app,
    installDir: viaEnv,
    rootSha256: repo.rootSha256,
    env: { HTTP_PROXY: proxy.url },
  });
  assert.ok(proxy.log.length > 0, "HTTP_PROXY was used");

  proxy.log.length = 0;
  const direct = join(work, "direct");
  await installFromRepository({
    repoUrl: server.url,
    app: repo.app,
    installDir: direct,
    rootSha256: repo.rootSha256,
    env: { HTTP_PROXY: proxy.url, NO_PROXY: "127.0.0.1" },
  });
  assert.equal(proxy.log.length, 0, "NO_PROXY bypassed the proxy");

  // A proxy that is down fails as a network error, with nothing installed.
  await assert.rejects(
    installFromRepository({
      repoUrl: server.url,
      app: repo.app,
      installDir: join(work, "dead-proxy"),
      rootSha256: repo.rootSha256,
      proxy: "http://127.0.0.1:9",
      retry: { attempts: 1 },
    }),
    (e: unknown) => e instanceof UpdraftError && e.code === ErrorCodes.NETWORK,
  );
});

function makeCertificate(dir: string): { key: string; cert: string } | undefined {
  const key = join(dir, "server.key");
  const cert = join(dir, "server.pem");
  const r = spawnSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "2",
      "-subj",
      "/CN=Updraft test repository",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  if (r.status !== 0) return undefined;
  return { key, cert };
}

test("an HTTPS repository with a private CA: refused without the CA bundle, installed with it; no https→http redirect", async (t) => {
  const { repo, work } = await repoWithRelease(t);
  const paths = makeCertificate(work);
  if (!paths) {
    t.skip("openssl is not available to make a test certificate");
    return;
  }
  const tls = { key: await readFile(paths.key, "utf8"), cert: await readFile(paths.cert, "utf8") };
  const https = await startFaultServer(t, repo.repoDir, { tls });
  await assert.rejects(
    installFromRepository({
      repoUrl: https.url,
      app: repo.app,
      installDir: join(work, "no-ca"),
      rootSha256: repo.rootSha256,
    }),
    (e: unknown) =>
      e instanceof UpdraftError &&
      e.code === ErrorCodes.NETWORK &&
      e.internal.retryable === false &&
      e.details?.retryable === undefined &&
      /--ca-file/.test(e.hint ?? ""),
  );
  const appDir = join(work, "with-ca");
  await installFromRepository({
    repoUrl: https.url,
    app: repo.app,
    installDir: appDir,
    rootSha256: repo.rootSha256,
    caFile: paths.cert,
  });
  assert.equal(await readlink(join(appDir, "current")), "app-1.0.0");

  // A mirror redirecting the archive from https to plain http (even on loopback) is refused.
  await publish(repo, work, "1.1.0", files("1.1.0"));
  const plain = await startFaultServer(t, repo.repoDir);
  const archive = (await targetFilePath(repo, "releases/1.1.0/any/full.tar.zst")).slice(repo.repoDir.length);
  https.addFault({ match: /\.tar\.zst$/, fault: { kind: "redirect", to: `${plain.url}${archive}` } });
  await assert.rejects(
    new Updater({ installDir: appDir, caFile: paths.cert }).update(),
    (e: unknown) => e instanceof UpdraftError && e.code === ErrorCodes.INSECURE_TRANSPORT,
  );
  assert.equal(plain.log.length, 0, "nothing was fetched over plain http");
  assert.equal(await readlink(join(appDir, "current")), "app-1.0.0");
});

test("CLI: plain http to another host is refused (exit 5) unless --allow-insecure-http names the risk", async (t) => {
  const work = await tempDir(t);
  const refused = await runCli([
    "install",
    "http://192.0.2.1:9/repo",
    "--app",
    "hello",
    "--dir",
    join(work, "a"),
    "--json",
  ]);
  assert.equal(refused.code, 5, refused.stderr);
  assert.equal((parseJson(refused).error as { code: string }).code, "INSECURE_TRANSPORT");
  const allowed = await runCli([
    "install",
    "http://192.0.2.1:9/repo",
    "--app",
    "hello",
    "--dir",
    join(work, "b"),
    "--allow-insecure-http",
    "--stall-timeout",
    "0.3",
    "--retries",
    "0",
    "--json",
  ]);
  assert.equal(allowed.code, 4, allowed.stdout + allowed.stderr);
  assert.equal((parseJson(allowed).error as { code: string }).code, "NETWORK");
});

test("auto-check interval: 1 hour floor unless lowered on purpose, jitter both ways, never clock-aligned", () => {
  assert.equal(effectiveInterval(60_000), DEFAULT_MIN_INTERVAL_MS, "a minute is raised to the hour floor");
  assert.equal(effectiveInterval(6 * 3_600_000), 6 * 3_600_000);
  assert.equal(effectiveInterval(50, 10), 50, "an explicit lower floor is honoured");
  assert.throws(
    () => effectiveInterval(0),
    (e: unknown) => e instanceof UpdraftError && e.code === "USAGE",
  );
  const hour = 3_600_000;
  assert.equal(
    jitteredDelay(hour, 0.2, () => 0),
    hour * 0.8,
  );
  assert.equal(
    jitteredDelay(hour, 0.2, () => 0.5),
    hour,
  );
  assert.ok(jitteredDelay(hour, 0.2, () => 0.999_999) <= hour * 1.2);
  const delays = new Set(Array.from({ length: 20 }, () => jitteredDelay(hour, 0.2)));
  assert.ok(delays.size > 1, "random jitter");
});

test("a stopped schedule never runs its task again, also when stopped during a run", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  let runs = 0;
  let finishRun = () => {};
  const stop = scheduleJittered({ intervalMs: 1_000, minimumIntervalMs: 0, jitter: 0, firstDelayMs: 0 }, () => {
    runs++;
    return new Promise<void>((resolve) => {
      finishRun = resolve;
    });
  });
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  t.mock.timers.tick(0);
  assert.equal(runs, 1, "the first run starts after firstDelay");
  finishRun();
  await settle();
  t.mock.timers.tick(999);
  assert.equal(runs, 1, "the next run waits a whole interval after the previous one ended");
  t.mock.timers.tick(1);
  assert.equal(runs, 2);
  stop();
  finishRun();
  await settle();
  t.mock.timers.tick(10 * 3_600_000);
  assert.equal(runs, 2, "stopped during a run: no run after it");

  let later = 0;
  const stopIdle = scheduleJittered(
    { intervalMs: 1_000, minimumIntervalMs: 0, jitter: 0, firstDelayMs: 500 },
    async () => {
      later++;
    },
  );
  stopIdle();
  t.mock.timers.tick(10 * 3_600_000);
  assert.equal(later, 0, "stopped while waiting: the pending run never starts");
});

test("startAutoCheck runs checks in the background, reports updates through events, and stops", async (t) => {
  const { repo, work } = await repoWithRelease(t);
  const server = await startFaultServer(t, repo.repoDir);
  const appDir = join(work, "install");
  await installFromRepository({ repoUrl: server.url, app: repo.app, installDir: appDir, rootSha256: repo.rootSha256 });
  await publish(repo, work, "1.1.0", files("1.1.0"));
  const updater = new Updater({ installDir: appDir });
  let checks = 0;
  let settled = 0;
  const seen: string[] = [];
  updater.on("checking", () => checks++);
  updater.on("update-available", (u) => {
    seen.push(u.version);
    settled++;
  });
  updater.on("update-not-available", () => settled++);
  updater.on("error", () => settled++);
  const stop = updater.startAutoCheck({ interval: 20, minimumInterval: 10, firstDelay: 0 });
  await waitUntil(() => checks >= 3, "three background checks");
  stop();
  // That no check starts after stop() is proven on the scheduler itself, with a mocked clock (below).
  await waitUntil(() => settled === checks, "the check in flight to finish");
  assert.ok(seen.includes("1.1.0"));
  assert.equal(await readlink(join(appDir, "current")), "app-1.0.0", "auto-check does not install");
});

/**
 * `updraft serve --tls-cert --tls-key`: HTTPS with a certificate made by the test (its own CA,
 * with `openssl`), checked by clients that trust that CA and refused by those that do not.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { get } from "node:https";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { promisify } from "node:util";
import { createRepositoryServer } from "../src/server/index.js";
import { startCli } from "./helpers/cli.js";
import { PUBLISHED, startServer, writePublished } from "./helpers/server.js";
import { tempDir } from "./helpers/tmp.js";
import { waitUntil } from "./helpers/wait.js";

const run = promisify(execFile);

/** A CA and a certificate for 127.0.0.1 signed by it, in `dir` (PEM files). */
async function makeCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const file = (name: string): string => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    file("ca-key.pem"),
    "-out",
    file("ca.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=Updraft test CA",
  ]);
  await run("openssl", [
    "req",
    ...ec,
    "-keyout",
    file("server-key.pem"),
    "-out",
    file("server.csr"),
    "-subj",
    "/CN=127.0.0.1",
  ]);
  const extensions = file("san.cnf");
  await writePublished(dir, "san.cnf", "subjectAltName=IP:127.0.0.1\n");
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    file("server.csr"),
    "-CA",
    file("ca.pem"),
    "-CAkey",
    file("ca-key.pem"),
    "-CAcreateserial",
    "-out",
    file("server.pem"),
    "-days",
    "2",
    "-extfile",
    extensions,
  ]);
  return { ca: file("ca.pem"), cert: file("server.pem"), key: file("server-key.pem") };
}

/** GETs `url` over HTTPS trusting only `ca` (undefined: the system's CAs). */
function httpsGet(url: string, ca: Buffer | undefined): Promise<{ status: number; body: string; alpn: string }> {
  return new Promise((resolve, reject) => {
    get(url, { ...(ca === undefined ? {} : { ca }), agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, alpn: res.httpVersion }));
    }).on("error", reject);
  });
}

async function setup(t: TestContext) {
  const base = await tempDir(t);
  const root = join(base, "repo");
  await writePublished(root, PUBLISHED.timestamp, '{"tls":true}');
  const certs = await makeCertificates(base);
  return { root, certs, ca: await readFile(certs.ca) };
}

test("HTTPS with a test-made certificate: a client pinning the CA gets the file, others refuse the server", async (t) => {
  const { root, certs, ca } = await setup(t);
  const { url } = await startServer(t, root, {
    tls: { cert: await readFile(certs.cert), key: await readFile(certs.key) },
  });
  assert.match(url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  const res = await httpsGet(`${url}${PUBLISHED.timestamp}`, ca);
  assert.equal(res.status, 200);
  assert.equal(res.body, '{"tls":true}');
  assert.equal(res.alpn, "1.1");
  // Without the CA the certificate is not trusted.
  await assert.rejects(httpsGet(`${url}${PUBLISHED.timestamp}`, undefined), (err: NodeJS.ErrnoException) => {
    assert.match(err.code ?? "", /SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY/);
    return true;
  });
  // Plain HTTP on the HTTPS port gets nothing served.
  await assert.rejects(fetch(url.replace("https:", "http:") + PUBLISHED.timestamp));
});

test("a certificate that does not match its key is a USAGE error", async (t) => {
  const { root, certs } = await setup(t);
  const other = await makeCertificates(await tempDir(t));
  const server = (): ReturnType<typeof createRepositoryServer> =>
    createRepositoryServer({ root, tls: { cert: readFileSync(certs.cert), key: readFileSync(other.key) } });
  await assert.rejects(server().listen(), { code: "USAGE" });
  await assert.rejects(
    createRepositoryServer({ root, tls: { cert: "not a certificate", key: "nor a key" } }).listen(),
    { code: "USAGE" },
  );
});

test("updraft serve --tls-cert --tls-key prints an https URL and serves over TLS", async (t) => {
  const { root, certs, ca } = await setup(t);
  const serve = startCli(t, ["serve", root, "--port", "0", "--tls-cert", certs.cert, "--tls-key", certs.key]);
  await waitUntil(() => /Serving .* at https:\/\//.test(serve.stdout()), "serve to print its URL");
  const url = /at (https:\/\/\S+)/.exec(serve.stdout())![1]!;
  const res = await httpsGet(`${url}${PUBLISHED.timestamp}`, ca);
  assert.equal(res.body, '{"tls":true}');
  serve.child.kill("SIGTERM");
  assert.deepEqual(await serve.exited, { code: 0, signal: null });

  const half = startCli(t, ["serve", root, "--port", "0", "--tls-cert", certs.cert]);
  assert.equal((await half.exited).code, 2);
  assert.match(half.stderr(), /--tls-cert and --tls-key go together/);
});

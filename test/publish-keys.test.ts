import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, verify } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { isUpdraftError } from "../src/core/errors.js";
import { generateKeys, keyEnvVar, loadKeys, ROLES } from "../src/publish/index.js";
import { tempDir } from "./helpers/tmp.js";

const posix = process.platform !== "win32";

test("generateKeys writes PKCS#8 private keys (0600) and SPKI public keys in a 0700 folder", async (t) => {
  const dir = join(await tempDir(t), "keys");
  const generated = await generateKeys(dir);
  assert.equal(generated.dir, dir);
  assert.deepEqual(
    generated.keys.map((k) => k.role),
    [...ROLES],
  );
  if (posix) assert.equal((await stat(dir)).mode & 0o777, 0o700);
  for (const role of ROLES) {
    const priv = await readFile(join(dir, `${role}.key`), "utf8");
    const pub = await readFile(join(dir, `${role}.pub`), "utf8");
    assert.match(priv, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(pub, /^-----BEGIN PUBLIC KEY-----\n/);
    if (posix) assert.equal((await stat(join(dir, `${role}.key`))).mode & 0o777, 0o600);
  }
  const ids = new Set(generated.keys.map((k) => k.keyId));
  assert.equal(ids.size, 4, "each role has its own key");
});

test("generateKeys refuses to overwrite existing keys unless forced", async (t) => {
  const dir = await tempDir(t);
  const first = await generateKeys(dir);
  await assert.rejects(generateKeys(dir), (err) => {
    assert.ok(isUpdraftError(err, "USAGE"));
    assert.match(err.hint ?? "", /--force/);
    return true;
  });
  const second = await generateKeys(dir, { force: true });
  assert.notEqual(second.keys[0]!.keyId, first.keys[0]!.keyId);
});

test("loadKeys reads files; key ids follow TUF (sha256 of canonical key JSON) and signers verify", async (t) => {
  const dir = await tempDir(t);
  const generated = await generateKeys(dir);
  const keys = await loadKeys({ dir, env: {}, roles: ROLES });
  for (const role of ROLES) {
    const key = keys[role]!;
    assert.equal(key.keyId, generated.keys.find((k) => k.role === role)!.keyId);
    assert.match(key.publicHex, /^[0-9a-f]{64}$/);
    assert.deepEqual(key.tufKey.toJSON(), { keytype: "ed25519", scheme: "ed25519", keyval: { public: key.publicHex } });
    const canonical = `{"keytype":"ed25519","keyval":{"public":"${key.publicHex}"},"scheme":"ed25519"}`;
    assert.equal(key.keyId, createHash("sha256").update(canonical).digest("hex"));
    const data = Buffer.from("hello");
    const sig = key.signer(data);
    assert.equal(sig.keyID, key.keyId);
    const pem = await readFile(join(dir, `${role}.pub`), "utf8");
    assert.ok(verify(null, data, pem, Buffer.from(sig.sig, "hex")));
  }
});

test("environment variables override key files: PEM, PEM with \\n escapes, base64 of PEM", async (t) => {
  const fileDir = await tempDir(t);
  const envDir = await tempDir(t);
  await generateKeys(fileDir);
  const envKeys = await generateKeys(envDir);
  const pem = await readFile(join(envDir, "targets.key"), "utf8");
  const expected = envKeys.keys.find((k) => k.role === "targets")!.keyId;
  for (const value of [pem, pem.replace(/\n/g, "\\n"), Buffer.from(pem).toString("base64")]) {
    const keys = await loadKeys({
      dir: fileDir,
      env: { [keyEnvVar("targets")]: value },
      roles: ["targets", "snapshot"],
    });
    assert.equal(keys.targets!.keyId, expected);
    assert.match(keys.targets!.source, /UPDRAFT_TARGETS_KEY/);
    assert.match(keys.snapshot!.source, /snapshot\.key$/);
  }
});

test("a missing key is KEYS_MISSING naming the role, folder and variable; optional roles are skipped", async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(loadKeys({ dir, env: {}, roles: ["snapshot"] }), (err) => {
    assert.ok(isUpdraftError(err, "KEYS_MISSING"));
    assert.match(err.message, /snapshot/);
    assert.match(err.message, new RegExp(dir.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")));
    assert.match(err.message, /UPDRAFT_SNAPSHOT_KEY/);
    return true;
  });
  const keys = await loadKeys({ dir, env: {}, roles: [], optionalRoles: ["targets"] });
  assert.equal(keys.targets, undefined);
});

test("unreadable or non-ed25519 keys are KEY_INVALID and never echo key material", async (t) => {
  const dir = await tempDir(t);
  const secret = "-----BEGIN PRIVATE KEY-----\nTOTALLYSECRETGARBAGE\n-----END PRIVATE KEY-----\n";
  await writeFile(join(dir, "root.key"), secret);
  await assert.rejects(loadKeys({ dir, env: {}, roles: ["root"] }), (err) => {
    assert.ok(isUpdraftError(err, "KEY_INVALID"));
    assert.doesNotMatch(`${err.message} ${err.hint}`, /TOTALLYSECRET/);
    return true;
  });
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ecPem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  await assert.rejects(loadKeys({ dir, env: { UPDRAFT_ROOT_KEY: ecPem }, roles: ["root"] }), (err) => {
    assert.ok(isUpdraftError(err, "KEY_INVALID"));
    assert.match(err.message, /not ed25519/);
    return true;
  });
  await assert.rejects(loadKeys({ dir, env: { UPDRAFT_ROOT_KEY: "bm90IGEga2V5" }, roles: ["root"] }), (err) =>
    isUpdraftError(err, "KEY_INVALID"),
  );
});

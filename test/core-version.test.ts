/** One ordering for semver and dotted-numeric versions. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ErrorCodes, UpdraftError } from "../src/core/errors.js";
import { assertVersion, compareVersions, isValidVersion, maxVersion } from "../src/core/version.js";

test("semver versions order by precedence", () => {
  const sorted = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.10.0",
    "2.0.0",
  ];
  for (let i = 0; i < sorted.length - 1; i++) {
    assert.ok(compareVersions(sorted[i]!, sorted[i + 1]!) < 0, `${sorted[i]} < ${sorted[i + 1]}`);
    assert.ok(compareVersions(sorted[i + 1]!, sorted[i]!) > 0, `${sorted[i + 1]} > ${sorted[i]}`);
  }
});

test("dotted numeric versions (SAAU) order numerically, not as text", () => {
  assert.ok(compareVersions("10.0.2.0", "10.0.10.0") < 0);
  assert.ok(compareVersions("10.0.2.0", "9.9.9.9") > 0);
  assert.ok(compareVersions("10.0.2.1", "10.0.2.0") > 0);
  assert.equal(compareVersions("10.0.2", "10.0.2.0"), 0);
  assert.equal(compareVersions("1.2", "1.2.0"), 0);
});

test("mixed styles compare by their numbers", () => {
  assert.ok(compareVersions("1.2.3", "1.2.3.1") < 0);
  assert.ok(compareVersions("1.2.4-beta", "1.2.3.9") > 0);
  assert.ok(compareVersions("1.2.3-beta", "1.2.3.0") < 0);
});

test("maxVersion picks the highest", () => {
  assert.equal(maxVersion(["1.0.0", "10.0.0", "9.0.0", "10.0.0-rc.1"]), "10.0.0");
  assert.equal(maxVersion([]), undefined);
});

test("invalid versions are refused with VERSION_INVALID", () => {
  for (const bad of ["", "v1.0.0", "1.0.0.", "1..0", "latest", "1.0.0-", "01.2.3-x", "1.2.3.4.5.6.7"]) {
    assert.equal(isValidVersion(bad), false, bad);
    assert.throws(
      () => assertVersion(bad),
      (e: unknown) => e instanceof UpdraftError && e.code === ErrorCodes.VERSION_INVALID,
    );
  }
});

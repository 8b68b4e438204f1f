/** What a repository publishes: the allow-list, the kinds an access log counts, and the cache rule of each name. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { deltaTarget } from "../src/formats/delta.js";
import {
  channelTarget,
  fullArchiveTarget,
  manifestPatchTarget,
  manifestTarget,
  metadataPath,
  targetsPath,
} from "../src/formats/native.js";
import { CACHE_IMMUTABLE, CACHE_MUTABLE, cacheControlOf, classifyServedPath } from "../src/formats/served-paths.js";

const HASH = "0f".repeat(32);

/** The stored (consistent-snapshot) path of a target, as publish writes it. */
function stored(app: string, target: string): string {
  const slash = target.lastIndexOf("/");
  return `${targetsPath(app)}/${target.slice(0, slash + 1)}${HASH}.${target.slice(slash + 1)}`;
}

test("every name publish writes is classified, with its app, versions and cache rule", () => {
  const cases: [string, object][] = [
    [`${metadataPath("demo")}/timestamp.json`, { app: "demo", kind: "timestamp", immutable: false }],
    [`${metadataPath("demo")}/root.json`, { app: "demo", kind: "metadata", immutable: false }],
    [`${metadataPath("demo")}/3.root.json`, { app: "demo", kind: "metadata", immutable: true }],
    [`${metadataPath("demo")}/12.snapshot.json`, { app: "demo", kind: "metadata", immutable: true }],
    [stored("demo", channelTarget("beta")), { app: "demo", kind: "channel", channel: "beta", immutable: true }],
    [stored("demo", manifestTarget("1.2.0")), { app: "demo", kind: "manifest", version: "1.2.0", immutable: true }],
    [
      stored("demo", manifestPatchTarget("1.2.0", "1.1.0")),
      { app: "demo", kind: "manifest-patch", version: "1.2.0", from: "1.1.0", immutable: true },
    ],
    [
      stored("demo", fullArchiveTarget("demo", "1.2.0-rc.1")),
      { app: "demo", kind: "full", version: "1.2.0-rc.1", immutable: true },
    ],
    [
      stored("demo", deltaTarget("1.2.0", "1.1.0", "delta-files")),
      { app: "demo", kind: "delta", version: "1.2.0", from: "1.1.0", deltaKind: "delta-files", immutable: true },
    ],
    [
      stored("demo", manifestTarget("1.2.0", "linux-x64")),
      { app: "demo", kind: "manifest", version: "1.2.0", platform: "linux-x64", immutable: true },
    ],
    [
      stored("demo", fullArchiveTarget("demo", "1.2.0", "any")),
      { app: "demo", kind: "full", version: "1.2.0", platform: "any", immutable: true },
    ],
    [
      stored("demo", deltaTarget("1.2.0", "1.1.0", "delta-tree", "win32-arm64")),
      {
        app: "demo",
        kind: "delta",
        version: "1.2.0",
        from: "1.1.0",
        deltaKind: "delta-tree",
        platform: "win32-arm64",
        immutable: true,
      },
    ],
    [
      stored("demo", manifestPatchTarget("1.2.0", "1.1.0", "darwin-arm64")),
      {
        app: "demo",
        kind: "manifest-patch",
        version: "1.2.0",
        from: "1.1.0",
        platform: "darwin-arm64",
        immutable: true,
      },
    ],
    ["demo/versao.txt", { app: "demo", kind: "legacy-label", immutable: false }],
    ["demo/update.json", { app: "demo", kind: "legacy-label", immutable: false }],
    ["demo/demo_v1.0.0.zip", { app: "demo", kind: "legacy-archive", version: "1.0.0", immutable: false }],
  ];
  for (const [path, expected] of cases) {
    assert.deepEqual(classifyServedPath(path), expected, path);
    // A repository may lie in a subfolder of the served folder.
    assert.deepEqual(classifyServedPath(`updates/eu/${path}`), expected, `updates/eu/${path}`);
  }
  assert.equal(cacheControlOf(classifyServedPath(`${metadataPath("a")}/timestamp.json`)!), CACHE_MUTABLE);
  assert.equal(cacheControlOf(classifyServedPath(stored("a", manifestTarget("1.0.0")))!), CACHE_IMMUTABLE);
});

test("names a repository never publishes are not served", () => {
  for (const path of [
    "updraft-keys/root.key",
    "updraft-keys/root.pub",
    "demo/updraft-app.json",
    "demo/.publish.lock",
    "demo/metadata/root.key",
    "demo/metadata/timestamp.json.tmp",
    "demo/metadata/sub/1.root.json",
    "notes.txt",
    "demo",
    "demo/targets/channels/stable.json",
    `demo/targets/channels/${HASH}.Bad Channel.json`,
    `demo/targets/releases/1.0.0/${HASH}.other-1.0.0.tar.zst`,
    `demo/targets/releases/1.0.0/${HASH}.demo-1.0.1.tar.zst`,
    `demo/targets/releases/not-a-version/${HASH}.manifest.json`,
    `demo/targets/releases/1.0.0/${HASH}.build.log`,
    "demo/other_v1.0.0.zip",
    "demo/build/app.js",
  ]) {
    assert.equal(classifyServedPath(path), undefined, path);
  }
});

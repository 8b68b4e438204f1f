// Fails early, with a clear message, when the Node running the tests cannot run Updraft.
// Runs after the build: the supported range is the one the `updraft` launcher checks.
import zlib from "node:zlib";
import { nodeSupported, SUPPORTED_NODE } from "../dist/src/cli/runtime-check.js";

const ok = nodeSupported(process.versions.node);
const sample = Buffer.from("updraft dictionary probe ".repeat(40));
let dictionaryWorks = false;
if (typeof zlib.zstdCompressSync === "function") {
  const withDict = zlib.zstdCompressSync(Buffer.from("updraft dictionary probe x"), { dictionary: sample });
  const plain = zlib.zstdCompressSync(Buffer.from("updraft dictionary probe x"));
  dictionaryWorks = withDict.length < plain.length;
}
if (!ok || !dictionaryWorks) {
  console.error(
    `Node ${process.version} cannot run Updraft: it needs Node ${SUPPORTED_NODE} (zstd with dictionaries in node:zlib). ` +
      "Run through npm (npm test, npm run demo): `npm ci` installs a suitable Node into node_modules/.bin.",
  );
  process.exit(1);
}
console.log(`node ${process.version}: zstd with dictionary ok`);

// Fails early, with a clear message, when the Node running the tests cannot run Updraft.
import zlib from "node:zlib";

const [major, minor, patch] = process.versions.node.split(".").map(Number);
const ok =
  (major === 22 && (minor > 22 || (minor === 22 && patch >= 2))) || (major === 24 && minor >= 15) || major >= 26;
const sample = Buffer.from("updraft dictionary probe ".repeat(40));
let dictionaryWorks = false;
if (typeof zlib.zstdCompressSync === "function") {
  const withDict = zlib.zstdCompressSync(Buffer.from("updraft dictionary probe x"), { dictionary: sample });
  const plain = zlib.zstdCompressSync(Buffer.from("updraft dictionary probe x"));
  dictionaryWorks = withDict.length < plain.length;
}
if (!ok || !dictionaryWorks) {
  console.error(
    `Node ${process.version} cannot run Updraft: it needs Node ^22.22.2 || ^24.15.0 || >=26 (zstd with dictionaries in node:zlib). ` +
      "Run through npm (npm test, npm run demo): `npm ci` installs a suitable Node into node_modules/.bin.",
  );
  process.exit(1);
}
console.log(`node ${process.version}: zstd with dictionary ok`);

/**
 * SAAU's `versao.txt`: the seed's own TSPrint example parses as the seed describes it, line ends
 * and encodings seen in the wild are accepted, and each broken label is refused with a message
 * that names its line.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ErrorCodes, UpdraftError } from "../src/core/errors.js";
import { parseVersao, saauPathOf, saauZipName, writeVersao } from "../src/formats/versao.js";

/** The example of the seed's "versao.txt" section, verbatim. */
const TSPRINT = [
  "10.0.2.0",
  "11/02/2020",
  "tsprint_v10.0.2.0.zip",
  "count=4",
  "file1=TSPrint.exe|.\\",
  "file2=TSImgCap.exe|.\\",
  "file3=TSFingerCap_NIT.exe|.\\",
  "file4=TSFingerCap_GRI.exe|.\\",
];

test("the seed's TSPrint label parses line by line", () => {
  const label = parseVersao(TSPRINT.join("\r\n"));
  assert.equal(label.version, "10.0.2.0");
  assert.equal(label.date, "11/02/2020");
  assert.equal(label.zipName, "tsprint_v10.0.2.0.zip");
  assert.deepEqual(
    label.files.map((f) => [f.index, f.name, f.path, f.target, f.line]),
    [
      [1, "TSPrint.exe", ".\\", "TSPrint.exe", 5],
      [2, "TSImgCap.exe", ".\\", "TSImgCap.exe", 6],
      [3, "TSFingerCap_NIT.exe", ".\\", "TSFingerCap_NIT.exe", 7],
      [4, "TSFingerCap_GRI.exe", ".\\", "TSFingerCap_GRI.exe", 8],
    ],
  );
  assert.equal(saauZipName("TSPrint", "10.0.2.0"), label.zipName);
});

test("LF, CRLF, a UTF-8 BOM, trailing blank lines and Windows-1252 bytes are accepted", () => {
  const lf = parseVersao(TSPRINT.join("\n"));
  const crlf = parseVersao(`${TSPRINT.join("\r\n")}\r\n\r\n  \r\n`);
  const bom = parseVersao(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(TSPRINT.join("\r\n"))]));
  assert.deepEqual(crlf, lf);
  assert.deepEqual(bom, lf);
  const ansi = Buffer.from(
    ["1.0", "01/01/2021", "a_v1.0.zip", "count=1", "file1=Relat\xf3rio.exe|.\\"].join("\r\n"),
    "latin1",
  );
  assert.equal(parseVersao(ansi).files[0]!.name, "Relatório.exe");
});

test("sub-folder PATHs become POSIX targets; file keys in any order and case", () => {
  const label = parseVersao(
    [
      "2.0",
      "29/02/2024",
      "x_v2.0.zip",
      "count=3",
      "FILE3=c.dll|.\\lib\\x64\\",
      "file1=a.exe|.\\",
      "file2=b.cfg|conf",
    ].join("\n"),
  );
  assert.deepEqual(
    label.files.map((f) => f.target),
    ["a.exe", "conf/b.cfg", "lib/x64/c.dll"],
  );
  assert.equal(saauPathOf("lib/x64"), ".\\lib\\x64\\");
  assert.equal(saauPathOf(""), ".\\");
});

test("writeVersao writes what parseVersao reads, with CRLF", () => {
  const text = writeVersao({
    version: "10.0.2.0",
    date: new Date(Date.UTC(2020, 1, 11)),
    zipName: "tsprint_v10.0.2.0.zip",
    files: [
      { name: "TSPrint.exe" },
      { name: "TSImgCap.exe" },
      { name: "TSFingerCap_NIT.exe" },
      { name: "TSFingerCap_GRI.exe", folder: "" },
    ],
  });
  assert.equal(text, `${TSPRINT.join("\r\n")}\r\n`);
});

/** Each broken label and the message its error must carry. */
const BROKEN: { why: string; lines: string[]; message: RegExp; line: number }[] = [
  { why: "empty label", lines: [], message: /line 1: the version is missing/, line: 1 },
  {
    why: "bad version",
    lines: ["10.0.2.x", ...TSPRINT.slice(1)],
    message: /line 1: "10\.0\.2\.x" is not a version/,
    line: 1,
  },
  {
    why: "semver is not a SAAU version",
    lines: ["1.0.0-beta", ...TSPRINT.slice(1)],
    message: /line 1: .*dotted numbers/,
    line: 1,
  },
  {
    why: "date in another format",
    lines: replace(1, "2020-02-11"),
    message: /line 2: "2020-02-11" is not a date; write it as dd\/mm\/yyyy/,
    line: 2,
  },
  {
    why: "impossible date",
    lines: replace(1, "31/02/2020"),
    message: /line 2: "31\/02\/2020" is not a real date/,
    line: 2,
  },
  { why: "month 13", lines: replace(1, "11/13/2020"), message: /line 2: .*not a real date/, line: 2 },
  {
    why: "zip name with a folder",
    lines: replace(2, "..\\evil.zip"),
    message: /line 3: zip name "\.\.\\evil\.zip" holds a folder/,
    line: 3,
  },
  {
    why: "zip name not a zip",
    lines: replace(2, "tsprint.exe"),
    message: /line 3: zip name "tsprint\.exe" does not end in \.zip/,
    line: 3,
  },
  { why: "count missing", lines: TSPRINT.slice(0, 3), message: /line 4: count=N is missing/, line: 4 },
  {
    why: "count not a number",
    lines: replace(3, "count=four"),
    message: /line 4: count "four" is not a whole number/,
    line: 4,
  },
  { why: "count too high", lines: replace(3, "count=5"), message: /line 4: count=5 but file5 is missing/, line: 4 },
  { why: "count too low", lines: replace(3, "count=3"), message: /line 8: file4 is beyond count=3/, line: 8 },
  {
    why: "missing file2",
    lines: [
      ...TSPRINT.slice(0, 5),
      "file3=TSFingerCap_NIT.exe|.\\",
      "file4=TSFingerCap_GRI.exe|.\\",
      "file5=X.exe|.\\",
    ].map((l, i) => (i === 3 ? "count=5" : l)),
    message: /line 4: count=5 but file2 is missing/,
    line: 4,
  },
  {
    why: "repeated file2",
    lines: replace(6, "file2=Other.exe|.\\"),
    message: /line 7: file2 is listed twice \(first on line 6\)/,
    line: 7,
  },
  {
    why: "not a file line",
    lines: [...TSPRINT, "hello"],
    message: /line 9: expected fileK=NAME\|PATH, got "hello"/,
    line: 9,
  },
  {
    why: "blank line inside the list",
    lines: [...TSPRINT.slice(0, 6), "", ...TSPRINT.slice(6)],
    message: /line 7: blank line inside the file list/,
    line: 7,
  },
  {
    why: "no PATH",
    lines: replace(4, "file1=TSPrint.exe"),
    message: /line 5: expected NAME\|PATH after file1=/,
    line: 5,
  },
  { why: "empty name", lines: replace(5, "file2=|.\\"), message: /line 6: empty file name/, line: 6 },
  {
    why: "name with a folder",
    lines: replace(5, "file2=sub\\TSImgCap.exe|.\\"),
    message: /line 6: file name "sub\\TSImgCap\.exe" holds a folder/,
    line: 6,
  },
  {
    why: "PATH with ..",
    lines: replace(5, "file2=TSImgCap.exe|..\\"),
    message: /line 6: PATH "\.\.\\" leaves the app folder/,
    line: 6,
  },
  {
    why: "PATH with .. deeper",
    lines: replace(5, "file2=TSImgCap.exe|.\\sub\\..\\..\\"),
    message: /line 6: PATH .* leaves the app folder/,
    line: 6,
  },
  {
    why: "drive letter",
    lines: replace(5, "file2=TSImgCap.exe|C:\\Windows\\"),
    message: /line 6: PATH "C:\\Windows\\" has a drive letter/,
    line: 6,
  },
  {
    why: "UNC path",
    lines: replace(5, "file2=TSImgCap.exe|\\\\server\\share\\"),
    message: /line 6: PATH "\\\\server\\share\\" is a network \(UNC\) path/,
    line: 6,
  },
  {
    why: "absolute path",
    lines: replace(5, "file2=TSImgCap.exe|\\Windows\\"),
    message: /line 6: PATH "\\Windows\\" is absolute/,
    line: 6,
  },
  { why: "reserved name", lines: replace(5, "file2=aux.txt|.\\"), message: /line 6: .*reserved on Windows/, line: 6 },
  { why: "alternate data stream", lines: replace(5, "file2=a.exe:evil|.\\"), message: /line 6: .*':'/, line: 6 },
  {
    why: "same name in two folders",
    lines: replace(5, "file2=TSPrint.exe|.\\sub\\"),
    message: /line 6: "TSPrint\.exe" is already listed on line 5; a SAAU zip holds every file at its root/,
    line: 6,
  },
  {
    why: "same file twice (case-insensitive)",
    lines: replace(5, "file2=tsprint.EXE|.\\"),
    message: /line 6: "tsprint\.EXE" is already listed on line 5/,
    line: 6,
  },
];

function replace(index: number, text: string): string[] {
  return TSPRINT.map((l, i) => (i === index ? text : l));
}

for (const c of BROKEN) {
  test(`versao.txt refused: ${c.why}`, () => {
    assert.throws(
      () => parseVersao(c.lines.join("\r\n")),
      (err: unknown) => {
        assert.ok(err instanceof UpdraftError, String(err));
        assert.equal(err.code, ErrorCodes.LABEL_INVALID);
        assert.match(err.message, c.message);
        assert.match(err.message, /^Invalid versao\.txt, line \d+: /);
        assert.equal(err.details?.line, c.line);
        assert.ok(err.hint);
        return true;
      },
    );
  });
}

test("a label error after line 1 carries the version, so the attempt can be recorded", () => {
  try {
    parseVersao(replace(3, "count=7").join("\n"));
    assert.fail("should throw");
  } catch (err) {
    assert.ok(err instanceof UpdraftError);
    assert.equal(err.details?.version, "10.0.2.0");
  }
});

test("writeVersao refuses two files of the same name, naming the line", () => {
  assert.throws(
    () =>
      writeVersao({
        version: "1.0",
        date: "01/01/2021",
        zipName: "a_v1.0.zip",
        files: [{ name: "a.dll" }, { name: "a.dll", folder: "x" }],
      }),
    /line 6: "a\.dll" is already listed on line 5/,
  );
});

test("any input either parses or fails with LABEL_INVALID (property)", async () => {
  const fc = (await import("fast-check")).default;
  const line = fc.oneof(
    fc.string(),
    fc.constantFrom("10.0.2.0", "11/02/2020", "a_v1.zip", "count=2", "file1=a.exe|.\\", "file2=b|..\\", "file1=x|C:\\"),
  );
  fc.assert(
    fc.property(fc.array(line, { maxLength: 12 }), fc.constantFrom("\n", "\r\n"), (lines, eol) => {
      try {
        parseVersao(lines.join(eol));
      } catch (err) {
        return err instanceof UpdraftError && err.code === ErrorCodes.LABEL_INVALID;
      }
      return true;
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        parseVersao(bytes);
      } catch (err) {
        return err instanceof UpdraftError && err.code === ErrorCodes.LABEL_INVALID;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
});

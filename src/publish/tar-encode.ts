/**
 * The ustar encoding of the full archive's entries, byte for byte what `tar-stream` writes for
 * the same headers (ustar, a pax header for names that do not fit or are not ASCII), done here so
 * the archive writer knows where every entry starts and can choose each section's compression.
 */

/** The fixed fields of every entry (docs/format.md). */
export interface TarEntryHeader {
  name: string;
  type: "file" | "symlink";
  mode: number;
  size: number;
  linkname?: string;
}

/** The two zero blocks that end a tar. */
export const TAR_END = Buffer.alloc(1024);

const TYPEFLAG = { file: 0, symlink: 2, pax: 72 } as const;

function octal(value: number, digits: number): string {
  const text = value.toString(8);
  return text.length > digits ? `${"7".repeat(digits)} ` : `${text.padStart(digits, "0")} `;
}

function ustarBlock(header: { name: string; typeflag: number; mode: number; size: number; linkname?: string }) {
  let name = header.name;
  let prefix = "";
  if (Buffer.byteLength(name) !== name.length) return undefined;
  while (name.length > 100) {
    const slash = name.indexOf("/");
    if (slash === -1) return undefined;
    prefix += prefix ? `/${name.slice(0, slash)}` : name.slice(0, slash);
    name = name.slice(slash + 1);
  }
  if (name.length > 100 || prefix.length > 155) return undefined;
  if (header.linkname !== undefined && Buffer.byteLength(header.linkname) > 100) return undefined;
  const block = Buffer.alloc(512);
  block.write(name, 0);
  block.write(octal(header.mode & 0o7777, 6), 100);
  block.write(octal(0, 6), 108);
  block.write(octal(0, 6), 116);
  if (header.size.toString(8).length > 11) {
    block[124] = 0x80;
    let n = header.size;
    for (let i = 11; i > 0; i--) {
      block[124 + i] = n & 0xff;
      n = Math.floor(n / 0x100);
    }
  } else block.write(octal(header.size, 11), 124);
  block.write(octal(0, 11), 136);
  block[156] = 0x30 + header.typeflag;
  if (header.linkname) block.write(header.linkname, 157);
  block.write("ustar\u000000", 257, "latin1");
  block.write(octal(0, 6), 329);
  block.write(octal(0, 6), 337);
  if (prefix) block.write(prefix, 345);
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += block[i]!;
  for (let i = 156; i < 512; i++) sum += block[i]!;
  block.write(octal(sum, 6), 148);
  return block;
}

function paxRecord(text: string): string {
  const length = Buffer.byteLength(text);
  let digits = Math.floor(Math.log10(length)) + 1;
  if (length + digits >= 10 ** digits) digits++;
  return `${length + digits}${text}`;
}

/** Zero bytes that pad `size` bytes of data to a whole 512-byte block. */
export function tarPadding(size: number): Buffer {
  const rest = size & 511;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(512 - rest);
}

/** The header block(s) of one entry: one ustar block, or a pax header, its data and the ustar block. */
export function encodeTarHeader(header: TarEntryHeader): Buffer {
  const typeflag = TYPEFLAG[header.type];
  const plain = ustarBlock({ ...header, typeflag });
  if (plain) return plain;
  const pax = Buffer.from(
    paxRecord(` path=${header.name}\n`) + (header.linkname ? paxRecord(` linkpath=${header.linkname}\n`) : ""),
  );
  const link = header.linkname ? { linkname: "PaxHeader" } : {};
  const paxBlock = ustarBlock({
    name: "PaxHeader",
    typeflag: TYPEFLAG.pax,
    mode: header.mode,
    size: pax.length,
    ...link,
  });
  const entryBlock = ustarBlock({ name: "PaxHeader", typeflag, mode: header.mode, size: header.size, ...link });
  return Buffer.concat([paxBlock!, pax, tarPadding(pax.length), entryBlock!]);
}

/**
 * bsdiff (Colin Percival's algorithm, as in bsdiff 4.3) in TypeScript: a suffix array of the old
 * image (Larsson–Sadakane qsufsort), then a scan of the new image for approximate matches. The
 * result is three streams — control triples, byte-wise differences against the old image, and
 * extra bytes — that compress well because the differences are mostly zero (executables whose
 * addresses shifted). The client applies it with plain arithmetic, no native addon.
 */
import { pushVarint, zigzag } from "../../formats/delta.js";

/** The three bsdiff streams, uncompressed. */
export interface BsdiffStreams {
  /** Varint triples: add length, copy length, zigzag(seek). */
  ctrl: Buffer;
  /** `add` bytes per triple: new minus old, modulo 256. */
  diff: Buffer;
  /** `copy` bytes per triple: taken as is. */
  extra: Buffer;
}

/** Sorts the suffixes of `old`: returns I with I[rank] = position (length old.length + 1). */
export function suffixArray(old: Uint8Array): Int32Array {
  const n = old.length;
  const I = new Int32Array(n + 1);
  const V = new Int32Array(n + 1);
  const buckets = new Int32Array(256);
  for (let i = 0; i < n; i++) buckets[old[i]!]!++;
  for (let i = 1; i < 256; i++) buckets[i]! += buckets[i - 1]!;
  for (let i = 255; i > 0; i--) buckets[i] = buckets[i - 1]!;
  buckets[0] = 0;
  for (let i = 0; i < n; i++) I[++buckets[old[i]!]!] = i;
  I[0] = n;
  for (let i = 0; i < n; i++) V[i] = buckets[old[i]!]!;
  V[n] = 0;
  for (let i = 1; i < 256; i++) if (buckets[i] === buckets[i - 1]! + 1) I[buckets[i]!] = -1;
  I[0] = -1;
  for (let h = 1; I[0] !== -(n + 1); h += h) {
    let len = 0;
    let i = 0;
    while (i < n + 1) {
      if (I[i]! < 0) {
        len -= I[i]!;
        i -= I[i]!;
      } else {
        if (len) I[i - len] = -len;
        len = V[I[i]!]! + 1 - i;
        split(I, V, i, len, h);
        i += len;
        len = 0;
      }
    }
    if (len) I[i - len] = -len;
  }
  for (let i = 0; i < n + 1; i++) I[V[i]!] = i;
  return I;
}

/** qsufsort's ternary split, with an explicit stack instead of recursion (bounded by the input). */
function split(I: Int32Array, V: Int32Array, start0: number, len0: number, h: number): void {
  const stack: number[] = [start0, len0];
  while (stack.length > 0) {
    const len = stack.pop()!;
    const start = stack.pop()!;
    if (len < 16) {
      for (let k = start; k < start + len; ) {
        let j = 1;
        let x = V[I[k]! + h]!;
        for (let i = 1; k + i < start + len; i++) {
          const v = V[I[k + i]! + h]!;
          if (v < x) {
            x = v;
            j = 0;
          }
          if (v === x) {
            const tmp = I[k + j]!;
            I[k + j] = I[k + i]!;
            I[k + i] = tmp;
            j++;
          }
        }
        for (let i = 0; i < j; i++) V[I[k + i]!] = k + j - 1;
        if (j === 1) I[k] = -1;
        k += j;
      }
      continue;
    }
    const x = V[I[start + (len >> 1)]! + h]!;
    let jj = 0;
    let kk = 0;
    for (let i = start; i < start + len; i++) {
      const v = V[I[i]! + h]!;
      if (v < x) jj++;
      if (v === x) kk++;
    }
    jj += start;
    kk += jj;
    let i = start;
    let j = 0;
    let k = 0;
    while (i < jj) {
      const v = V[I[i]! + h]!;
      if (v < x) i++;
      else if (v === x) {
        const tmp = I[i]!;
        I[i] = I[jj + j]!;
        I[jj + j] = tmp;
        j++;
      } else {
        const tmp = I[i]!;
        I[i] = I[kk + k]!;
        I[kk + k] = tmp;
        k++;
      }
    }
    while (jj + j < kk) {
      if (V[I[jj + j]! + h] === x) j++;
      else {
        const tmp = I[jj + j]!;
        I[jj + j] = I[kk + k]!;
        I[kk + k] = tmp;
        k++;
      }
    }
    // The middle (equal) part is final for this h: record its group, then sort the others.
    for (let m = 0; m < kk - jj; m++) V[I[jj + m]!] = kk - 1;
    if (jj === kk - 1) I[jj] = -1;
    if (start + len > kk) stack.push(kk, start + len - kk);
    if (jj > start) stack.push(start, jj - start);
  }
}

function matchLength(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number): number {
  const max = Math.min(a.length - aStart, b.length - bStart);
  let i = 0;
  while (i < max && a[aStart + i] === b[bStart + i]) i++;
  return i;
}

/** Longest match of `neu[scan…]` among the suffixes of `old`, by binary search over `I`. */
function search(I: Int32Array, old: Buffer, neu: Buffer, scan: number): { pos: number; len: number } {
  let st = 0;
  let en = old.length;
  while (en - st >= 2) {
    const x = st + ((en - st) >> 1);
    const ox = I[x]!;
    const n = Math.min(old.length - ox, neu.length - scan);
    if (old.compare(neu, scan, scan + n, ox, ox + n) < 0) st = x;
    else en = x;
  }
  const x = matchLength(old, I[st]!, neu, scan);
  const y = matchLength(old, I[en]!, neu, scan);
  return x > y ? { pos: I[st]!, len: x } : { pos: I[en]!, len: y };
}

/**
 * Computes the bsdiff streams turning `old` into `neu`. `onProgress` receives bytes of `neu`
 * scanned so far; `index` is `suffixArray(old)` when the caller already has it (chunks of one
 * large file share their reference). Time is O(n log n) for the suffix sort plus the scan; memory about 8 bytes per
 * old byte plus the new image.
 */
export function bsdiff(
  old: Buffer,
  neu: Buffer,
  onProgress?: (scanned: number) => void,
  index: Int32Array = suffixArray(old),
): BsdiffStreams {
  const I = index;
  const oldSize = old.length;
  const newSize = neu.length;
  const ctrl: number[] = [];
  const diff = Buffer.allocUnsafe(newSize);
  const extra = Buffer.allocUnsafe(newSize);
  let dbLen = 0;
  let ebLen = 0;
  let scan = 0;
  let len = 0;
  let pos = 0;
  let lastScan = 0;
  let lastPos = 0;
  let lastOffset = 0;
  let reported = 0;
  while (scan < newSize) {
    let oldScore = 0;
    scan += len;
    let scsc = scan;
    for (; scan < newSize; scan++) {
      const found = search(I, old, neu, scan);
      len = found.len;
      pos = found.pos;
      for (; scsc < scan + len; scsc++) {
        if (scsc + lastOffset < oldSize && old[scsc + lastOffset] === neu[scsc]) oldScore++;
      }
      if ((len === oldScore && len !== 0) || len > oldScore + 8) break;
      if (scan + lastOffset < oldSize && old[scan + lastOffset] === neu[scan]) oldScore--;
    }
    if (len !== oldScore || scan === newSize) {
      let s = 0;
      let sf = 0;
      let lenF = 0;
      for (let i = 0; lastScan + i < scan && lastPos + i < oldSize; ) {
        if (old[lastPos + i] === neu[lastScan + i]) s++;
        i++;
        if (s * 2 - i > sf * 2 - lenF) {
          sf = s;
          lenF = i;
        }
      }
      let lenB = 0;
      if (scan < newSize) {
        let sb = 0;
        s = 0;
        for (let i = 1; scan >= lastScan + i && pos >= i; i++) {
          if (old[pos - i] === neu[scan - i]) s++;
          if (s * 2 - i > sb * 2 - lenB) {
            sb = s;
            lenB = i;
          }
        }
      }
      if (lastScan + lenF > scan - lenB) {
        const overlap = lastScan + lenF - (scan - lenB);
        s = 0;
        let ss = 0;
        let lenS = 0;
        for (let i = 0; i < overlap; i++) {
          if (neu[lastScan + lenF - overlap + i] === old[lastPos + lenF - overlap + i]) s++;
          if (neu[scan - lenB + i] === old[pos - lenB + i]) s--;
          if (s > ss) {
            ss = s;
            lenS = i + 1;
          }
        }
        lenF += lenS - overlap;
        lenB -= lenS;
      }
      for (let i = 0; i < lenF; i++) diff[dbLen + i] = (neu[lastScan + i]! - old[lastPos + i]!) & 0xff;
      const extraLen = scan - lenB - (lastScan + lenF);
      neu.copy(extra, ebLen, lastScan + lenF, lastScan + lenF + extraLen);
      dbLen += lenF;
      ebLen += extraLen;
      pushVarint(ctrl, lenF);
      pushVarint(ctrl, extraLen);
      pushVarint(ctrl, zigzag(pos - lenB - (lastPos + lenF)));
      lastScan = scan - lenB;
      lastPos = pos - lenB;
      lastOffset = pos - scan;
      if (onProgress && scan - reported > 1 << 20) {
        reported = scan;
        onProgress(scan);
      }
    }
  }
  return { ctrl: Buffer.from(ctrl), diff: diff.subarray(0, dbLen), extra: extra.subarray(0, ebLen) };
}

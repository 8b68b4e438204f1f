/**
 * The one lock of Updraft: one process at a time works on an install folder (client) or on one
 * app of a repository (publisher).
 *
 * **Tokens.** A public entry point acquires the lock once and gets a {@link LockToken}; it passes
 * the token down to the calls it makes, which run under it ({@link withLock}) and never acquire
 * or release it themselves. A second acquisition of a held lock fails with `LOCKED`, also inside
 * the same process (two `Updater`s on one folder exclude each other like two processes do).
 *
 * **File.** The lock file holds one JSON record: `{ schema: 1, pid, start, boot, host, purpose,
 * since, token }`. It is written complete to a temporary file with an explicit mode (0644,
 * whatever the umask), then hard-linked to the lock's name, which fails when the name exists: a
 * reader never sees a half-written lock of a live holder. File systems without hard links (FAT,
 * some network shares) fall back to an exclusive create followed by the write.
 *
 * **Staleness.** A lock is stale, and taken over, when its record is empty or torn (older than a
 * two-second grace that covers the fallback's write), when the machine has rebooted since (Linux:
 * the boot id), when its PID no longer runs, or when that PID now belongs to another process: the
 * record keeps the holder's start time (Linux: field 22 of `/proc/PID/stat`; macOS and other Unix
 * systems: `ps -o lstart=`), and a different start time means the PID was reused. Where the start
 * time cannot be read (Windows, records of older versions), a live PID holds the lock for at most
 * {@link LOCK_AGE_LIMIT_MS}; a record from another host is likewise trusted until that age. A
 * stale lock is removed under a short-lived `.break` lock, and only if it is still the record that
 * was judged stale, so two processes taking over the same stale lock cannot both win.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { link, open, readFile, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, resolve } from "node:path";
import { ErrorCodes, toUpdraftError, UpdraftError } from "./errors.js";
import { FaultSteps, faultPoint } from "./fault.js";
import { ensureDir } from "./fs.js";
import { isJsonObject } from "./json.js";

/** Mode of lock files: the owner writes, everyone may read who holds it. */
const LOCK_MODE = 0o644;
/** How long a lock held by a live PID whose start time is unknown is trusted (24 hours). */
export const LOCK_AGE_LIMIT_MS = 24 * 60 * 60 * 1000;
/** A torn record younger than this may be one being written (exclusive-create fallback). */
const TORN_GRACE_MS = 2000;
/** Rounds of create / judge / take over before giving up on a lock that keeps changing hands. */
const MAX_ROUNDS = 10;
/** Lock records are small; a larger file is not one (read no more of it than this). */
const MAX_RECORD_BYTES = 4096;
/** errno codes meaning "this file system cannot hard-link": use the exclusive-create fallback. */
const NO_HARD_LINKS: ReadonlySet<string> = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV", "EMLINK"]);

/** Who holds a lock, as its file records it. */
export interface LockRecord {
  /** The holder's process id. */
  pid: number;
  /** What the holder is doing ("installing", "publishing"…). */
  purpose: string;
  /** When it took the lock (ISO time, as the holder wrote it). */
  since: string;
  /** The holder's host name. */
  host?: string;
  /** The holder's process start time (platform-specific text), to detect a reused PID. */
  start?: string;
  /** The boot the holder ran in (Linux boot id), to detect a reboot. */
  boot?: string;
  /** Identifies the acquisition, so a process tells its own live locks from leftovers. */
  token?: string;
}

/**
 * A held lock. Pass it to nested calls (they run under it and never release it); the entry point
 * that acquired it calls {@link LockToken.release} once done (releasing again does nothing).
 */
export interface LockToken {
  /** The lock file. */
  readonly path: string;
  /** What the holder is doing. */
  readonly purpose: string;
  /** False once released. */
  readonly held: boolean;
  /** Removes the lock file (if it is still this token's) and frees the lock in this process. */
  release(): Promise<void>;
}

/** Options of {@link acquireLock}. */
export interface AcquireOptions {
  /** What the holder is doing, shown to whoever finds the lock taken. */
  purpose: string;
  /**
   * How long to wait for a live holder to let go (ms; default 0: fail at once). For short
   * operations that must not fail because another one is briefly working, such as a confirmation.
   */
  waitMs?: number;
  /** The `LOCKED` error to throw when the lock is taken (default: names the holder and the file). */
  busyError?: (holder: LockRecord | undefined, path: string) => UpdraftError;
}

/** True if a process with this PID exists (possibly owned by another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Locks held (or being acquired) by this process, by resolved path, and the tokens of all of them. */
const heldByPath = new Map<string, Token>();
const liveTokens = new Set<string>();
/** Tokens made by this module: a look-alike object cannot stand in for a held lock. */
const realTokens = new WeakSet<LockToken>();

class Token implements LockToken {
  #released = false;
  readonly since = new Date().toISOString();

  constructor(
    readonly path: string,
    readonly purpose: string,
    readonly id: string,
    private readonly key: string,
  ) {
    realTokens.add(this);
  }

  get held(): boolean {
    return !this.#released;
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    try {
      const seen = await readLockFile(this.path).catch(() => undefined);
      // Only our own record: if ours was (wrongly) taken over, the new holder's lock stays.
      if (seen?.record?.token === this.id) await rm(this.path, { force: true });
    } finally {
      this.forget();
    }
  }

  /** Frees the lock in this process (after release, or when acquiring failed). */
  forget(): void {
    liveTokens.delete(this.id);
    if (heldByPath.get(this.key) === this) heldByPath.delete(this.key);
  }
}

/** Takes the lock at `path`, or throws `LOCKED` naming the holder. Creates the lock's folder. */
export async function acquireLock(path: string, options: AcquireOptions): Promise<LockToken> {
  const busy = options.busyError ?? defaultBusyError;
  const deadline = Date.now() + Math.max(0, options.waitMs ?? 0);
  for (;;) {
    try {
      return await acquireOnce(path, options.purpose, busy);
    } catch (err) {
      if (!(err instanceof UpdraftError && err.code === ErrorCodes.LOCKED) || Date.now() >= deadline) throw err;
    }
    await faultPoint(FaultSteps.LOCK_WAITING);
    await new Promise((r) => setTimeout(r, Math.min(100, Math.max(1, deadline - Date.now()))));
  }
}

async function acquireOnce(
  path: string,
  purpose: string,
  busy: (holder: LockRecord | undefined, path: string) => UpdraftError,
): Promise<LockToken> {
  const key = resolve(path);
  // Checked and claimed synchronously, so two acquisitions in this process cannot both pass.
  const mine = heldByPath.get(key);
  if (mine) throw busy({ pid: process.pid, purpose: mine.purpose, since: mine.since }, path);
  const token = new Token(path, purpose, randomBytes(12).toString("hex"), key);
  heldByPath.set(key, token);
  liveTokens.add(token.id);
  try {
    await ensureDir(dirname(path));
    const text = JSON.stringify(await recordOf(token));
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (await createExclusive(path, text)) return token;
      const seen = await readLockFile(path);
      if (!seen) continue; // released meanwhile: try again
      if (await isHeld(seen)) throw busy(seen.record, path);
      if (!(await takeOverStale(path, seen, text))) await new Promise((r) => setTimeout(r, 10 + 20 * Math.random()));
    }
    throw busy(undefined, path);
  } catch (err) {
    token.forget();
    if (err instanceof UpdraftError) throw err;
    throw toUpdraftError(err, ErrorCodes.INSTALL_FAILED, `Taking the lock ${path}`);
  }
}

/**
 * Runs `body` under `token` when the caller passes one (nested call), else acquires the lock for
 * the duration of `body` (entry point).
 */
export async function withLock<T>(
  path: string,
  token: LockToken | undefined,
  options: AcquireOptions,
  body: (token: LockToken) => Promise<T>,
): Promise<T> {
  if (token) {
    assertHolds(token, path);
    return body(token);
  }
  const held = await acquireLock(path, options);
  try {
    return await body(held);
  } finally {
    await held.release();
  }
}

/** Throws unless `token` is a held lock on `path` (a released or foreign token is a bug). */
export function assertHolds(token: LockToken, path: string): void {
  if (!realTokens.has(token) || !token.held || resolve(token.path) !== resolve(path)) {
    throw new UpdraftError(ErrorCodes.INTERNAL, `The lock ${path} is not held by the token passed in`);
  }
}

function defaultBusyError(holder: LockRecord | undefined, path: string): UpdraftError {
  if (!holder) {
    return new UpdraftError(ErrorCodes.LOCKED, `Could not take the lock ${path}: it keeps changing hands`, {
      hint: "Try again.",
      details: { lockFile: path },
    });
  }
  return new UpdraftError(
    ErrorCodes.LOCKED,
    `Another updater (PID ${holder.pid}, ${holder.purpose} since ${holder.since}) holds ${path}`,
    {
      hint: "Wait for it to finish and try again.",
      details: { lockFile: path, pid: holder.pid, purpose: holder.purpose },
    },
  );
}

// ---------------------------------------------------------------------------------------------
// The record and its file

let ownIdentity: Promise<{ start: string | undefined; boot: string | undefined }> | undefined;

async function recordOf(token: Token): Promise<LockRecord & { schema: 1 }> {
  ownIdentity ??= Promise.all([processStart(process.pid), bootId()]).then(([start, boot]) => ({ start, boot }));
  const { start, boot } = await ownIdentity;
  return {
    schema: 1,
    pid: process.pid,
    ...(start !== undefined ? { start } : {}),
    ...(boot !== undefined ? { boot } : {}),
    host: hostname(),
    purpose: token.purpose,
    since: token.since,
    token: token.id,
  };
}

/**
 * The start time of process `pid` as text, or undefined where it cannot be read. Linux: field 22
 * of /proc/PID/stat (clock ticks since boot; the command name before it may hold spaces and
 * parentheses, hence the last ")"). Windows: not available without a slow helper process, so the
 * age limit applies. Elsewhere: `ps -o lstart=` (macOS, the BSDs).
 */
async function processStart(pid: number): Promise<string | undefined> {
  if (process.platform === "linux") {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
    const fields = stat?.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields?.[19] || undefined; // fields[0] is field 3
  }
  if (process.platform === "win32") return undefined;
  return new Promise((done) => {
    execFile("ps", ["-o", "lstart=", "-p", String(pid)], { timeout: 5000 }, (err, stdout) => {
      done(err ? undefined : stdout.trim() || undefined);
    });
  });
}

/** Identifies this boot of the machine (Linux), so a lock from before a reboot is stale. */
async function bootId(): Promise<string | undefined> {
  if (process.platform !== "linux") return undefined;
  const id = await readFile("/proc/sys/kernel/random/boot_id", "utf8").catch(() => undefined);
  return id?.trim() || undefined;
}

/** What a lock file holds: the parsed record (undefined when torn), its bytes and its age. */
interface SeenLock {
  record: LockRecord | undefined;
  raw: string;
  mtimeMs: number;
}

/** Reads the lock file (untrusted: size-capped and validated), or undefined when there is none. */
async function readLockFile(path: string): Promise<SeenLock | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      throw new UpdraftError(ErrorCodes.INSTALL_FAILED, `The lock ${path} is not a file`, {
        hint: "Remove it; no Updraft process creates anything else there.",
      });
    }
    const buffer = Buffer.alloc(Math.min(info.size, MAX_RECORD_BYTES));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const raw = buffer.subarray(0, bytesRead).toString("utf8");
    return { record: info.size <= MAX_RECORD_BYTES ? parseRecord(raw) : undefined, raw, mtimeMs: info.mtimeMs };
  } finally {
    await handle.close();
  }
}

/** A record, or undefined for anything else. A bare PID is the publisher lock of older versions. */
function parseRecord(raw: string): LockRecord | undefined {
  if (/^\d+\s*$/.test(raw)) {
    const pid = Number(raw.trim());
    return Number.isSafeInteger(pid) && pid > 0 ? { pid, purpose: "working", since: "?" } : undefined;
  }
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!isJsonObject(v)) return undefined;
  if (typeof v.pid !== "number" || !Number.isSafeInteger(v.pid) || v.pid <= 0) return undefined;
  const text = (k: string, max = 200) => {
    const value = v[k];
    return typeof value === "string" && value.length <= max ? value : undefined;
  };
  const record: LockRecord = { pid: v.pid, purpose: text("purpose") ?? "working", since: text("since") ?? "?" };
  for (const k of ["host", "start", "boot", "token"] as const) {
    const s = text(k);
    if (s !== undefined) record[k] = s;
  }
  return record;
}

/** True when the lock is held by a live holder; false when it is stale (see the file comment). */
async function isHeld(seen: SeenLock): Promise<boolean> {
  const age = Date.now() - seen.mtimeMs;
  const r = seen.record;
  if (!r) return age < TORN_GRACE_MS;
  if (r.host !== undefined && r.host !== hostname()) return age < LOCK_AGE_LIMIT_MS;
  if (r.boot !== undefined) {
    const boot = await bootId();
    if (boot !== undefined && boot !== r.boot) return false;
  }
  if (!processAlive(r.pid)) return false;
  const start = r.start !== undefined ? await processStart(r.pid) : undefined;
  if (r.start !== undefined && start !== undefined) {
    if (start !== r.start) return false;
  } else if (age >= LOCK_AGE_LIMIT_MS) {
    return false;
  }
  // This process: held only by a token still alive here (a leftover of ours is stale).
  if (r.pid === process.pid) return r.token !== undefined && liveTokens.has(r.token);
  return true;
}

/** Creates `path` with `text` unless it exists; false when it does. */
async function createExclusive(path: string, text: string): Promise<boolean> {
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeNew(tmp, text);
    try {
      await link(tmp, path);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "";
      if (code === "EEXIST") return false;
      if (!NO_HARD_LINKS.has(code)) throw err;
    }
  } finally {
    await rm(tmp, { force: true });
  }
  try {
    await writeNew(path, text);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

/** Writes a new file (exclusive create) with the lock mode set explicitly, removing it on failure. */
async function writeNew(path: string, text: string): Promise<void> {
  const handle = await open(path, "wx", LOCK_MODE);
  try {
    await handle.chmod(LOCK_MODE);
    await handle.writeFile(text);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await rm(path, { force: true });
    throw err;
  }
  await handle.close();
}

/**
 * Removes the stale lock `seen` at `path` under the `.break` lock. Returns false when another
 * process is taking it over right now (the caller waits a moment and looks again).
 */
async function takeOverStale(path: string, seen: SeenLock, ownText: string): Promise<boolean> {
  const breaker = `${path}.break`;
  if (!(await createExclusive(breaker, ownText))) {
    const other = await readLockFile(breaker);
    if (!other) return true;
    if (await isHeld(other)) return false;
    // A breaker left by a process killed while taking over.
    await removeIfUnchanged(breaker, other);
    return true;
  }
  try {
    await removeIfUnchanged(path, seen);
  } finally {
    await rm(breaker, { force: true });
  }
  return true;
}

/** Removes `path` only if it still holds exactly what was judged stale (not a lock taken since). */
async function removeIfUnchanged(path: string, seen: SeenLock): Promise<void> {
  const again = await readLockFile(path);
  if (again && again.raw === seen.raw && again.mtimeMs === seen.mtimeMs) await rm(path, { force: true });
}

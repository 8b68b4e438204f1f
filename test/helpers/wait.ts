/** Bounded polling for tests: a bound, never a timing assertion. */
import { access } from "node:fs/promises";

/** Polls `probe` every 20 ms until it returns a value, for at most `timeoutMs`; throws naming `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until `condition()` holds (see {@link waitFor}). */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(what, async () => (condition() ? true : undefined), timeoutMs);
}

/** Waits until `path` exists (a pause file written by a process at a fault step). */
export async function waitForFile(path: string, what: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    what,
    () =>
      access(path).then(
        () => true,
        () => undefined,
      ),
    timeoutMs,
  );
}

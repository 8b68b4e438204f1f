/**
 * A process that takes a lock, for the lock tests: `node lock-child.js LOCK_FILE [GO_FILE]`.
 * With GO_FILE it first says `ready` and waits (at most 30 s) until that file exists, so several
 * children try at the same moment. It then tries once and prints `held`, or `locked PID` with the
 * holder's PID from the `LOCKED` error; a holder keeps the lock until its stdin closes.
 */
import { access } from "node:fs/promises";
import { isUpdraftError } from "../../src/core/errors.js";
import { acquireLock } from "../../src/core/lock.js";

const [lockFile, goFile] = process.argv.slice(2) as [string, string | undefined];
if (goFile) {
  process.stdout.write("ready\n");
  for (let i = 0; i < 3000; i++) {
    if (
      await access(goFile).then(
        () => true,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 10));
  }
}
try {
  const lock = await acquireLock(lockFile, { purpose: "testing" });
  process.stdout.write("held\n");
  process.stdin.resume();
  process.stdin.on("end", () => {
    void lock.release().then(() => process.exit(0));
  });
} catch (err) {
  if (!isUpdraftError(err, "LOCKED")) throw err;
  process.stdout.write(`locked ${String(err.details?.pid ?? "?")}\n`);
  process.exit(0);
}

/**
 * Runs `new Updater({ installDir }).update()` in its own process (it checks, downloads and
 * installs under one lock): `node library-install.js INSTALL_DIR`.
 * Prints one JSON line: `{ "ok": true, "version": … }` or `{ "ok": false, "code": … }`.
 */
import { Updater } from "../../src/client/updater.js";
import { toUpdraftError } from "../../src/core/errors.js";

const [installDir] = process.argv.slice(2) as [string];
try {
  const result = await new Updater({ installDir }).update();
  process.stdout.write(`${JSON.stringify({ ok: true, version: result.version })}\n`);
} catch (err) {
  const e = toUpdraftError(err);
  process.stdout.write(`${JSON.stringify({ ok: false, code: e.code, message: e.message })}\n`);
}

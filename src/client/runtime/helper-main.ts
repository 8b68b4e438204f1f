/**
 * The detached helper's entry point: `node helper-main.js '<job JSON>'`, started by
 * restart-helper.ts with the app's Node, so the client library needs neither the CLI nor its
 * dependencies at run time. It runs one job (see ./helper-job.ts) and exits with the CLI's exit
 * statuses: 0 when done, the status of the error's code otherwise (2 for a malformed job, which
 * changes nothing). Its output goes to the restart plan's log file.
 */
import { exitCodeFor, toUpdraftError } from "../../core/errors.js";
import { sendHealthReport } from "./health-report.js";
import { type HelperJob, parseHelperJob } from "./helper-job.js";
import { runRestartHelper, watchUptime } from "./restart-helper.js";

// As the CLI: whatever the caller's umask, nothing the helper creates is writable by other users.
process.umask(process.umask(0o022) | 0o022);

function reportFailure(err: unknown): void {
  const e = toUpdraftError(err);
  process.stderr.write(`updraft helper: error [${e.code}]: ${e.message}\n`);
  if (e.hint) process.stderr.write(`  hint: ${e.hint}\n`);
  if (process.env.UPDRAFT_DEBUG && e.stack) process.stderr.write(`${e.stack}\n`);
  process.exitCode = exitCodeFor(e.code);
}

async function run(job: HelperJob): Promise<void> {
  if (job.job === "restart") await runRestartHelper(job);
  else if (job.job === "report") await sendHealthReport(job.url, job.report);
  else await watchUptime(job.dir, job.pid);
}

for (const event of ["uncaughtException", "unhandledRejection"] as const) {
  process.on(event, (err: unknown) => {
    reportFailure(err);
    process.exit();
  });
}

try {
  await run(parseHelperJob(process.argv.slice(2)));
} catch (err) {
  reportFailure(err);
}

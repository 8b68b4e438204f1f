/**
 * `updraft dashboard --repo DIR [--log FILE…] [--events DB] [--keys DIR] [--port N] [--host ADDR]`:
 * the release dashboard, until stopped. With the publisher's online keys at hand it offers the
 * actions on releases (rollout, halt/resume, promote, yank); without them it is read-only.
 */
import { once } from "node:events";
import type { Command } from "commander";
import { toUpdraftError } from "../../core/errors.js";
import { createDashboard, publisherActions } from "../../dashboard/index.js";
import { type KeySet, loadKeys, ONLINE_ROLES } from "../../publish/index.js";
import { runCommand } from "../output.js";
import { hostAddress, path, port } from "../parse.js";

interface DashboardCliOptions {
  repo: string;
  log?: string[];
  events?: string;
  keys?: string;
  port: number;
  host: string;
}

/** Registers `updraft dashboard`. */
export function registerDashboard(program: Command): void {
  program
    .command("dashboard")
    .description("A web page of a repository's apps, channels, releases, adoption and failure rates, until stopped")
    .requiredOption("--repo <dir>", "repository folder", path)
    .option("--log <file...>", "access logs (updraft serve --access-log, or nginx combined) for adoption figures")
    .option("--events <db>", "the health events database of updraft serve --events, for failure rates")
    .option(
      "--keys <dir>",
      "key folder whose targets, snapshot and timestamp keys sign the page's actions (default ./updraft-keys; UPDRAFT_<ROLE>_KEY variables win); without keys the page is read-only",
      path,
    )
    .option("--port <n>", "TCP port; 0 picks a free one", port, 8090)
    .option(
      "--host <address>",
      "address to listen on; any but 127.0.0.1 requires the access token printed at start",
      hostAddress,
      "127.0.0.1",
    )
    .action(async (opts: DashboardCliOptions) => {
      await runCommand(
        {},
        async ({ signal }) => {
          const keys = await actionKeys(opts.keys);
          const dashboard = await createDashboard({
            repoDir: opts.repo,
            ...(keys === undefined ? {} : { actions: publisherActions(opts.repo, keys) }),
            host: opts.host,
            port: opts.port,
            ...(opts.log === undefined ? {} : { logs: opts.log.map((l) => path(l)) }),
            ...(opts.events === undefined ? {} : { eventsDb: path(opts.events) }),
          });
          process.stdout.write(`Dashboard of ${opts.repo} at ${dashboard.url}\n`);
          if (keys === undefined) process.stdout.write("Read-only: no publisher keys found (see --keys).\n");
          if (dashboard.token !== undefined) {
            process.stdout.write("Anyone with this URL can see the dashboard: it carries the access token.\n");
          }
          if (!signal.aborted) await once(signal, "abort");
          await dashboard.close();
          return { result: { url: dashboard.url } };
        },
        { graceMs: false },
      );
    });
}

/**
 * The online keys when they are at hand; undefined when none are found in the default places. A
 * key folder named with `--keys` must hold them: an error there is reported, not ignored.
 */
async function actionKeys(dir: string | undefined): Promise<KeySet | undefined> {
  try {
    return await loadKeys({ ...(dir !== undefined ? { dir } : {}), roles: ONLINE_ROLES });
  } catch (err) {
    if (dir !== undefined) throw toUpdraftError(err);
    return undefined;
  }
}

/** `updraft dashboard --repo DIR [--log FILE…] [--events DB] [--port N] [--host ADDR]`: the release dashboard, until stopped. */
import { once } from "node:events";
import type { Command } from "commander";
import { createDashboard } from "../../dashboard/index.js";
import { runCommand } from "../output.js";
import { hostAddress, path, port } from "../parse.js";

interface DashboardCliOptions {
  repo: string;
  log?: string[];
  events?: string;
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
          const dashboard = await createDashboard({
            repoDir: opts.repo,
            host: opts.host,
            port: opts.port,
            ...(opts.log === undefined ? {} : { logs: opts.log.map((l) => path(l)) }),
            ...(opts.events === undefined ? {} : { eventsDb: path(opts.events) }),
          });
          process.stdout.write(`Dashboard of ${opts.repo} at ${dashboard.url}\n`);
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

/** The usual client-test starts: a repository served on 127.0.0.1 with 1.0.0 published and installed; an in-place app folder. */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { installFromRepository } from "../../src/client/first-install.js";
import { type InstallLayout, installLayout } from "../../src/client/install/layout.js";
import { updateState } from "../../src/client/install/state.js";
import { createRepositoryServer } from "../../src/server/static-server.js";
import { createTestRepo, publish, type TestRepo } from "./repo.js";
import { tempDir } from "./tmp.js";

/** A served repository and an install folder holding its first release. */
export interface InstalledApp {
  work: string;
  repo: TestRepo;
  url: string;
  appDir: string;
}

/** Publishes `files` as `version`, serves the repository, and installs it into `work/install`. */
export async function installedApp(
  t: TestContext,
  files: Record<string, string | Buffer>,
  version = "1.0.0",
): Promise<InstalledApp> {
  const work = await tempDir(t);
  const repo = await createTestRepo(work);
  const server = createRepositoryServer({ root: repo.repoDir });
  const { url } = await server.listen();
  t.after(() => server.close());
  await publish(repo, work, version, files);
  const appDir = join(work, "install");
  await installFromRepository({ repoUrl: url, app: repo.app, installDir: appDir, rootSha256: repo.rootSha256 });
  return { work, repo, url, appDir };
}

/** An in-place (SAAU-style) app folder at 1.0.0 holding one file, `app.txt`, in a new work folder. */
export async function inPlaceAppAt100(
  t: TestContext,
): Promise<{ work: string; appDir: string; layout: InstallLayout }> {
  const work = await tempDir(t);
  const appDir = join(work, "app");
  await mkdir(appDir);
  await writeFile(join(appDir, "app.txt"), "1.0.0");
  const layout = installLayout(appDir);
  await updateState(layout, (s) => ({ ...s, mode: "in-place", current: "1.0.0" }));
  return { work, appDir, layout };
}

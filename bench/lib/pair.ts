/**
 * Measures one release pair end to end: publish the old release, install it, publish the new one
 * (with deltas), update with the client in its own process, check the result, and measure the
 * references: the reference tools on the same pair, `cp -a` of the new tree, a check when current,
 * and `tar | zstd -19 -T0` (plus `zstd --patch-from -19 --long`) against both publishes.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { PublishResult } from "../../src/publish/publish.js";
import {
  addApp,
  archivePath,
  assertInstalled,
  type BenchRepo,
  install,
  publishVersion,
  storedManifest,
} from "./app.js";
import { type ClientReport, runClient } from "./client.js";
import { median, mustRun, note } from "./exec.js";
import { referencePackMs, referencePatchMs, settleWrites } from "./publish-speed.js";
import { type ReferenceResult, runReferences, untarZst } from "./references.js";

/** The measurements of one pair. */
export interface PairMeasure {
  id: string;
  label: string;
  covers: string;
  full: PublishResult["archive"];
  deltas: PublishResult["deltas"];
  update: ClientReport;
  current: ClientReport;
  references: ReferenceResult[];
  cpMs: number;
  publishMs: number;
  /** The old release published first (level 19, no previous release, so no delta). */
  firstPublishMs: number;
  /** `tar -c | zstd -19 -T0` of the old tree and of the new tree, and `zstd --patch-from -19 --long` old → new. */
  referencePublish?: { firstMs: number; packMs: number; patchMs: number };
}

/** Inputs of {@link measurePair}. */
export interface PairInput {
  id: string;
  label: string;
  covers: string;
  fromVersion: string;
  toVersion: string;
  fromDir: string;
  toDir: string;
  /** Run the reference delta tools (needs zstd, bsdiff, xdelta3). */
  references: boolean;
  /** Runs of `cp -a` to take the median of. */
  cpRuns: number;
}

/** Runs the pair against the server at `url` serving `repo`. */
export async function measurePair(
  repo: BenchRepo,
  url: string,
  workDir: string,
  input: PairInput,
): Promise<PairMeasure> {
  const app = input.id;
  const dir = join(workDir, app);
  await mkdir(dir, { recursive: true });
  await addApp(repo, app, url);
  note(`${app}: publish ${input.fromVersion} (first release, zstd -19)`);
  const tFirst = performance.now();
  const old = await publishVersion(repo, app, input.fromVersion, input.fromDir);
  const firstPublishMs = performance.now() - tFirst;
  const installDir = join(dir, "install");
  await install(repo, app, url, installDir);
  note(`${app}: publish ${input.toVersion} (zstd -19, deltas)`);
  const t0 = performance.now();
  const published = await publishVersion(repo, app, input.toVersion, input.toDir);
  const publishMs = performance.now() - t0;
  for (const s of published.deltas.skipped) note(`${app}: delta ${s.kind} from ${s.from} skipped: ${s.reason}`);
  note(`${app}: client update`);
  await settleWrites(dir);
  const update = await runClient("update", installDir);
  if (update.version !== input.toVersion) throw new Error(`${app}: the client installed ${update.version}`);
  await assertInstalled(join(installDir, `app-${input.toVersion}`), await storedManifest(repo, published));
  const current = await runClient("check", installDir);
  note(`${app}: cp -a ×${input.cpRuns}`);
  const cps: number[] = [];
  for (let i = 0; i < input.cpRuns; i++) {
    const dest = join(dir, `cp-${i}`);
    await settleWrites(dir);
    cps.push((await mustRun("cp", ["-a", input.toDir, dest])).ms);
    await rm(dest, { recursive: true, force: true });
  }
  let references: ReferenceResult[] = [];
  let referencePublish: PairMeasure["referencePublish"];
  if (input.references) {
    note(`${app}: reference tools`);
    const oldTar = join(dir, "old.tar");
    const newTar = join(dir, "new.tar");
    await untarZst(archivePath(repo, old), oldTar);
    await untarZst(archivePath(repo, published), newTar);
    references = await runReferences(oldTar, newTar, dir);
    note(`${app}: reference publish: tar | zstd -19 -T0 of both trees, zstd --patch-from -19 --long`);
    referencePublish = {
      firstMs: await referencePackMs(input.fromDir),
      packMs: await referencePackMs(input.toDir),
      patchMs: await referencePatchMs(oldTar, newTar, dir),
    };
    await rm(oldTar, { force: true });
    await rm(newTar, { force: true });
  }
  await rm(installDir, { recursive: true, force: true });
  return {
    id: input.id,
    label: input.label,
    covers: input.covers,
    full: published.archive,
    deltas: published.deltas,
    update,
    current,
    references,
    cpMs: median(cps),
    publishMs,
    firstPublishMs,
    ...(referencePublish ? { referencePublish } : {}),
  };
}

/**
 * Updraft's publisher as a library: generate and load signing keys, create an app's TUF
 * repository, publish releases into it, manage them (rollouts, yanks, promotions, the list of
 * releases) and keep its metadata fresh. The CLI commands `keys`, `init`, `publish`, `rollout`,
 * `yank`, `promote`, `releases`, `refresh-timestamp` and `root` are thin wrappers over these functions.
 *
 * @example
 * ```ts
 * import { generateKeys, initApp, loadKeys, publishRelease } from "./publish/index.js";
 * await generateKeys("./updraft-keys");
 * await initApp({ repoDir: "./repo", app: "demo", keys: await loadKeys({ roles: ["root", "targets", "snapshot", "timestamp"] }) });
 * await publishRelease({ repoDir: "./repo", app: "demo", version: "1.0.0", buildDir: "./build",
 *   keys: await loadKeys({ roles: ["targets", "snapshot", "timestamp"] }) });
 * ```
 * @packageDocumentation
 */

export { type ReleaseHealth, releaseHealth } from "../events/index.js";
export type { AppSettings } from "./app-settings.js";
export type { RolloutRequest } from "./channels.js";
export {
  DEFAULT_KEYS_DIR,
  type GeneratedKeys,
  type GenerateKeysOptions,
  generateKeys,
  type KeySet,
  keyEnvVar,
  keyFileBase,
  type LoadKeysOptions,
  loadKeys,
  ONLINE_ROLES,
  type PublicRoleKey,
  parsePrivateKeyText,
  ROLES,
  type RoleKey,
  type RoleName,
  readPublicKeyFile,
  type Signer,
} from "./keys.js";
export {
  type ArchiveInfo,
  type BuildContents,
  DEFAULT_ZSTD_LEVEL,
  type ExtraFile,
  type PackFile,
  type PackProgress,
  scanBuild,
  type WriteArchiveOptions,
  writeArchive,
} from "./pack.js";
export { type PruneOptions, type PruneResult, pruneReleases } from "./prune.js";
export {
  INIT_ROLES,
  type InitAppOptions,
  type InitAppResult,
  initApp,
  type PublishOptions,
  type PublishProgress,
  type PublishResult,
  publishRelease,
  type RefreshTimestampOptions,
  type RefreshTimestampResult,
  refreshTimestamp,
} from "./publish.js";
export {
  type ListReleasesOptions,
  listReleases,
  type PromoteReleaseOptions,
  type PromoteReleaseResult,
  promoteRelease,
  type ReleaseBuild,
  type ReleaseChangeOptions,
  type ReleaseChangeResult,
  type ReleaseListing,
  type RolloutAdvance,
  type RolloutChange,
  type SetRolloutOptions,
  type SetRolloutResult,
  setRollout,
  type YankReleaseOptions,
  type YankReleaseResult,
  yankRelease,
} from "./releases.js";
export {
  decideRolloutAdvance,
  type RolloutAdvanceDecision,
  type RolloutAdvanceInput,
} from "./rollout-advance.js";
export {
  type CommittedRoot,
  pendingRootPath,
  RETIRED_KEYS_DIR,
  type RetiredKey,
  type RootChange,
  type RootRoleSignatures,
  type RootSignatureStatus,
} from "./root-update.js";

export {
  type KeyOperationTarget,
  type PreparedRoot,
  type PrepareRootOptions,
  type PublishPendingRootOptions,
  prepareRoot,
  publishPendingRoot,
  type RootChangeResult,
  type RotateKeyOptions,
  type RotateKeyResult,
  rootKeyPlan,
  rotateKey,
  type SignPendingRootOptions,
  signPendingRoot,
} from "./rotation.js";
export {
  type AppPaths,
  appPaths,
  type CommittedVersions,
  DEFAULT_EXPIRY_DAYS,
  type ExpiryDays,
  type RefreshedVersions,
  type RootKeyPlan,
} from "./tuf-repo.js";

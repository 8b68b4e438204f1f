/**
 * Repositories in object stores: `--repo s3://BUCKET/PREFIX` for every command that writes a
 * repository goes through {@link withWritableRepository}.
 */

export { type DeltaBaseQuery, fetchDeltaBases } from "./delta-bases.js";
export { FolderStore } from "./folder-store.js";
export { formatS3Url, isS3Url, parseS3Url, type S3Location } from "./location.js";
export { fetchChannelDocuments, preparePrune } from "./prune-inputs.js";
export { pushChanges, type RepositoryChanges } from "./push.js";
export { S3Store, type S3StoreOptions } from "./s3-store.js";
export type { RepositoryStore, StoredObject, WriteCondition } from "./store.js";
export {
  type PushReport,
  type WorkingCopy,
  type WritableRepositoryOptions,
  withStoreWorkingCopy,
  withWritableRepository,
} from "./working-copy.js";

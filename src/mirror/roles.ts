/**
 * The delegated targets roles of a repository, each fetched and verified as a TUF client does
 * (TUF spec 5.6: its length and hashes as the snapshot lists them, signed by the threshold of the
 * keys its delegator names, the version the snapshot names, not expired). The walk follows the
 * delegations themselves, named roles and hash bins alike, from the top-level targets down, so
 * any layout of roles is copied without knowing their names.
 */
import { Metadata, MetadataKind, type Snapshot, type Targets } from "@tufjs/models";
import type { HttpClient } from "../client/net/http.js";
import { mapTufError } from "../client/trust/tuf-errors.js";
import { ErrorCodes, UpdraftError } from "../core/errors.js";
import { isJsonObject, parseJson } from "../core/json.js";

/** A delegated role's metadata as large as it may be when the snapshot gives no length (tuf-js's own default). */
const ROLE_CAP = 5 * 1024 * 1024;

/** A verified targets role: its name, its file name in the repository, its exact bytes and its content. */
export interface VerifiedRole {
  readonly name: string;
  /** The name it is served under in the metadata folder (`N.<role>.json` with consistent snapshots). */
  readonly file: string;
  readonly bytes: Buffer;
  readonly metadata: Metadata<Targets>;
}

/** What the walk needs: the verified snapshot and top-level targets, and where the metadata is. */
export interface RoleWalk {
  readonly snapshot: Metadata<Snapshot>;
  readonly targets: Metadata<Targets>;
  /** Metadata base URL, without a trailing slash. */
  readonly metadataUrl: string;
  readonly consistentSnapshot: boolean;
  readonly http: HttpClient;
}

/** Parses verified-to-be TUF metadata bytes of `kind`; a malformed document is `METADATA_INVALID`. */
export function parseMetadata<K extends MetadataKind.Snapshot | MetadataKind.Targets>(
  kind: K,
  bytes: Buffer,
  what: string,
): K extends MetadataKind.Snapshot ? Metadata<Snapshot> : Metadata<Targets> {
  try {
    const doc = parseJson(bytes.toString("utf8"));
    if (!isJsonObject(doc)) throw new Error("not a JSON object");
    const md = Metadata.fromJSON(kind as MetadataKind.Targets, doc);
    if (md.signed.type !== kind) throw new Error(`Expected '${kind}', got ${md.signed.type}`);
    return md as K extends MetadataKind.Snapshot ? Metadata<Snapshot> : Metadata<Targets>;
  } catch (err) {
    if (err instanceof UpdraftError) throw err;
    throw new UpdraftError(
      ErrorCodes.METADATA_INVALID,
      `${what} is not valid TUF metadata: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** The roles `delegator` delegates to, named or hash bins, in order. */
function delegatedNames(delegator: Metadata<Targets>): string[] {
  const delegations = delegator.signed.delegations;
  if (!delegations) return [];
  return [...Object.keys(delegations.roles ?? {}), ...(delegations.succinctRoles?.getRoles() ?? [])];
}

/**
 * Every targets role reachable from the top-level targets through delegations, each verified
 * against its delegator, in pre-order (a role is fetched once, however many delegate to it).
 */
export async function verifiedDelegatedRoles(walk: RoleWalk): Promise<VerifiedRole[]> {
  const out: VerifiedRole[] = [];
  const seen = new Set<string>(["targets"]);
  const visit = async (delegator: Metadata<Targets>, delegatorName: string): Promise<void> => {
    for (const name of delegatedNames(delegator)) {
      if (seen.has(name)) continue;
      seen.add(name);
      const role = await fetchRole(walk, delegator, delegatorName, name);
      out.push(role);
      await visit(role.metadata, name);
    }
  };
  await visit(walk.targets, "targets");
  return out;
}

/** Fetches role `name` and checks it as tuf-js's trusted set does (TUF spec 5.6.2 to 5.6.5). */
async function fetchRole(
  walk: RoleWalk,
  delegator: Metadata<Targets>,
  delegatorName: string,
  name: string,
): Promise<VerifiedRole> {
  const meta = walk.snapshot.signed.meta[`${name}.json`];
  if (!meta) {
    throw new UpdraftError(
      ErrorCodes.METADATA_INVALID,
      `The snapshot does not list ${name}.json, which ${delegatorName} delegates to`,
      {
        hint: "The repository is damaged: publish again.",
      },
    );
  }
  const file = walk.consistentSnapshot ? `${meta.version}.${name}.json` : `${name}.json`;
  const url = `${walk.metadataUrl}/${encodeURIComponent(file)}`;
  const bytes = await walk.http.getBytes(url, meta.length ?? ROLE_CAP);
  try {
    meta.verify(bytes);
    const metadata = parseMetadata(MetadataKind.Targets, bytes, file);
    delegator.verifyDelegate(name, metadata);
    if (metadata.signed.version !== meta.version) {
      throw new Error(`Version ${metadata.signed.version} of ${name} does not match snapshot version ${meta.version}`);
    }
    if (metadata.signed.isExpired()) throw new Error(`${name}.json is expired`);
    return { name, file, bytes, metadata };
  } catch (err) {
    throw mapTufError(err, walk.metadataUrl);
  }
}

/**
 * An S3-compatible bucket as a {@link RepositoryStore}, through the AWS SDK for JavaScript v3.
 * Credentials and region come from the SDK's standard chain (environment, shared config, instance
 * roles). A custom endpoint (`--s3-endpoint`, or the SDK's own `AWS_ENDPOINT_URL_S3`) means an
 * S3-compatible store (MinIO, Ceph, R2, B2…): path-style addressing, and `us-east-1` when no region
 * is configured. Large files go up in parallel multipart parts (`@aws-sdk/lib-storage`).
 */
import { createReadStream, createWriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { ErrorCodes, UpdraftError } from "../../core/errors.js";
import { cacheControlFor, contentTypeFor } from "../../formats/served-headers.js";
import { formatS3Url, type S3Location } from "./location.js";
import type { RepositoryStore, StoredObject, WriteCondition } from "./store.js";

/** Files at least this large go up as a multipart upload, in parts of this size. */
const PART_SIZE = 16 * 1024 * 1024;
/** Parts of one multipart upload sent at once. */
const PART_CONCURRENCY = 4;

/** Options of {@link S3Store}. */
export interface S3StoreOptions {
  /** Endpoint of an S3-compatible store (`http://127.0.0.1:9000`); default AWS, or `AWS_ENDPOINT_URL_S3`. */
  endpoint?: string;
}

/** The SDK's HTTP status of a failed request, if it got one. */
function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** A failed store request as an `UpdraftError` whose code says what the user can do about it. */
function storeError(err: unknown, what: string, where: string): UpdraftError {
  if (err instanceof UpdraftError) return err;
  const name = (err as Error).name ?? "";
  const status = statusOf(err);
  const message = (err as Error).message ?? String(err);
  if (status === 412 || name === "PreconditionFailed" || name === "ConditionalRequestConflict") {
    return conflictError(where, `the store refused a conditional write of ${what}`, err);
  }
  if (name === "NoSuchBucket") {
    return new UpdraftError(ErrorCodes.REPO_NOT_FOUND, `The bucket of ${where} does not exist`, {
      cause: err,
      hint: "Create the bucket first, or check --repo and --s3-endpoint.",
    });
  }
  const credentials =
    status === 401 ||
    status === 403 ||
    /AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|Credentials|ExpiredToken/i.test(`${name} ${message}`);
  return new UpdraftError(ErrorCodes.STORE_FAILED, `${what} at ${where} failed: ${name ? `${name}: ` : ""}${message}`, {
    cause: err,
    hint: credentials
      ? "Check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the instance role) and the bucket's policy."
      : "Check --s3-endpoint (or AWS_ENDPOINT_URL_S3), the region (AWS_REGION) and the network, then run the command again: nothing a client reads was changed half-way.",
    details: { ...(status !== undefined ? { status } : {}), ...(name ? { name } : {}) },
  });
}

/** `REPO_CONFLICT`: another publisher wrote the repository while this command ran. */
export function conflictError(where: string, why: string, cause?: unknown): UpdraftError {
  return new UpdraftError(
    ErrorCodes.REPO_CONFLICT,
    `Another publisher changed ${where} while this command ran: ${why}`,
    {
      ...(cause !== undefined ? { cause } : {}),
      hint: "Run the command again: it starts from the repository as it is now. Publish from one CI job at a time.",
    },
  );
}

/** The S3 client for `options`: the standard chain, plus path-style addressing for custom endpoints. */
function makeClient(options: S3StoreOptions): S3Client {
  const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  const config: S3ClientConfig = {
    // S3-compatible stores differ in which checksums they accept; send them only where S3 requires one.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  };
  if (endpoint !== undefined && endpoint !== "") {
    config.endpoint = endpoint;
    config.forcePathStyle = true;
    if (!process.env.AWS_REGION && !process.env.AWS_DEFAULT_REGION) config.region = "us-east-1";
  }
  return new S3Client(config);
}

/** An S3-compatible bucket (and key prefix) holding a repository. */
export class S3Store implements RepositoryStore {
  readonly description: string;
  private readonly client: S3Client;
  private count = 0;

  constructor(
    private readonly location: S3Location,
    options: S3StoreOptions = {},
  ) {
    this.description = formatS3Url(location);
    this.client = makeClient(options);
  }

  get requests(): number {
    return this.count;
  }

  private key(key: string): string {
    return this.location.prefix === "" ? key : `${this.location.prefix}/${key}`;
  }

  private async send<T>(what: string, request: () => Promise<T>): Promise<T> {
    this.count++;
    try {
      return await request();
    } catch (err) {
      throw storeError(err, what, this.description);
    }
  }

  async list(prefix: string): Promise<Map<string, StoredObject>> {
    const out = new Map<string, StoredObject>();
    const skip = this.location.prefix === "" ? 0 : this.location.prefix.length + 1;
    let token: string | undefined;
    do {
      const page = await this.send(`listing ${prefix}`, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.location.bucket,
            Prefix: this.key(prefix),
            ...(token ? { ContinuationToken: token } : {}),
          }),
        ),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        out.set(o.Key.slice(skip), { size: o.Size ?? 0, etag: o.ETag ?? "" });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const res = await this.send(`reading ${key}`, () =>
        this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.key(key) })),
      );
      return { size: res.ContentLength ?? 0, etag: res.ETag ?? "" };
    } catch (err) {
      if (statusOf((err as UpdraftError).cause) === 404) return undefined;
      throw err;
    }
  }

  async download(key: string, file: string): Promise<boolean> {
    try {
      await this.send(`downloading ${key}`, async () => {
        const res = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.key(key) }));
        await pipeline(res.Body as Readable, createWriteStream(file, { mode: 0o644 }));
      });
      return true;
    } catch (err) {
      const cause = (err as UpdraftError).cause;
      if (statusOf(cause) === 404 || (cause as Error | undefined)?.name === "NoSuchKey") return false;
      throw err;
    }
  }

  async upload(key: string, file: string, condition?: WriteCondition): Promise<void> {
    const params = {
      Bucket: this.location.bucket,
      Key: this.key(key),
      ContentType: contentTypeFor(key),
      CacheControl: cacheControlFor(key.split("/")),
      ...(condition && "ifNoneMatch" in condition ? { IfNoneMatch: "*" } : {}),
      ...(condition && "ifMatch" in condition ? { IfMatch: condition.ifMatch } : {}),
    };
    if (condition !== undefined) {
      // Conditional writes are metadata: small, one request, the condition checked by the store.
      const body = await readFile(file);
      await this.send(`writing ${key}`, () => this.client.send(new PutObjectCommand({ ...params, Body: body })));
      return;
    }
    await this.send(`uploading ${key}`, async () => {
      const upload = new Upload({
        client: this.client,
        params: { ...params, Body: createReadStream(file) },
        partSize: PART_SIZE,
        queueSize: PART_CONCURRENCY,
        leavePartsOnError: false,
      });
      await upload.done();
    });
  }

  async remove(key: string): Promise<void> {
    await this.send(`deleting ${key}`, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: this.key(key) })),
    );
  }
}

/**
 * A real S3 protocol server on 127.0.0.1 for the object-store tests (`s3rver`: it speaks S3's
 * REST API, signatures included, and serves objects over plain HTTP as a public bucket does).
 */
import { join } from "node:path";
import type { TestContext } from "node:test";
import S3rver from "s3rver";
import { tempDir } from "./tmp.js";

/** A started S3 server with one bucket. */
export interface StartedS3 {
  /** `--s3-endpoint` value. */
  endpoint: string;
  bucket: string;
  /** The environment a publisher needs: credentials and endpoint through the SDK's standard variables. */
  env: NodeJS.ProcessEnv;
  /** `http://127.0.0.1:PORT/BUCKET/` + `path`: where clients read a key over HTTP. */
  httpUrl(path?: string): string;
}

/** Starts an S3 server on a free port of 127.0.0.1 with bucket `bucket`; closed when the test ends. */
export async function startS3(t: TestContext, bucket = "updates"): Promise<StartedS3> {
  const directory = join(await tempDir(t, "updraft-s3-"), "data");
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  t.after(() => server.close());
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    env: {
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_CONFIG_FILE: join(directory, "no-config"),
      AWS_SHARED_CREDENTIALS_FILE: join(directory, "no-credentials"),
    },
    httpUrl: (path = "") => `${endpoint}/${bucket}/${path}`,
  };
}

/**
 * An unchanged SAAU repository as an {@link UpdateSource}: the release is the one `versao.txt`
 * names, staged from the zip on its line 3. Nothing is signed, so the connection is the only
 * protection: plain http:// to another host is refused unless the user accepts the risk.
 */
import { ErrorCodes, isUpdraftError } from "../../../core/errors.js";
import type { VersaoLabel } from "../../../formats/versao.js";
import type { InPlaceRelease } from "../../install/index.js";
import type { HttpClient } from "../../net/http.js";
import { assertUnsignedTransport } from "../legacy/transport.js";
import type { SourceOrigin, UnusableRelease, UpdateSource } from "../source.js";
import { fetchSaauLabel, saauLabelUrl } from "./label.js";
import { stageSaauPackage } from "./package.js";

/** A release a SAAU label names. */
export interface SaauLabelRelease {
  version: string;
  signed: false;
  label: VersaoLabel;
  /** The label's URL. */
  labelUrl: string;
}

/** Options of {@link SaauLabelSource}. */
export interface SaauLabelSourceOptions {
  http: HttpClient;
  /** SAAU repository base URL (the folder that holds `<app>/versao.txt`). */
  baseUrl: URL;
  /** App name in lower case, as the repository's folder. */
  app: string;
  /** Accept the label over plain http:// from a non-loopback host. */
  allowUnsignedHttp: boolean;
  /** Most bytes the zip may have and unpack to (default 2 GiB). */
  maxBytes?: number;
}

/** The label and zip of a SAAU repository. */
export class SaauLabelSource implements UpdateSource<SaauLabelRelease> {
  readonly origin: SourceOrigin;

  /** Throws `INSECURE_TRANSPORT` for plain http:// to another host, unless allowed. */
  constructor(private readonly options: SaauLabelSourceOptions) {
    assertUnsignedTransport(options.baseUrl, options.allowUnsignedHttp);
    this.origin = {
      format: "saau",
      url: saauLabelUrl(options.baseUrl.toString(), options.app),
      app: options.app,
      signed: false,
    };
  }

  /** The label's release; a damaged label whose line 1 names a version is an unusable release of it. */
  async latest(): Promise<SaauLabelRelease | UnusableRelease> {
    try {
      const { url, label } = await fetchSaauLabel(this.options.http, this.options.baseUrl.toString(), this.options.app);
      return { version: label.version, signed: false, label, labelUrl: url };
    } catch (err) {
      const version = isUpdraftError(err, ErrorCodes.LABEL_INVALID) ? err.details?.version : undefined;
      if (typeof version !== "string" || !isUpdraftError(err)) throw err;
      return { version, unusable: err };
    }
  }

  stage(release: SaauLabelRelease, workDir: string): Promise<InPlaceRelease> {
    return stageSaauPackage(this.options.http, {
      baseUrl: this.options.baseUrl.toString(),
      app: this.options.app,
      label: release.label,
      workDir,
      ...(this.options.maxBytes ? { maxBytes: this.options.maxBytes } : {}),
    });
  }
}

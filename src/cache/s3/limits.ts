import { DEFAULTS } from '../../config/defaults.js';

/** Limits of the S3 content backend: DEFAULTS' values, which `S3ContentOptions.limits` overrides (tests). */
export interface S3Limits {
  /** Bytes per part of a multipart upload; S3 wants at least 5 MiB (all but the last part). Each upload buffers `partBytes × uploadConcurrency`. */
  partBytes: number;
  /** Parts of one blob uploaded at once. */
  uploadConcurrency: number;
  /** ms between listings of the bucket that update the shared size and LRU order (at most one per replica per interval, on a commit). */
  listIntervalMs: number;
  /** ms after which a multipart upload still open is a leftover of a crashed replica and aborted at start (younger ones may be another replica's). */
  staleUploadMs: number;
}

export const S3_LIMITS: S3Limits = {
  partBytes: DEFAULTS.s3PartBytes,
  uploadConcurrency: DEFAULTS.s3UploadConcurrency,
  listIntervalMs: DEFAULTS.s3ListIntervalMs,
  staleUploadMs: DEFAULTS.s3StaleUploadMs,
};

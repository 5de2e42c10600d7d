import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { SignetError, errorMessage } from '../../errors.js';

export interface S3ClientOptions {
  /** `https://host:port` of an S3-compatible service; absent for AWS itself. */
  endpoint?: string | undefined;
  region: string;
  /** Undefined: the SDK's default provider chain (environment, shared files, instance role). */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined } | undefined;
  /** `https://host/bucket/key` rather than `https://bucket.host/key` (most self-hosted services). */
  forcePathStyle: boolean;
}

/**
 * An S3 client for the content backend. Checksums are computed and validated only where the
 * API requires them: with the SDK's default (`WHEN_SUPPORTED`) a streamed PutObject fails
 * against S3-compatible services that do not know the trailing-checksum encoding (Ceph 16;
 * RECIPES.md), and Signet verifies content by its digest anyway.
 */
export function createS3Client(options: S3ClientOptions): S3Client {
  return new S3Client({
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    region: options.region,
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    forcePathStyle: options.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

function statusOf(err: unknown): number | undefined {
  if (err instanceof S3ServiceException) return err.$metadata.httpStatusCode;
  const meta = (err as { $metadata?: { httpStatusCode?: unknown } } | undefined)?.$metadata;
  return typeof meta?.httpStatusCode === 'number' ? meta.httpStatusCode : undefined;
}

/** "No such key" (GET: NoSuchKey, HEAD: a bare 404 NotFound). A missing bucket is a real error. */
export function isNotFound(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || (statusOf(err) === 404 && err.name !== 'NoSuchBucket');
}

/** A conditional write (`If-None-Match: *`) found the key taken. */
export function isPreconditionFailed(err: unknown): boolean {
  return err instanceof Error && (err.name === 'PreconditionFailed' || statusOf(err) === 412);
}

/** A requested range that starts past the object's end. */
export function isRangeNotSatisfiable(err: unknown): boolean {
  return err instanceof Error && (err.name === 'InvalidRange' || statusOf(err) === 416);
}

/**
 * A STORAGE_ERROR for a failed S3 call. The message names the operation, the S3 error code and
 * status: never the request (signed headers) or the client's configuration (credentials).
 */
export function s3Error(what: string, err: unknown): SignetError {
  if (err instanceof SignetError) return err as SignetError;
  const status = statusOf(err);
  const name = err instanceof Error ? err.name : 'Error';
  const text = err instanceof S3ServiceException ? `${name}${status === undefined ? '' : ` (HTTP ${status})`}` : errorMessage(err);
  return new SignetError('STORAGE_ERROR', `${what}: ${text}`, { cause: err });
}

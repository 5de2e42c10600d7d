import { Readable, pipeline } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { SignetError } from '../../errors.js';
import { parseDigest } from '../../registry/names.js';
import { checkRange } from '../content-range.js';
import type { BlobStore, PendingBlob, StoredRange } from '../ports.js';
import { isNotFound, isRangeNotSatisfiable, s3Error } from './client.js';
import { metadataProblem } from './metadata.js';
import type { S3Objects } from './objects.js';
import { verifyingStream } from './verify.js';

/**
 * Blobs of an S3 content backend (see content.ts). What a read verifies:
 * - every read: the object carries Signet's metadata for this digest and its length matches
 *   the size recorded there (catches objects replaced or truncated behind Signet's back);
 * - a whole read: the bytes hash to the digest as they stream; on a mismatch the stream fails
 *   before its last chunk and the object is removed, so the next request fetches it again;
 * - a ranged read: not the bytes of the range (that needs the whole object). A corrupted
 *   object with intact metadata serves wrong bytes to ranged reads until a whole read (the
 *   usual first pull of a layer) removes it; clients check layer digests after download.
 */
export class S3BlobStore implements BlobStore {
  readonly #objects: S3Objects;

  constructor(objects: S3Objects) {
    this.#objects = objects;
  }

  init(): Promise<void> {
    return this.#objects.init();
  }

  get totalBytes(): number {
    return this.#objects.index.totalBytes;
  }

  /** Asks the bucket (HeadObject): another replica may have stored or evicted the blob. */
  async stat(digest: string): Promise<{ size: number } | undefined> {
    const size = await this.#objects.head('blobs', digest);
    if (size === undefined) return undefined;
    this.#objects.learn('blobs', digest, size);
    return { size };
  }

  /**
   * Answers once the object's headers arrived, so a blob evicted meanwhile is "absent" rather
   * than a stream that fails; a GET under way finishes if the object is deleted afterwards
   * (S3 serves the version it started; radosgw removes the data later, by its garbage collector).
   */
  async openRead(digest: string, range?: StoredRange): Promise<Readable | undefined> {
    const d = parseDigest(digest);
    const key = this.#objects.keys.content('blobs', digest);
    if (range !== undefined) {
      // Shape errors (negative, reversed, not integers) need no size; past the end is S3's 416.
      try {
        checkRange(digest, Number.MAX_SAFE_INTEGER, range);
      } catch {
        return this.#refuseRange(digest, range);
      }
    }
    let answer;
    try {
      answer = await this.#objects.client.send(
        new GetObjectCommand({ Bucket: this.#objects.bucket, Key: key, Range: range === undefined ? undefined : `bytes=${range.start}-${range.end}` }),
      );
    } catch (err) {
      if (isNotFound(err)) {
        this.#objects.index.delete('blobs', digest);
        return undefined;
      }
      if (range !== undefined && isRangeNotSatisfiable(err)) return this.#refuseRange(digest, range);
      throw s3Error(`cannot read ${digest} from object storage`, err);
    }
    const body = answer.Body;
    if (!(body instanceof Readable)) throw new SignetError('STORAGE_ERROR', `cannot read ${digest} from object storage: no body stream`);
    const length = range === undefined ? answer.ContentLength : totalOf(answer.ContentRange);
    const problem = metadataProblem(answer.Metadata, digest, length);
    if (problem !== undefined || length === undefined) {
      body.destroy();
      await this.#objects.dropCorrupted('blobs', digest, problem ?? 'no length');
      return undefined;
    }
    this.#objects.learn('blobs', digest, length);
    this.#objects.touch('blobs', digest);
    if (range !== undefined) return body;
    const verified = verifyingStream(d, length, (reason) => this.#objects.dropCorrupted('blobs', digest, reason));
    pipeline(body, verified, () => undefined); // errors reach the reader through `verified`
    return verified;
  }

  /** A range outside the blob: RANGE_INVALID with the blob's size, or "absent". */
  async #refuseRange(digest: string, range: StoredRange): Promise<undefined> {
    const size = await this.#objects.head('blobs', digest);
    if (size === undefined) return undefined;
    checkRange(digest, size, range); // throws: the range was refused already
    throw new SignetError('STORAGE_ERROR', `object storage refused range ${range.start}-${range.end} of ${digest} (${size} bytes)`);
  }

  touch(digest: string): void {
    this.#objects.touch('blobs', digest);
  }

  createPending(): Promise<PendingBlob> {
    return this.#objects.createPending();
  }

  commit(pending: PendingBlob, digest: string, size: number): Promise<void> {
    return this.#objects.commit(pending, digest, size);
  }

  async delete(digest: string): Promise<void> {
    await this.#objects.delete('blobs', digest);
  }
}

/** The complete length in `Content-Range: bytes 0-3/16` (RFC 9110 §14.4); undefined for `*` or garbage. */
function totalOf(contentRange: string | undefined): number | undefined {
  const m = /\/(\d+)\s*$/.exec(contentRange ?? '');
  return m ? Number(m[1]) : undefined;
}

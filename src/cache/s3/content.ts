import { HeadBucketCommand } from '@aws-sdk/client-s3';
import type { ContentNamespace } from '../lru-index.js';
import { s3Error } from './client.js';
import { S3BlobStore } from './blobs.js';
import { S3ManifestStore } from './manifests.js';
import { S3Objects, type S3ContentOptions } from './objects.js';

export type { S3ContentOptions } from './objects.js';

/**
 * The content backend in S3-compatible object storage, shared by several Signet replicas:
 * blobs and manifests under `<prefix>blobs/<alg>/<hex>` and `<prefix>manifests/<alg>/<hex>`,
 * one byte limit over both (all replicas together), least recently used evicted first.
 *
 * Pending blobs are local. The BlobStore port wants a blob being downloaded readable by
 * clients that fall behind the download, at any offset, before its digest is known; S3 objects
 * are written once and are not readable until complete. So a pending blob is a temp file of
 * this replica (the disk backend's DiskPendingBlob, under `tempDir`), and the upload starts at
 * commit, once the caller verified the digest. Nothing unverified ever reaches the bucket, and
 * readers behind the download keep reading the local file while (and after) it is uploaded.
 *
 * Commit uploads the file straight to the digest's key with lib-storage `Upload` (one PUT up to
 * `partBytes`, a streamed multipart upload above), as a conditional create (`If-None-Match: *`).
 * Not through a temporary key and a copy: an upload is invisible until complete (a PUT is
 * atomic, a multipart upload exists only once completed), so no reader ever sees partial bytes
 * under the digest, and a copy would write every blob twice yet give nothing more, because
 * CopyObject has no conditional create (radosgw 16 ignores If-None-Match on copies). A failed
 * upload is aborted by lib-storage; uploads left by a crash are aborted by `init` once older than
 * `staleUploadMs`. A HEAD first skips blobs another replica already stored (and removes a
 * corrupted object in their place).
 *
 * Two replicas committing one digest at once: for a single PUT the conditional create keeps
 * the first object and the second gets 412 (success: same verified bytes). For a multipart
 * upload it depends on the service: AWS S3 honours If-None-Match on CompleteMultipartUpload;
 * radosgw 16 ignores it, and the second completion replaces the object with the same verified
 * bytes and metadata (a GET under way keeps reading the version it started). Either way one
 * object with the right bytes remains.
 *
 * Eviction (best effort, without shared state beyond the bucket): each replica keeps an
 * LruIndex of the bucket's content, built at `init` from a listing (size, and last use as the
 * latest of the object's LastModified and of its `access/...` marker's), updated by its own
 * commits, reads and deletes, and merged with a fresh listing at most once per `listIntervalMs`
 * before it evicts. A use is written to the bucket as an empty access marker, at most once per
 * `accessTouchIntervalMs` per entry. Replicas may thus evict a little late (content others
 * stored since their last listing) or a little too much (two evicting at once), and their LRU
 * order lags others' uses by up to one touch interval. An exact shared total and order, with
 * one evictor at a time, needs shared state (Redis: a sorted set of last uses with sizes and a
 * lock), which this backend does not assume.
 */
export class S3Content {
  readonly blobs: S3BlobStore;
  readonly manifests: S3ManifestStore;
  readonly #objects: S3Objects;

  constructor(options: S3ContentOptions) {
    this.#objects = new S3Objects(options);
    this.blobs = new S3BlobStore(this.#objects);
    this.manifests = new S3ManifestStore(this.#objects);
  }

  init(): Promise<void> {
    return this.#objects.init();
  }

  get totalBytes(): number {
    return this.#objects.index.totalBytes;
  }

  /** Whether the bucket answers (one HEAD): what `/readyz` asks. Throws STORAGE_ERROR when not. */
  async ping(): Promise<void> {
    try {
      await this.#objects.client.send(new HeadBucketCommand({ Bucket: this.#objects.bucket }));
    } catch (err) {
      throw s3Error(`S3 bucket ${this.#objects.bucket} does not answer`, err);
    }
  }

  /** Brings this replica's view (total and LRU order) up to date with the bucket now. */
  refresh(): Promise<void> {
    return this.#objects.refresh();
  }

  /** Waits for access markers still being written, so the LRU order in the bucket is current. */
  flush(): Promise<void> {
    return this.#objects.flush();
  }

  /** This replica's view from least to most recently used (diagnostics and tests). */
  lruOrder(): Array<{ namespace: ContentNamespace; digest: string }> {
    return this.#objects.index.keys();
  }
}

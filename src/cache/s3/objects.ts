import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Logger } from 'pino';
import { DEFAULTS } from '../../config/defaults.js';
import { SignetError, errorMessage } from '../../errors.js';
import { DiskPendingBlob } from '../disk/pending.js';
import { LruIndex, type ContentNamespace, type EvictionListener } from '../lru-index.js';
import type { PendingBlob } from '../ports.js';
import { isNotFound, isPreconditionFailed, s3Error } from './client.js';
import { S3Keys } from './keys.js';
import { S3_LIMITS, type S3Limits } from './limits.js';
import { contentMetadata, metadataProblem } from './metadata.js';

export interface S3ContentOptions {
  /** Injected: built by `createS3Client` from `storage.s3`, shared by the stores of a process. */
  client: S3Client;
  bucket: string;
  /** Key prefix of this Signet's content (several deployments may share a bucket). */
  prefix: string;
  /** Bytes of blobs and manifests in the bucket (all replicas together) before LRU eviction. */
  maxBytes: number;
  /** Local directory of this replica for blobs being downloaded (emptied by `init`): never shared. */
  tempDir: string;
  logger: Logger;
  clock?: () => number;
  onEvict?: EvictionListener;
  limits?: Partial<S3Limits>;
}

/**
 * The objects of one S3 content backend and this replica's view of them (an LruIndex). The
 * disk backend's ContentFiles in S3 terms; see content.ts for the design.
 */
export class S3Objects {
  readonly client: S3Client;
  readonly bucket: string;
  readonly keys: S3Keys;
  readonly index: LruIndex;
  readonly logger: Logger;
  readonly tempDir: string;
  readonly limits: S3Limits;
  readonly #maxBytes: number;
  readonly #clock: () => number;
  readonly #onEvict: EvictionListener | undefined;
  #init: Promise<void> | undefined;
  #refreshing: Promise<void> | undefined;
  /** Clock time the last complete listing started; -Infinity before the first. */
  #listedAt = -Infinity;
  /** Access markers being written (not awaited by the request that caused them). */
  readonly #background = new Set<Promise<void>>();
  /** Pending blobs whose upload is under way: a second commit of one is refused. */
  readonly #committing = new WeakSet<PendingBlob>();

  constructor(options: S3ContentOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.keys = new S3Keys(options.prefix);
    this.logger = options.logger;
    this.tempDir = options.tempDir;
    this.limits = { ...S3_LIMITS, ...options.limits };
    this.#maxBytes = options.maxBytes;
    this.#clock = options.clock ?? Date.now;
    this.#onEvict = options.onEvict;
    this.index = new LruIndex(this.#clock);
  }

  /** Empties the local temp dir, aborts stale uploads, lists the bucket, evicts; once (again after a failure). */
  init(): Promise<void> {
    if (!this.#init) {
      const init = this.#prepare().then(() => this.evict());
      this.#init = init;
      init.catch(() => {
        if (this.#init === init) this.#init = undefined;
      });
    }
    return this.#init;
  }

  async #prepare(): Promise<void> {
    try {
      await rm(this.tempDir, { recursive: true, force: true });
      await mkdir(this.tempDir, { recursive: true });
    } catch (err) {
      throw new SignetError('STORAGE_ERROR', `cannot prepare the temporary directory ${this.tempDir}: ${errorMessage(err)}`, { cause: err });
    }
    await this.#abortStaleUploads();
    await this.refresh();
  }

  /**
   * Multipart uploads left open by a replica that crashed (or whose abort failed) hold storage
   * until aborted. Only uploads older than `staleUploadMs` are aborted: a younger one may be
   * another replica's upload in progress.
   */
  async #abortStaleUploads(): Promise<void> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    try {
      for (;;) {
        const page = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.keys.prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        );
        for (const upload of page.Uploads ?? []) {
          const initiated = upload.Initiated?.getTime() ?? 0;
          if (upload.Key === undefined || upload.UploadId === undefined || this.#clock() - initiated < this.limits.staleUploadMs) continue;
          await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: upload.Key, UploadId: upload.UploadId })).catch((err: unknown) => {
            if (!isNotFound(err)) throw err; // NoSuchUpload: finished or aborted meanwhile
          });
          this.logger.info({ key: upload.Key, initiated: upload.Initiated?.toISOString() }, 'aborted a leftover multipart upload');
        }
        if (page.IsTruncated !== true) break;
        keyMarker = page.NextKeyMarker;
        uploadIdMarker = page.NextUploadIdMarker;
        if (keyMarker === undefined && uploadIdMarker === undefined) break;
      }
    } catch (err) {
      throw s3Error(`cannot abort leftover uploads in bucket ${this.bucket}`, err);
    }
  }

  /**
   * Lists the content and access markers of every replica and merges them into this replica's
   * index: sizes and presence from the bucket, the last use as the latest of the object's
   * LastModified, its marker's and what this replica saw itself. Concurrent calls share one listing.
   */
  refresh(): Promise<void> {
    if (!this.#refreshing) {
      const refreshing = this.#list().finally(() => {
        if (this.#refreshing === refreshing) this.#refreshing = undefined;
      });
      this.#refreshing = refreshing;
    }
    return this.#refreshing;
  }

  async #list(): Promise<void> {
    const startedAt = this.#clock();
    const found = new Map<string, { namespace: ContentNamespace; digest: string; size: number; time: number }>();
    const markers = new Map<string, number>();
    try {
      for (const what of ['blobs', 'manifests', 'access'] as const) {
        let token: string | undefined;
        do {
          const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.keys.listPrefix(what), ContinuationToken: token }));
          for (const object of page.Contents ?? []) {
            const parsed = object.Key === undefined ? undefined : this.keys.parse(object.Key);
            if (!parsed || parsed.marker !== (what === 'access')) continue; // not ours: left alone
            const time = object.LastModified?.getTime() ?? 0;
            const id = `${parsed.namespace}/${parsed.digest}`;
            if (parsed.marker) markers.set(id, time);
            else found.set(id, { namespace: parsed.namespace, digest: parsed.digest, size: object.Size ?? 0, time });
          }
          token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
        } while (token !== undefined);
      }
    } catch (err) {
      throw s3Error(`cannot list bucket ${this.bucket}`, err);
    }
    // Synchronous from here: no commit interleaves with the rebuild.
    const position = new Map(this.index.keys().map((k, i) => [`${k.namespace}/${k.digest}`, i]));
    const merged: Array<{ namespace: ContentNamespace; digest: string; size: number; time: number; position: number }> = [];
    for (const [id, object] of found) {
      const mine = this.index.get(object.namespace, object.digest);
      const time = Math.max(object.time, markers.get(id) ?? 0, mine?.touchedAt ?? 0);
      merged.push({ ...object, time, position: position.get(id) ?? -1 });
    }
    for (const key of this.index.keys()) {
      const id = `${key.namespace}/${key.digest}`;
      const entry = this.index.get(key.namespace, key.digest);
      // Committed by this replica while the listing ran (so possibly not in it): kept.
      if (!found.has(id) && entry && entry.touchedAt >= startedAt) merged.push({ ...entry, time: entry.touchedAt, position: position.get(id) ?? -1 });
    }
    merged.sort((a, b) => a.time - b.time || a.position - b.position);
    for (const key of this.index.keys()) this.index.delete(key.namespace, key.digest);
    for (const m of merged) this.index.set(m.namespace, m.digest, m.size, m.time);
    this.#listedAt = startedAt;
  }

  /** Accounts for content found in the bucket (another replica's) that this replica did not know. */
  learn(namespace: ContentNamespace, digest: string, size: number): void {
    if (!this.index.get(namespace, digest)) this.index.set(namespace, digest, size);
  }

  /**
   * Marks content as just used. At most once per `accessTouchIntervalMs` the use is written to
   * the bucket as the LastModified of its access marker, for the other replicas' LRU order.
   */
  touch(namespace: ContentNamespace, digest: string): void {
    if (!this.index.touch(namespace, digest)) return;
    const write = this.client
      .send(new PutObjectCommand({ Bucket: this.bucket, Key: this.keys.marker(namespace, digest), Body: Buffer.alloc(0), ContentLength: 0 }))
      .then(
        () => undefined,
        // Costs LRU precision only.
        (err: unknown) => this.logger.debug({ digest, err: errorMessage(err) }, 'cannot record a use in object storage'),
      );
    this.#background.add(write);
    void write.finally(() => this.#background.delete(write));
  }

  /** Resolves once the access markers written so far are stored (shutdown, tests). */
  async flush(): Promise<void> {
    await Promise.all(this.#background);
  }

  /**
   * Size of the object holding `digest` as Signet wrote it; undefined when absent. An object
   * whose metadata does not vouch for it (written behind Signet's back) is removed, so the
   * content is fetched again, and reads as absent.
   */
  async head(namespace: ContentNamespace, digest: string): Promise<number | undefined> {
    const key = this.keys.content(namespace, digest);
    let found: { ContentLength?: number | undefined; Metadata?: Record<string, string> | undefined };
    try {
      found = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (isNotFound(err)) {
        this.index.delete(namespace, digest);
        return undefined;
      }
      throw s3Error(`cannot look up ${digest} in object storage`, err);
    }
    const problem = metadataProblem(found.Metadata, digest, found.ContentLength);
    if (problem !== undefined) {
      await this.dropCorrupted(namespace, digest, problem);
      return undefined;
    }
    return found.ContentLength;
  }

  /** Removes content that is not what its key says; it is fetched again from the upstream. */
  async dropCorrupted(namespace: ContentNamespace, digest: string, reason: string): Promise<void> {
    this.logger.warn({ digest, namespace, reason }, 'corrupted content in object storage removed');
    await this.delete(namespace, digest).catch((err: unknown) => this.logger.warn({ digest, err: errorMessage(err) }, 'cannot remove corrupted content'));
  }

  async createPending(): Promise<DiskPendingBlob> {
    await this.init();
    return DiskPendingBlob.create(this, join(this.tempDir, randomUUID()));
  }

  /**
   * Uploads a verified pending blob under its digest (see content.ts), accounts for it and
   * evicts down to the limit. The pending blob's descriptor stays open for its readers; its
   * local file is unlinked once the bytes are in the bucket. On failure the pending blob is
   * left as it was, for its owner to discard.
   */
  async commit(pending: PendingBlob, digest: string, size: number): Promise<void> {
    const key = this.keys.content('blobs', digest);
    if (!(pending instanceof DiskPendingBlob) || pending.owner !== this) {
      throw new SignetError('INTERNAL', `cannot commit ${digest}: the pending blob belongs to another store`);
    }
    if (pending.state !== 'writing' || this.#committing.has(pending)) {
      throw new SignetError(
        'STORAGE_ERROR',
        `cannot commit ${digest}: the pending blob is already ${this.#committing.has(pending) ? 'being committed' : pending.state}`,
      );
    }
    if (pending.length !== size) {
      throw new SignetError('STORAGE_ERROR', `cannot commit ${digest}: ${pending.length} bytes were written, not ${size}`);
    }
    this.#committing.add(pending);
    try {
      // A blob over the whole limit would be evicted at once: it is not uploaded at all.
      if (size <= this.#maxBytes && (await this.head('blobs', digest)) === undefined) await this.#upload(key, pending.path, digest, size);
      await unlink(pending.path).catch(() => undefined);
      pending.markCommitted();
    } finally {
      this.#committing.delete(pending);
    }
    this.index.set('blobs', digest, size, this.#clock());
    await this.evict();
  }

  async #upload(key: string, path: string, digest: string, size: number): Promise<void> {
    const body = createReadStream(path, { highWaterMark: DEFAULTS.blobReadChunkBytes });
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentLength: size,
        ContentType: 'application/octet-stream',
        Metadata: contentMetadata(digest, size),
        // Conditional create: an object already under the key is kept (see content.ts).
        IfNoneMatch: '*',
      },
      partSize: this.limits.partBytes,
      queueSize: this.limits.uploadConcurrency,
      // On any failure lib-storage aborts the multipart upload, so no parts are left behind
      // (init() aborts what a crash leaves).
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      if (isPreconditionFailed(err)) return; // another replica stored the same verified bytes first
      throw s3Error(`cannot store ${digest} in object storage`, err);
    } finally {
      body.destroy();
    }
  }

  /** Stores small verified content (a manifest) in one conditional PUT. */
  async putSmall(namespace: ContentNamespace, digest: string, bytes: Buffer, mediaType: string): Promise<void> {
    const key = this.keys.content(namespace, digest);
    await this.init();
    if (bytes.length <= this.#maxBytes) {
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            // A copy: the caller may reuse its buffer while the request is under way.
            Body: Buffer.from(bytes),
            ContentLength: bytes.length,
            ContentType: 'application/octet-stream',
            Metadata: contentMetadata(digest, bytes.length, mediaType),
            IfNoneMatch: '*',
          }),
        );
      } catch (err) {
        // Already stored (by this or another replica): content-addressed, so the same bytes.
        if (!isPreconditionFailed(err)) throw s3Error(`cannot store ${digest} in object storage`, err);
      }
    }
    this.index.set(namespace, digest, bytes.length, this.#clock());
    await this.evict();
  }

  /** Forgets content and removes its object and access marker; GETs already answering finish. */
  async delete(namespace: ContentNamespace, digest: string): Promise<void> {
    const key = this.keys.content(namespace, digest);
    const marker = this.keys.marker(namespace, digest);
    this.index.delete(namespace, digest);
    try {
      await Promise.all([
        this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })),
        this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: marker })),
      ]);
    } catch (err) {
      if (!isNotFound(err)) throw s3Error(`cannot delete ${digest} from object storage`, err);
    }
  }

  /**
   * Removes the least recently used content until the total fits. The total and order are
   * this replica's view, brought up to date from the bucket at most once per `listIntervalMs`.
   */
  async evict(): Promise<void> {
    if (this.#clock() - this.#listedAt >= this.limits.listIntervalMs) {
      // A failed listing leaves the view as it was; the content just stored stays stored.
      await this.refresh().catch((err: unknown) => this.logger.warn({ err: errorMessage(err) }, 'cannot list object storage for eviction'));
    }
    for (const entry of this.index.takeOverflow(this.#maxBytes)) {
      const { namespace, digest, size } = entry;
      try {
        await this.delete(namespace, digest);
      } catch (err) {
        // Out of the index already; an object left behind is listed again at the next refresh.
        this.logger.warn({ digest, namespace, err: errorMessage(err) }, 'cannot remove evicted content');
      }
      this.logger.info({ digest, namespace, size }, 'evicted from cache');
      this.#onEvict?.(namespace, digest, size);
    }
  }
}

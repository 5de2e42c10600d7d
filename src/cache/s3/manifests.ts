import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { DEFAULTS } from '../../config/defaults.js';
import { parseDigest } from '../../registry/names.js';
import type { ManifestStore, StoredManifest } from '../ports.js';
import { isNotFound, s3Error } from './client.js';
import { mediaTypeOf, metadataProblem } from './metadata.js';
import type { S3Objects } from './objects.js';

/**
 * Manifests of an S3 content backend: small objects under `manifests/<alg>/<hex>` with the
 * media type in their metadata, read whole and checked against their digest on every get (a
 * corrupted or foreign object is removed and reads as absent, so it is fetched again).
 */
export class S3ManifestStore implements ManifestStore {
  readonly #objects: S3Objects;

  constructor(objects: S3Objects) {
    this.#objects = objects;
  }

  async get(digest: string): Promise<StoredManifest | undefined> {
    const d = parseDigest(digest);
    const key = this.#objects.keys.content('manifests', digest);
    let bytes: Buffer;
    let problem: string | undefined;
    let mediaType: string | undefined;
    try {
      const answer = await this.#objects.client.send(new GetObjectCommand({ Bucket: this.#objects.bucket, Key: key }));
      problem = metadataProblem(answer.Metadata, digest, answer.ContentLength);
      mediaType = mediaTypeOf(answer.Metadata);
      if (problem === undefined && (answer.ContentLength ?? 0) > DEFAULTS.manifestMaxBytes) problem = `larger than ${DEFAULTS.manifestMaxBytes} bytes`;
      if (problem !== undefined || !answer.Body) {
        if (answer.Body instanceof Readable) answer.Body.destroy();
        bytes = Buffer.alloc(0);
      } else {
        bytes = Buffer.from(await answer.Body.transformToByteArray());
      }
    } catch (err) {
      if (isNotFound(err)) {
        this.#objects.index.delete('manifests', digest);
        return undefined;
      }
      throw s3Error(`cannot read manifest ${digest} from object storage`, err);
    }
    if (problem === undefined && createHash(d.algorithm).update(bytes).digest('hex') !== d.hex) problem = 'bytes do not hash to the digest';
    if (problem === undefined && mediaType === undefined) problem = 'no media type';
    if (problem !== undefined || mediaType === undefined) {
      await this.#objects.dropCorrupted('manifests', digest, problem ?? 'no media type');
      return undefined;
    }
    this.#objects.learn('manifests', digest, bytes.length);
    this.#objects.touch('manifests', digest);
    return { digest, mediaType, bytes };
  }

  /** Stores verified manifest bytes (the caller checked the digest). */
  async put(manifest: StoredManifest): Promise<void> {
    parseDigest(manifest.digest);
    await this.#objects.putSmall('manifests', manifest.digest, manifest.bytes, manifest.mediaType);
  }

  touch(digest: string): void {
    this.#objects.touch('manifests', digest);
  }

  async delete(digest: string): Promise<void> {
    await this.#objects.delete('manifests', digest);
  }
}

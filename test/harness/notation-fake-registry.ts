import { createHash } from 'node:crypto';
import type { FetchedBlob, FetchedManifest, ReferrerDescriptor, SignatureFetcher } from '../../src/registry/referrers.js';
import { SignatureFetchError } from '../../src/registry/signature-fetch-error.js';
import type { RevocationChecker } from '../../src/trust/notation/types.js';

/**
 * A signature-fetching port over the notation-go test vectors (test/fixtures/notation-go): the
 * image `ca_valid_sig_env.json` signs, and the Notation signature artifacts a test adds, for
 * unit tests of the Notation source. Real registries are used by the integration tests.
 */

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
/** What ca_valid_sig_env.json signs (its payload's targetArtifact). */
export const VECTOR_IMAGE = 'sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e';
const digestOf = (s: string | Buffer): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;

/** A registry holding the signed manifest (528 bytes of a Docker manifest) and Notation signature artifacts. */
export class FakeSignatureRegistry implements SignatureFetcher {
  readonly descriptors: ReferrerDescriptor[] = [];
  readonly manifests = new Map<string, { json: unknown; mediaType: string; bytes: Buffer }>();
  readonly blobs = new Map<string, Buffer>();
  down = false;
  calls = 0;

  constructor() {
    this.manifests.set(VECTOR_IMAGE, { json: {}, mediaType: DOCKER_MANIFEST, bytes: Buffer.alloc(528, 0x20) });
  }

  /** One signature artifact; `layers` defaults to the envelope as the only layer. */
  add(envelope: Buffer, options: { layers?: unknown[]; subjectDigest?: string } = {}): void {
    this.blobs.set(digestOf(envelope), envelope);
    const manifest = {
      artifactType: 'application/vnd.cncf.notary.signature',
      subject: { mediaType: DOCKER_MANIFEST, digest: options.subjectDigest ?? VECTOR_IMAGE, size: 528 },
      layers: options.layers ?? [{ mediaType: 'application/jose+json', digest: digestOf(envelope), size: envelope.length }],
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    this.manifests.set(digestOf(bytes), { json: manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json', bytes });
    this.descriptors.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: digestOf(bytes),
      size: bytes.length,
      artifactType: 'application/vnd.cncf.notary.signature',
      annotations: {},
      source: 'referrers-tag',
      tag: 'sha256-x',
    });
  }

  referrers(): Promise<ReferrerDescriptor[]> {
    this.calls++;
    if (this.down) return Promise.reject(new SignatureFetchError('unavailable', 'connection refused'));
    return Promise.resolve(this.descriptors);
  }

  manifest(_repository: string, digest: string): Promise<FetchedManifest> {
    if (this.down) return Promise.reject(new SignatureFetchError('unavailable', 'connection refused'));
    const m = this.manifests.get(digest);
    if (!m) return Promise.reject(new SignatureFetchError('not_found', `no manifest ${digest}`));
    return Promise.resolve({ digest, mediaType: m.mediaType, bytes: m.bytes, json: m.json });
  }

  blob(_repository: string, digest: string): Promise<FetchedBlob> {
    const bytes = this.blobs.get(digest);
    if (!bytes) return Promise.reject(new SignatureFetchError('not_found', `no blob ${digest}`));
    return Promise.resolve({ digest, bytes });
  }
}

/** Every certificate of the vectors has no revocation endpoint. */
export const nonRevokable: RevocationChecker = { check: (chain) => Promise.resolve(chain.map(() => ({ status: 'nonRevokable' as const }))) };

import { createHash } from 'node:crypto';
import { ARTIFACT_TYPES } from './artifacts.js';
import { MEDIA_TYPES } from './images.js';
import { signWithKey, verifyWithKey, type CosignKey } from './cosign-keys.js';
import { goDescriptor, goJson, goMap, manifestIfTagged, pushWithBlobs, registryHost, type GoDescriptor, type SignedImage } from './cosign-oci.js';
import type { MockRekor } from './cosign-sigstore.js';
import { registryRequest, expectStatus, type RegistryTarget } from './registry-client.js';
import { sha256Digest } from './streams.js';

/**
 * cosign's legacy signatures (`cosign sign --new-bundle-format=false`, and every cosign before
 * 3.0): the simple-signing payload signed with a key, one layer per signature of an OCI image
 * stored under the tag `sha256-<hex>.sig`, laid out as cosign's pkg/oci/static, pkg/oci/mutate and
 * go-containerregistry's mutate.Append make it.
 */

export const LEGACY_ANNOTATIONS = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
  bundle: 'dev.sigstore.cosign/bundle',
  rfc3161Timestamp: 'dev.sigstore.cosign/rfc3161timestamp',
} as const;

export interface LegacyOptions {
  /** The digest the payload claims (default: the image's): a signature of another image, copied here. */
  payloadDigest?: string;
  /** `critical.identity.docker-reference` (default `<registry host>/<repo>`, ggcr's Repository.Name()). */
  dockerReference?: string;
  /** `cosign sign -a key=value`: the payload's `optional` (null without). */
  annotations?: Record<string, string>;
  /** Upload a hashedrekord entry and attach its SET as the `dev.sigstore.cosign/bundle` annotation. */
  tlog?: MockRekor;
  /**
   * Append even when the same key already signed the same payload. cosign does not (its
   * DupeDetector keeps the existing signature); this builds what another tool might push.
   */
  keepDuplicates?: boolean;
  /** Signs the payload bytes instead of the key's private key in process (e.g. the openssl CLI). */
  sign?: (payload: Buffer) => Promise<Buffer>;
}

/** The `dev.sigstore.cosign/bundle` annotation: cosign's RekorBundle (pkg/cosign/bundle/rekor.go). */
export interface RekorBundleAnnotation {
  SignedEntryTimestamp: string;
  Payload: { body: string; integratedTime: number; logIndex: number; logID: string };
}

export interface LegacySignature {
  /** `sha256-<hex>.sig` */
  tag: string;
  payload: Buffer;
  /** Base64 signature, as in the layer annotation. */
  signature: string;
  layer: GoDescriptor;
  /** The `.sig` manifest after this signature (all signatures of the image). */
  manifest: Buffer;
  manifestDigest: string;
  rekorBundle: RekorBundleAnnotation | undefined;
  /** False when an identical signature was already there and nothing was pushed. */
  pushed: boolean;
}

/** cosign's legacy signature tag of a digest. */
export function legacySignatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

/**
 * The simple-signing payload as sigstore/sigstore payload.Cosign marshals it: Go struct field order,
 * `optional` null without annotations.
 */
export function simpleSigningPayload(dockerReference: string, digest: string, annotations?: Record<string, string>): Buffer {
  return goJson({
    critical: { identity: { 'docker-reference': dockerReference }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' },
    optional: annotations ? goMap(annotations) : null,
  });
}

/**
 * The `.sig` image: ggcr's empty image made OCI (pkg/oci/empty), one appended layer per signature;
 * mutate.Append adds a zero-time history entry and the layer digest as diff ID for each. cosign
 * records no creation time unless asked (--record-creation-timestamp).
 */
export function legacySignatureManifest(layers: GoDescriptor[]): { manifest: Buffer; config: Buffer } {
  const zero = '0001-01-01T00:00:00Z';
  const config = goJson({
    architecture: '',
    created: zero,
    history: layers.map(() => ({ created: zero })),
    os: '',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    config: {},
  });
  const manifest = goJson({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: goDescriptor({ mediaType: MEDIA_TYPES.ociConfig, size: config.length, digest: sha256Digest(config) }),
    layers: layers.map(goDescriptor),
  });
  return { manifest, config };
}

async function rekorBundle(tlog: MockRekor, key: CosignKey, payload: Buffer, signature: Buffer): Promise<RekorBundleAnnotation> {
  if (!key.hash) throw new Error(`a ${key.algorithm} signature cannot go to a transparency log: hashedrekord needs a prehashed scheme`);
  // hashedrekord 0.0.1 as sigstore-go proposes it for a message signature.
  const entry = await tlog.log({
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: key.hash, value: createHash(key.hash).update(payload).digest('hex') } },
      signature: { content: signature.toString('base64'), publicKey: { content: Buffer.from(key.publicKeyPem).toString('base64') } },
    },
  });
  return {
    SignedEntryTimestamp: entry.verification.signedEntryTimestamp,
    Payload: { body: entry.body, integratedTime: entry.integratedTime, logIndex: entry.logIndex, logID: entry.logID },
  };
}

/** Signs `image` with `key` as `cosign sign --key` (legacy format) does and pushes the `.sig` manifest. */
export async function signLegacy(
  registry: RegistryTarget,
  repo: string,
  image: SignedImage,
  key: CosignKey,
  opts: LegacyOptions = {},
): Promise<LegacySignature> {
  const tag = legacySignatureTag(image.digest);
  const payload = simpleSigningPayload(opts.dockerReference ?? `${registryHost(registry)}/${repo}`, opts.payloadDigest ?? image.digest, opts.annotations);
  const payloadDigest = sha256Digest(payload);

  const existing = await manifestIfTagged(registry, repo, tag, MEDIA_TYPES.ociManifest);
  const layers: GoDescriptor[] = existing ? ((JSON.parse(existing.toString('utf8')) as { layers?: GoDescriptor[] }).layers ?? []) : [];
  if (existing && !opts.keepDuplicates) {
    const same = layers.find((l) => {
      const b64 = l.digest === payloadDigest ? l.annotations?.[LEGACY_ANNOTATIONS.signature] : undefined;
      return b64 !== undefined && verifyWithKey(key, payload, Buffer.from(b64, 'base64'));
    });
    if (same) {
      return {
        tag,
        payload,
        signature: same.annotations?.[LEGACY_ANNOTATIONS.signature] ?? '',
        layer: same,
        manifest: existing,
        manifestDigest: sha256Digest(existing),
        rekorBundle: undefined,
        pushed: false,
      };
    }
  }

  const signature = opts.sign ? await opts.sign(payload) : signWithKey(key, payload);
  const annotations: Record<string, string> = { [LEGACY_ANNOTATIONS.signature]: signature.toString('base64') };
  const bundle = opts.tlog ? await rekorBundle(opts.tlog, key, payload, signature) : undefined;
  if (bundle) annotations[LEGACY_ANNOTATIONS.bundle] = goJson(bundle).toString('utf8');
  const layer = goDescriptor({ mediaType: ARTIFACT_TYPES.simpleSigning, size: payload.length, digest: payloadDigest, annotations });

  const { manifest, config } = legacySignatureManifest([...layers, layer]);
  // The registry already has the earlier layers' blobs; distribution accepts re-uploads anyway.
  const manifestDigest = await pushWithBlobs(registry, repo, tag, manifest, [config, payload]);
  return { tag, payload, signature: signature.toString('base64'), layer, manifest, manifestDigest, rekorBundle: bundle, pushed: true };
}

/** The payloads and annotations of every signature under an image's `.sig` tag (empty when none). */
export async function readLegacySignatures(
  registry: RegistryTarget,
  repo: string,
  digest: string,
): Promise<Array<{ payload: Buffer; annotations: Record<string, string> }>> {
  const manifest = await manifestIfTagged(registry, repo, legacySignatureTag(digest), MEDIA_TYPES.ociManifest);
  if (!manifest) return [];
  const layers = (JSON.parse(manifest.toString('utf8')) as { layers?: GoDescriptor[] }).layers ?? [];
  const out: Array<{ payload: Buffer; annotations: Record<string, string> }> = [];
  for (const layer of layers) {
    const blob = expectStatus(await registryRequest(registry, 'GET', `/v2/${repo}/blobs/${layer.digest}`), `GET blob ${layer.digest}`, 200);
    out.push({ payload: blob.body, annotations: layer.annotations ?? {} });
  }
  return out;
}

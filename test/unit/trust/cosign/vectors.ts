import { createHash } from 'node:crypto';
import { bundleToJSON, type Bundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, FulcioSigner, MessageSignatureBundleBuilder, RekorWitness, TSAWitness, type Signer, type Witness } from '@sigstore/sign';
import type { ValidityWindow } from '../../../harness/cosign-fulcio.js';
import { signWithKey, type CosignKey } from '../../../harness/cosign-keys.js';
import { mockTrustedRoot, type MockSigstore, type TrustedRootOptions } from '../../../harness/cosign-sigstore.js';
import { LEGACY_ANNOTATIONS } from '../../../../src/trust/cosign/legacy-signature.js';
import { prepareCosignPolicy, type CosignPolicy, type LegacySignatureLayer } from '../../../../src/trust/cosign/sigstore-verifier.js';
import type { IdentityRule } from '../../../../src/trust/cosign/identity.js';
import { encodePem } from '../../../../src/trust/x509/pem.js';

/**
 * Fresh cosign signatures for the verification tests: DSSE bundles as cosign 3 makes them,
 * message-signature bundles, and legacy `.sig` layers, signed with node:crypto keys or keylessly
 * through the mock Fulcio, Rekor and TSA of test/harness/cosign-sigstore.ts.
 */

export const COSIGN_SIGN = 'https://sigstore.dev/cosign/sign/v1';
export const SLSA_PROVENANCE = 'https://slsa.dev/provenance/v1';
export const IN_TOTO = 'application/vnd.in-toto+json';
export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
export const RELEASE_WORKFLOW = 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.3';

/** A random image digest. */
export function imageDigest(seed: string): string {
  return `sha256:${createHash('sha256').update(seed).digest('hex')}`;
}

/** The in-toto statement `cosign sign` signs (or an attestation's, with another predicate type). */
export function statement(digest: string, predicateType = COSIGN_SIGN): Buffer {
  const hex = digest.slice('sha256:'.length);
  return Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ digest: { sha256: hex } }], predicateType, predicate: {} }));
}

/** cosign's simple-signing payload for a legacy `.sig` layer. */
export function simpleSigning(digest: string, type = 'cosign container image signature'): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': 'registry.test/acme/app' }, image: { 'docker-manifest-digest': digest }, type },
      optional: null,
    }),
  );
}

export interface WitnessOptions {
  /** Log the signature in this mock Rekor (v1 API: SET and inclusion proof). */
  tlog?: MockSigstore;
  /** Timestamp the signature with this mock TSA. */
  tsa?: MockSigstore;
}

function witnesses(opts: WitnessOptions, entryType?: 'dsse'): Witness[] {
  const out: Witness[] = [];
  if (opts.tlog) out.push(new RekorWitness({ rekorBaseURL: opts.tlog.rekor.url, ...(entryType ? { entryType } : {}) }));
  if (opts.tsa) out.push(new TSAWitness({ tsaBaseURL: opts.tsa.tsa.url }));
  return out;
}

function keySigner(key: CosignKey, hint: string): Signer {
  return { sign: async (data) => ({ signature: signWithKey(key, data), key: { $case: 'publicKey', publicKey: key.publicKeyPem, hint } }) };
}

function asJson(bundle: Bundle): Record<string, unknown> {
  return bundleToJSON(bundle);
}

/** A DSSE bundle signed with `key` (cosign sign --key), with cosign's key hint unless `hint` is given. */
export async function keyDsseBundle(key: CosignKey, payload: Buffer, opts: WitnessOptions & { hint?: string } = {}): Promise<Record<string, unknown>> {
  const bundle = await new DSSEBundleBuilder({ signer: keySigner(key, opts.hint ?? key.hint), witnesses: witnesses(opts, 'dsse') }).create({
    data: payload,
    type: IN_TOTO,
  });
  return asJson(bundle);
}

/** A message-signature bundle over `payload` signed with `key`. */
export async function keyMessageBundle(key: CosignKey, payload: Buffer, opts: WitnessOptions = {}): Promise<Bundle> {
  return new MessageSignatureBundleBuilder({ signer: keySigner(key, key.hint), witnesses: witnesses(opts) }).create({ data: payload });
}

export interface KeylessOptions {
  /** Default: log in the mock Rekor. */
  tlog?: boolean;
  tsa?: boolean;
  /** The leaf certificate's validity (default: now, ten minutes). */
  certificateWindow?: ValidityWindow;
  /** More OIDC token claims, which the mock Fulcio turns into certificate extensions. */
  claims?: Record<string, string>;
  issuer?: string;
}

function fulcioSigner(sigstore: MockSigstore, subject: string, opts: KeylessOptions): Signer {
  const claims = { ...opts.claims, iss: opts.issuer ?? GITHUB_ISSUER, sub: subject, aud: 'sigstore' };
  const part = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const token = `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
  return new FulcioSigner({ fulcioBaseURL: sigstore.fulcio.url(opts.certificateWindow), identityProvider: { getToken: async () => token } });
}

function keylessWitnesses(sigstore: MockSigstore, opts: KeylessOptions, entryType?: 'dsse'): Witness[] {
  return witnesses({ ...((opts.tlog ?? true) ? { tlog: sigstore } : {}), ...(opts.tsa ? { tsa: sigstore } : {}) }, entryType);
}

/** A keyless DSSE bundle (cosign sign, cosign 3) for the certificate identity `subject`. */
export async function keylessDsseBundle(sigstore: MockSigstore, subject: string, payload: Buffer, opts: KeylessOptions = {}): Promise<Record<string, unknown>> {
  const builder = new DSSEBundleBuilder({ signer: fulcioSigner(sigstore, subject, opts), witnesses: keylessWitnesses(sigstore, opts, 'dsse') });
  return asJson(await builder.create({ data: payload, type: IN_TOTO }));
}

/** A keyless message-signature bundle over `payload`. */
export async function keylessMessageBundle(sigstore: MockSigstore, subject: string, payload: Buffer, opts: KeylessOptions = {}): Promise<Bundle> {
  return new MessageSignatureBundleBuilder({ signer: fulcioSigner(sigstore, subject, opts), witnesses: keylessWitnesses(sigstore, opts) }).create({
    data: payload,
  });
}

/**
 * The legacy `.sig` layer cosign writes for a message-signature bundle over the simple-signing
 * `payload` (cmd/cosign/cli/sign/sign.go signDigest: signature, certificate and chain, the Rekor
 * bundle from the first log entry, the first RFC 3161 timestamp).
 */
export function legacyLayer(bundle: Bundle, payload: Buffer): LegacySignatureLayer {
  if (bundle.content.$case !== 'messageSignature') throw new Error('a legacy signature is a message signature');
  const annotations: Record<string, string> = { [LEGACY_ANNOTATIONS.signature]: bundle.content.messageSignature.signature.toString('base64') };
  const material = bundle.verificationMaterial;
  const leaf =
    material.content.$case === 'certificate'
      ? material.content.certificate.rawBytes
      : material.content.$case === 'x509CertificateChain'
        ? material.content.x509CertificateChain.certificates[0]?.rawBytes
        : undefined;
  if (leaf) {
    annotations[LEGACY_ANNOTATIONS.certificate] = encodePem('CERTIFICATE', leaf);
    annotations[LEGACY_ANNOTATIONS.chain] = '';
  }
  const entry = material.tlogEntries[0];
  if (entry) annotations[LEGACY_ANNOTATIONS.bundle] = JSON.stringify(rekorBundle(entry));
  const timestamp = material.timestampVerificationData?.rfc3161Timestamps[0];
  if (timestamp) annotations[LEGACY_ANNOTATIONS.rfc3161Timestamp] = JSON.stringify({ SignedRFC3161Timestamp: timestamp.signedTimestamp.toString('base64') });
  return { payload, annotations };
}

/** cosign's RekorBundle of a log entry (cmd/cosign/cli/signcommon RekorBundleFromProtoTlogEntry). */
export function rekorBundle(entry: Bundle['verificationMaterial']['tlogEntries'][number]): Record<string, unknown> {
  return {
    SignedEntryTimestamp: entry.inclusionPromise?.signedEntryTimestamp.toString('base64'),
    Payload: {
      body: entry.canonicalizedBody.toString('base64'),
      integratedTime: Number(entry.integratedTime),
      logIndex: Number(entry.logIndex),
      logID: entry.logId.keyId.toString('hex'),
    },
  };
}

export interface PolicyOptions {
  keys?: CosignKey[];
  identities?: IdentityRule[];
  sigstore?: MockSigstore;
  root?: TrustedRootOptions;
  tlog?: boolean;
}

/** A prepared policy: pinned keys, identities, the mock services' trusted root (when `sigstore` is given). */
export function policy(opts: PolicyOptions): CosignPolicy {
  return prepareCosignPolicy({
    keys: (opts.keys ?? []).map((k) => ({ path: `${k.kind}.pub`, pem: k.publicKeyPem })),
    identities: opts.identities ?? [],
    trustedRoot: opts.sigstore ? { path: 'trusted_root.json', json: mockTrustedRoot(opts.sigstore, opts.root) } : undefined,
    tlog: opts.tlog ?? true,
    path: 'policy.rules.0.require.cosign',
  });
}

/** An identity rule with an exact subject. */
export function exact(subject: string, issuer = GITHUB_ISSUER, extensions: Record<string, string> = {}): IdentityRule {
  return { issuer, subject: { kind: 'exact', value: subject }, extensions };
}

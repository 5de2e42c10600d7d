import { createPublicKey } from 'node:crypto';
import type { TransparencyLogEntry } from '@sigstore/bundle';
import { isObject } from '../../registry/descriptors.js';
import { Denial } from '../source.js';
import { decodeFirstPemBlock } from '../x509/pem.js';

/**
 * A log entry must record the key (or certificate) that made the signature, not only the same
 * signature bytes and digest. @sigstore/verify compares signature and digest only
 * (tlog/hashedrekord.ts, tlog/dsse.ts); sigstore-go also compares the key (pkg/verify/tlog.go:
 * "transparency log certificate does not match", with pkg/tlog/entry.go PublicKey), and so does
 * cosign for a legacy signature's Rekor bundle (pkg/cosign/verify.go comparePublicKey). Without it
 * an entry logged under another key (ECDSA lets anyone derive a key under which a given
 * signature verifies) would pass as this signature's entry, and monitors watching the real key
 * would never see it.
 */

/** What verified the signature: a pinned key (DER SubjectPublicKeyInfo) or the leaf certificate (DER). */
export type SigningMaterial = { kind: 'key'; spki: Buffer } | { kind: 'certificate'; der: Buffer };

type Recorded = { kind: 'key' | 'certificate'; der: Buffer };

/** Throws Denial('bad_signature') unless every entry records `signer`. */
export function assertEntriesRecordSigner(entries: readonly TransparencyLogEntry[], signer: SigningMaterial): void {
  for (const entry of entries) {
    const { kind, version } = entry.kindVersion;
    const recorded = recordedSigner(entry.canonicalizedBody);
    if (recorded === undefined) {
      throw new Denial('bad_signature', `its transparency-log entry (${kind} ${version}) records no key or certificate Signet can compare with the signer`);
    }
    if (!sameSigner(recorded, signer)) {
      throw new Denial(
        'bad_signature',
        `its transparency-log entry (${kind} ${version}) records another ${recorded.kind} than the one that made the signature: the entry is not this signature's`,
      );
    }
  }
}

function sameSigner(recorded: Recorded, signer: SigningMaterial): boolean {
  if (signer.kind === 'certificate') return recorded.kind === 'certificate' && recorded.der.equals(signer.der);
  if (recorded.kind !== 'key') return false;
  try {
    return createPublicKey({ key: recorded.der, format: 'der', type: 'spki' }).export({ format: 'der', type: 'spki' }).equals(signer.spki);
  } catch {
    return false;
  }
}

/**
 * The verifier a Rekor entry body records: v1 bodies (hashedrekord 0.0.1, dsse 0.0.1, intoto
 * 0.0.1/0.0.2) hold a base64 PEM key or certificate; v2 bodies (hashedrekord 0.0.2, dsse 0.0.2)
 * a `verifier` with the DER `publicKey.rawBytes` or `x509Certificate.rawBytes`.
 */
function recordedSigner(canonicalizedBody: Buffer): Recorded | undefined {
  let body: unknown;
  try {
    body = JSON.parse(canonicalizedBody.toString('utf8'));
  } catch {
    return undefined;
  }
  const spec = isObject(body) ? body['spec'] : undefined;
  if (!isObject(body) || !isObject(spec)) return undefined;
  const kind = body['kind'];
  const version = body['apiVersion'];
  if (kind === 'hashedrekord' && version === '0.0.1') return fromPem(path(spec, 'signature', 'publicKey', 'content'));
  if (kind === 'dsse' && version === '0.0.1') return fromPem(path(first(spec['signatures']), 'verifier'));
  if (kind === 'intoto' && version === '0.0.2') return fromPem(path(first(path(spec, 'content', 'envelope', 'signatures')), 'publicKey'));
  if (kind === 'intoto' && version === '0.0.1') return fromPem(path(spec, 'publicKey'));
  if (kind === 'hashedrekord' && version === '0.0.2') return fromV2Verifier(path(spec, 'hashedRekordV002', 'signature', 'verifier'));
  if (kind === 'dsse' && version === '0.0.2') return fromV2Verifier(path(first(path(spec, 'dsseV002', 'signatures')), 'verifier'));
  return undefined;
}

function fromPem(base64Pem: unknown): Recorded | undefined {
  if (typeof base64Pem !== 'string') return undefined;
  const block = decodeFirstPemBlock(Buffer.from(base64Pem, 'base64'));
  if (block?.type === 'CERTIFICATE') return { kind: 'certificate', der: block.bytes };
  if (block?.type === 'PUBLIC KEY') return { kind: 'key', der: block.bytes };
  return undefined;
}

function fromV2Verifier(verifier: unknown): Recorded | undefined {
  const key = path(verifier, 'publicKey', 'rawBytes');
  if (typeof key === 'string') return { kind: 'key', der: Buffer.from(key, 'base64') };
  const certificate = path(verifier, 'x509Certificate', 'rawBytes');
  if (typeof certificate === 'string') return { kind: 'certificate', der: Buffer.from(certificate, 'base64') };
  return undefined;
}

function path(value: unknown, ...keys: string[]): unknown {
  let here = value;
  for (const key of keys) here = isObject(here) ? here[key] : undefined;
  return here;
}

function first(value: unknown): unknown {
  return Array.isArray(value) ? (value as unknown[])[0] : undefined;
}

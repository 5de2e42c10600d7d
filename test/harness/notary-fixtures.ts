/**
 * Shared helpers for the Notary tests: loading the real fixtures written by
 * test/fixtures/notary/generate.sh, and making throw-away keys that sign like Notary does.
 */
import { generateKeyPairSync, sign, constants, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { keyId, type PublicKeyRecord } from '../../src/trust/notary/keys.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/notary/', import.meta.url));

export interface FixtureInfo {
  readonly gun: string;
  readonly generatedAt: string;
  readonly rootCanonicalKeyId?: string;
  readonly targets?: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

export function fixtureBytes(relative: string): Buffer {
  return readFileSync(FIXTURES + relative);
}

export function fixtureInfo(name: string): FixtureInfo {
  return JSON.parse(fixtureBytes(`${name}/fixture.json`).toString('utf8')) as FixtureInfo;
}

/** The clock the fixtures were made at: certificates are valid then, whatever today is. */
export function fixtureNow(name: string): Date {
  return new Date(fixtureInfo(name).generatedAt);
}

export interface TestKey {
  readonly record: PublicKeyRecord;
  readonly id: string;
  readonly method: string;
  sign(message: Uint8Array): Buffer;
}

/** A key of the given kind whose signatures are in Notary's format for its method. */
export function makeKey(kind: 'ecdsa' | 'ed25519' | 'rsa', options: { rsaBits?: number; curve?: string } = {}): TestKey {
  if (kind === 'ed25519') {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
    return build({ keytype: 'ed25519', public: raw }, 'eddsa', (m) => sign(null, m, privateKey));
  }
  if (kind === 'ecdsa') {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: options.curve ?? 'prime256v1' });
    return build(spki('ecdsa', publicKey), 'ecdsa', (m) => sign('sha256', m, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
  }
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: options.rsaBits ?? 2048 });
  return build(spki('rsa', publicKey), 'rsapss', (m) => sign('sha256', m, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }));
}

function spki(keytype: string, key: KeyObject): PublicKeyRecord {
  return { keytype, public: key.export({ format: 'der', type: 'spki' }) };
}

function build(record: PublicKeyRecord, method: string, signer: (m: Uint8Array) => Buffer): TestKey {
  return { record, id: keyId(record), method, sign: signer };
}

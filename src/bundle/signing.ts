import { createHash, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { z } from 'zod';
import { DEFAULTS } from '../config/defaults.js';
import { errorMessage } from '../errors.js';
import { printable } from '../registry/names.js';
import { BUNDLE_SIGNATURE_FILE, BundleError } from './bundle-manifest.js';

/**
 * Ed25519 signatures of bundle manifests (RFC 8032), with @noble/ed25519's async API (it hashes
 * with WebCrypto's SHA-512, so the library needs no global `hashes` set up).
 *
 * Keys are PEM files OpenSSL reads and writes (`openssl genpkey -algorithm ed25519` makes a valid
 * private key, `openssl pkey -pubout` its public key): RFC 8410 PKCS#8 and SPKI with the
 * id-Ed25519 OID 1.3.101.112. Only that exact DER is accepted, so another key type is refused
 * with a message instead of being misread.
 */

/** RFC 8410 §7: PKCS#8 OneAsymmetricKey v0, id-Ed25519, then the 32-byte seed as an OCTET STRING. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** RFC 8410 §4: SubjectPublicKeyInfo, id-Ed25519, then the 32-byte public key as a BIT STRING. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;

/**
 * Domain separation: what is signed is this ASCII prefix followed by the manifest bytes, never
 * the bytes alone. A bundle key's signature therefore verifies only as a bundle-manifest
 * signature: it can never be replayed as a signature over any other Ed25519-signed message (a
 * cosign payload, a JWT, another tool's file signed with the same key), and no signature made
 * for those can pass as a bundle's. `v1` changes if the signed message ever changes shape.
 */
const SIGNED_PREFIX = Buffer.from('signet-bundle-v1\n', 'ascii');

const KEYGEN_HINT = 'generate one with `signet bundle keygen`';

/** A pinned public key: what verifies bundles. */
export interface BundlePublicKey {
  /** Lowercase hex SHA-256 of the 32-byte raw public key. */
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  /** The file it was read from (for messages). */
  readonly path: string;
}

/** A private key: signs bundles. The seed is a private field, so it is never logged or serialised by accident. */
export class BundlePrivateKey implements BundlePublicKey {
  readonly #seed: Uint8Array;
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  readonly path: string;

  constructor(seed: Uint8Array, publicKey: Uint8Array, path: string) {
    this.#seed = seed;
    this.publicKey = publicKey;
    this.keyId = keyIdOf(publicKey);
    this.path = path;
  }

  /** The bare Ed25519 signature of `message` (callers sign bundle manifests with signBundleManifest). */
  signRaw(message: Uint8Array): Promise<Uint8Array> {
    return ed.signAsync(message, this.#seed);
  }
}

export interface BundleKeyPair {
  privatePem: string;
  publicPem: string;
  keyId: string;
}

/** A fresh key pair (32 random bytes from the OS CSPRNG as the seed), as PEM. */
export async function generateBundleKeyPair(): Promise<BundleKeyPair> {
  const seed = randomBytes(KEY_BYTES);
  const publicKey = await ed.getPublicKeyAsync(seed);
  return {
    privatePem: toPem('PRIVATE KEY', Buffer.concat([PKCS8_PREFIX, seed])),
    publicPem: toPem('PUBLIC KEY', Buffer.concat([SPKI_PREFIX, publicKey])),
    keyId: keyIdOf(publicKey),
  };
}

/** Reads a PKCS#8 Ed25519 private key (`-----BEGIN PRIVATE KEY-----`); `path` names the file in messages. */
export function readBundlePrivateKey(pem: string, path: string): BundlePrivateKey {
  const der = readPem(pem, path, 'PRIVATE KEY');
  if (der.length !== PKCS8_PREFIX.length + KEY_BYTES || !der.subarray(0, PKCS8_PREFIX.length).equals(PKCS8_PREFIX)) {
    throw new BundleError(`${path} is not an Ed25519 private key (PKCS#8): ${KEYGEN_HINT}`);
  }
  const seed = Uint8Array.from(der.subarray(PKCS8_PREFIX.length));
  // The public key is derived with Node's OpenSSL here so reading stays synchronous (noble's
  // synchronous API would need its global hash set); noble derives the same bytes (unit-tested).
  let publicKey: Uint8Array;
  try {
    const spki = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });
    publicKey = Uint8Array.from(spki.subarray(SPKI_PREFIX.length));
  } catch (err) {
    throw new BundleError(`${path} cannot be read as an Ed25519 private key (${errorMessage(err)}): ${KEYGEN_HINT}`, { cause: err });
  }
  return new BundlePrivateKey(seed, publicKey, path);
}

/** Reads an SPKI Ed25519 public key (`-----BEGIN PUBLIC KEY-----`); `path` names the file in messages. */
export function readBundlePublicKey(pem: string, path: string): BundlePublicKey {
  const der = readPem(pem, path, 'PUBLIC KEY');
  if (der.length !== SPKI_PREFIX.length + KEY_BYTES || !der.subarray(0, SPKI_PREFIX.length).equals(SPKI_PREFIX)) {
    throw new BundleError(`${path} is not an Ed25519 public key (SPKI): ${KEYGEN_HINT}`);
  }
  const publicKey = Uint8Array.from(der.subarray(SPKI_PREFIX.length));
  try {
    // RFC 8032 §5.1.3: the encoding must decode to a curve point, else no signature can verify.
    ed.Point.fromBytes(publicKey);
  } catch (err) {
    throw new BundleError(`${path} holds no valid Ed25519 public key (${errorMessage(err)}): ${KEYGEN_HINT}`, { cause: err });
  }
  return { keyId: keyIdOf(publicKey), publicKey, path };
}

/** The bytes of `signet-bundle.sig` for these manifest bytes. */
export async function signBundleManifest(manifestBytes: Buffer, key: BundlePrivateKey): Promise<Buffer> {
  const signature = await key.signRaw(signedMessage(manifestBytes));
  const file: SignatureFile = { algorithm: 'ed25519', keyId: key.keyId, signature: Buffer.from(signature).toString('base64') };
  return Buffer.from(`${JSON.stringify(file)}\n`, 'utf8');
}

/**
 * Verifies `signet-bundle.sig` (untrusted: size-limited, then validated) over the manifest bytes
 * with the pinned key it names. Answers the key that verified; throws BundleError otherwise.
 */
export async function verifyBundleSignature(manifestBytes: Buffer, signatureBytes: Buffer, keys: readonly BundlePublicKey[]): Promise<{ keyId: string }> {
  if (keys.length === 0) {
    throw new BundleError(
      'no bundle key is pinned, so no bundle can be verified: pin the exporting side’s public key in bundles.keys or pass --key <public.pem>',
    );
  }
  const sig = parseSignatureFile(signatureBytes);
  const key = keys.find((k) => k.keyId === sig.keyId);
  if (!key) {
    const pinned = keys.map((k) => `${k.keyId} (${k.path})`).join(', ');
    throw new BundleError(
      `the bundle is signed by key ${sig.keyId}, which is not pinned: pinned keys are ${pinned}; pin the exporter’s public key (bundles.keys / --key) if you trust it`,
    );
  }
  const signature = Buffer.from(sig.signature, 'base64');
  let ok: boolean;
  try {
    // zip215: false — strict RFC 8032 / FIPS 186-5 verification (canonical encodings only), so
    // exactly one encoding of a signature verifies.
    ok = await ed.verifyAsync(signature, signedMessage(manifestBytes), key.publicKey, { zip215: false });
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new BundleError(
      `the ${BUNDLE_SIGNATURE_FILE} signature does not verify: the bundle manifest was changed or signed by another key; do not import this bundle, export it again`,
    );
  }
  return { keyId: key.keyId };
}

interface SignatureFile {
  algorithm: 'ed25519';
  keyId: string;
  signature: string;
}

const signatureFileSchema = z.strictObject({
  algorithm: z.literal('ed25519'),
  keyId: z.string().regex(/^[a-f0-9]{64}$/, 'expected 64 lowercase hex characters'),
  // 64 bytes in standard padded base64 are exactly 86 characters and "==".
  signature: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, `expected the base64 of ${SIGNATURE_BYTES} bytes`),
});

function parseSignatureFile(bytes: Buffer): SignatureFile {
  const malformed = `${BUNDLE_SIGNATURE_FILE} is malformed`;
  const hint = 'the bundle is damaged or was not written by signet';
  if (bytes.length > DEFAULTS.bundle.signatureMaxBytes) {
    throw new BundleError(`${malformed}: ${bytes.length} bytes, over the limit of ${DEFAULTS.bundle.signatureMaxBytes}: ${hint}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new BundleError(`${malformed}: not JSON (${errorMessage(err)}): ${hint}`, { cause: err });
  }
  const result = signatureFileSchema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues
      .slice(0, 3)
      .map((i) =>
        i.code === 'unrecognized_keys'
          ? `unknown key ${i.keys.map((k) => printable(k)).join(', ')}`
          : `${i.path.map(String).join('.') || '(top level)'}: ${i.message}`,
      );
    throw new BundleError(`${malformed}: ${issues.join('; ')}: ${hint}`);
  }
  return result.data;
}

function signedMessage(manifestBytes: Buffer): Uint8Array {
  return Buffer.concat([SIGNED_PREFIX, manifestBytes]);
}

function keyIdOf(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex');
}

/** RFC 7468 §2: 64-character base64 lines between the BEGIN and END lines. */
function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * RFC 7468 strict-ish: exactly one block with the expected label, standard padded base64 body
 * (line breaks anywhere), nothing but whitespace around it. Another label gets a message saying
 * what the file holds instead.
 */
function readPem(pem: string, path: string, label: 'PRIVATE KEY' | 'PUBLIC KEY'): Buffer {
  if (pem.length > DEFAULTS.bundle.keyMaxBytes) {
    throw new BundleError(
      `${path} is ${pem.length} bytes, over the limit of ${DEFAULTS.bundle.keyMaxBytes} for a key file: it is no bundle key; ${KEYGEN_HINT}`,
    );
  }
  const text = pem.trim();
  const m = /^-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END ([A-Z0-9 ]+)-----$/.exec(text);
  if (!m) {
    throw new BundleError(`${path} is not a PEM file with one ${label} block: ${KEYGEN_HINT}`);
  }
  const [, begin, body = '', end] = m;
  if (begin !== end) throw new BundleError(`${path}: the PEM BEGIN and END labels differ: ${KEYGEN_HINT}`);
  if (begin !== label) {
    const other = label === 'PUBLIC KEY' ? 'PRIVATE KEY' : 'PUBLIC KEY';
    const what =
      begin === other
        ? label === 'PUBLIC KEY'
          ? 'a private key; pin the public key (signet bundle keygen writes both), never the private one'
          : 'a public key; signing needs the private key'
        : begin === 'ENCRYPTED PRIVATE KEY'
          ? 'an encrypted private key, which signet does not read'
          : `a "${printable(begin ?? '')}" PEM block, not an Ed25519 ${label.toLowerCase()}`;
    throw new BundleError(`${path} holds ${what}: ${KEYGEN_HINT}`);
  }
  const compact = body.replace(/[\r\n]/g, '');
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(compact)) {
    throw new BundleError(`${path}: the PEM body is not base64: ${KEYGEN_HINT}`);
  }
  return Buffer.from(compact, 'base64');
}

// @peculiar/x509 needs a Reflect metadata polyfill evaluated before it (see src/trust/x509/library.ts).
import 'reflect-metadata';
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants, KeyObject, randomBytes, sign as nodeSign, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { Tagged } from 'cborg';
import { validityProblem } from '../../../../src/trust/notation/cert-chain.js';
import { NotationError, type NotationErrorCode } from '../../../../src/trust/notation/errors.js';
import { openEnvelope } from '../../../../src/trust/notation/verifier.js';
import { parseCertificate } from '../../../../src/trust/x509/index.js';
import { coseEncode, notationPayload, notationRawSign, signNotation, type NotationAlg, type SignNotationOptions } from '../../../harness/notation-sign.js';

// The edge cases of opening a Notation signature envelope (integrity): the JWS and COSE formats
// of signature-specification.md as notation-core-go reads them (signature/jws, signature/cose,
// signature/internal/base), the signing scheme's header rules, and the certificate rules of
// x509/codesigning_cert_validations.go. Certificates are made in process; envelopes are signed
// by the harness (as notation writes them) or built here byte by byte, each with one defect.

const crypto = webcrypto;
const JWS = 'application/jose+json';
const COSE = 'application/cose';
const PAYLOAD_TYPE = 'application/vnd.cncf.notary.payload.v1+json';
const H = {
  signingScheme: 'io.cncf.notary.signingScheme',
  signingTime: 'io.cncf.notary.signingTime',
  authenticSigningTime: 'io.cncf.notary.authenticSigningTime',
  expiry: 'io.cncf.notary.expiry',
  timestampSignature: 'io.cncf.notary.timestampSignature',
  signingAgent: 'io.cncf.notary.signingAgent',
  verificationPlugin: 'io.cncf.notary.verificationPlugin',
} as const;
const TARGET = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'ab'.repeat(32)}`, size: 1234 };
const PAYLOAD = notationPayload(TARGET, 'struct');
const SIGNING_TIME = new Date('2026-01-01T00:00:00Z');
const SIGNING_TIME_TEXT = '2026-01-01T00:00:00Z';
const ROOT_VALIDITY = { notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2035-01-01T00:00:00Z') };
const LEAF_VALIDITY = { notBefore: new Date('2025-06-01T00:00:00Z'), notAfter: new Date('2030-06-01T00:00:00Z') };

// --- certificates ---------------------------------------------------------------------------

type KeyKind = 'ec' | 'p384' | 'ed25519' | 'rsa2048' | 'rsa1024';

interface Made {
  der: Buffer;
  subject: string;
  keys: webcrypto.CryptoKeyPair;
  /** The private key as node:crypto uses it (what signNotation signs with). */
  key: KeyObject;
}

interface CertOptions {
  /** The common name; the subject is `CN=<cn>, O=Signet Test`. */
  cn: string;
  /** Signs the certificate; default: self-signed. */
  issuer?: Made;
  /** The issuer name when it is not the issuer's subject (or, self-signed, not the own subject). */
  issuerName?: string;
  keyKind?: KeyKind;
  hash?: 'SHA-1' | 'SHA-256';
  extensions: x509.Extension[];
  validity?: { notBefore: Date; notAfter: Date };
}

async function newKeys(kind: KeyKind): Promise<webcrypto.CryptoKeyPair> {
  if (kind === 'ec') return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  if (kind === 'p384') return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify']);
  if (kind === 'ed25519') {
    const pair = await crypto.subtle.generateKey('Ed25519', true, ['sign', 'verify']);
    assert.ok('privateKey' in pair);
    return pair;
  }
  return crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: kind === 'rsa2048' ? 2048 : 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['sign', 'verify'],
  );
}

async function makeCert(o: CertOptions): Promise<Made> {
  const keys = await newKeys(o.keyKind ?? 'ec');
  const subject = `CN=${o.cn}, O=Signet Test`;
  const signingKey = o.issuer?.keys.privateKey ?? keys.privateKey;
  const serial = randomBytes(8);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial.toString('hex'),
      subject,
      issuer: o.issuerName ?? o.issuer?.subject ?? subject,
      notBefore: (o.validity ?? LEAF_VALIDITY).notBefore,
      notAfter: (o.validity ?? LEAF_VALIDITY).notAfter,
      signingAlgorithm: signingKey.algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash: o.hash ?? 'SHA-256' } : signingKey.algorithm,
      publicKey: keys.publicKey,
      signingKey,
      extensions: o.extensions,
    },
    crypto,
  );
  return { der: Buffer.from(cert.rawData), subject, keys, key: KeyObject.from(keys.privateKey) };
}

const KU = x509.KeyUsageFlags;
const EKU_CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const EKU_TIME_STAMPING = '1.3.6.1.5.5.7.3.8';
const EKU_ANY = '2.5.29.37.0';

const caExtensions = (o: { pathLen?: number; kuCritical?: boolean; bcCritical?: boolean } = {}) => [
  new x509.BasicConstraintsExtension(true, o.pathLen, o.bcCritical ?? true),
  new x509.KeyUsagesExtension(KU.keyCertSign | KU.cRLSign, o.kuCritical ?? true),
];
const leafExtensions = (o: { usages?: x509.KeyUsageFlags; kuCritical?: boolean; noKeyUsage?: boolean; eku?: string[]; ca?: boolean } = {}) => [
  new x509.BasicConstraintsExtension(o.ca ?? false, undefined, true),
  ...(o.noKeyUsage ? [] : [new x509.KeyUsagesExtension(o.usages ?? KU.digitalSignature, o.kuCritical ?? true)]),
  new x509.ExtendedKeyUsageExtension(o.eku ?? [EKU_CODE_SIGNING], false),
];

interface Fixtures {
  root: Made;
  root2: Made;
  leafEc: Made;
  leafRsa: Made;
  leafRsa1024: Made;
  leafP384: Made;
  leafEd25519: Made;
  leafNoKeyUsage: Made;
  leafKeyUsageNotCritical: Made;
  leafKeyEncipherment: Made;
  leafNoDigitalSignature: Made;
  leafServerAuth: Made;
  leafTimeStamping: Made;
  leafAnyEku: Made;
  leafCa: Made;
  leafSha1: Made;
  selfSignedLeaf: Made;
  selfSignedSha1Leaf: Made;
  selfSignedRenamed: Made;
  selfSignedCaLeaf: Made;
  intermediate: Made;
  leafUnderIntermediate: Made;
  leafUnderRoot2: Made;
  intermediateKuNotCritical: Made;
  leafUnderKuNotCritical: Made;
  intermediateBcNotCritical: Made;
  leafUnderBcNotCritical: Made;
  pathLenZero: Made;
  subCa: Made;
  leafUnderSubCa: Made;
  leafUnderPathLenZero: Made;
}

let f: Fixtures;

before(async () => {
  const root = await makeCert({ cn: 'Root', extensions: caExtensions(), validity: ROOT_VALIDITY });
  const root2 = await makeCert({ cn: 'Second Root', extensions: caExtensions(), validity: ROOT_VALIDITY });
  const intermediate = await makeCert({ cn: 'Intermediate', issuer: root, extensions: caExtensions(), validity: ROOT_VALIDITY });
  const intermediateKuNotCritical = await makeCert({ cn: 'Intermediate KU Not Critical', issuer: root, extensions: caExtensions({ kuCritical: false }) });
  const intermediateBcNotCritical = await makeCert({ cn: 'Intermediate BC Not Critical', issuer: root, extensions: caExtensions({ bcCritical: false }) });
  const pathLenZero = await makeCert({ cn: 'PathLen Zero', issuer: root, extensions: caExtensions({ pathLen: 0 }) });
  const subCa = await makeCert({ cn: 'Sub CA', issuer: pathLenZero, extensions: caExtensions() });
  const leaf = (cn: string, o: Parameters<typeof leafExtensions>[0] = {}, extra: Partial<CertOptions> = {}) =>
    makeCert({ cn, issuer: root, extensions: leafExtensions(o), ...extra });
  f = {
    root,
    root2,
    leafEc: await leaf('Leaf EC'),
    leafRsa: await leaf('Leaf RSA', {}, { keyKind: 'rsa2048' }),
    leafRsa1024: await leaf('Leaf RSA 1024', {}, { keyKind: 'rsa1024' }),
    leafP384: await leaf('Leaf P-384', {}, { keyKind: 'p384' }),
    leafEd25519: await leaf('Leaf Ed25519', {}, { keyKind: 'ed25519' }),
    leafNoKeyUsage: await leaf('Leaf No KU', { noKeyUsage: true }),
    leafKeyUsageNotCritical: await leaf('Leaf KU Not Critical', { kuCritical: false }),
    leafKeyEncipherment: await leaf('Leaf KeyEncipherment', { usages: KU.digitalSignature | KU.keyEncipherment }),
    leafNoDigitalSignature: await leaf('Leaf NonRepudiation', { usages: KU.nonRepudiation }),
    leafServerAuth: await leaf('Leaf ServerAuth', { eku: [EKU_CODE_SIGNING, EKU_SERVER_AUTH] }),
    leafTimeStamping: await leaf('Leaf TimeStamping', { eku: [EKU_TIME_STAMPING] }),
    leafAnyEku: await leaf('Leaf AnyEKU', { eku: [EKU_ANY] }),
    leafCa: await leaf('Leaf CA', { ca: true }),
    leafSha1: await leaf('Leaf SHA1', {}, { hash: 'SHA-1' }),
    selfSignedLeaf: await makeCert({ cn: 'Self Signed Leaf', extensions: leafExtensions() }),
    selfSignedSha1Leaf: await makeCert({ cn: 'Self Signed SHA1 Leaf', extensions: leafExtensions(), hash: 'SHA-1' }),
    selfSignedRenamed: await makeCert({ cn: 'Renamed Leaf', issuerName: 'CN=Someone Else, O=Signet Test', extensions: leafExtensions() }),
    // A CA that signs itself, used as a signing certificate in front of a root.
    selfSignedCaLeaf: await makeCert({ cn: 'Self Signed CA Leaf', extensions: caExtensions() }),
    intermediate,
    leafUnderIntermediate: await makeCert({ cn: 'Leaf Under Intermediate', issuer: intermediate, extensions: leafExtensions() }),
    leafUnderRoot2: await makeCert({ cn: 'Leaf Under Second Root', issuer: root2, extensions: leafExtensions() }),
    intermediateKuNotCritical,
    leafUnderKuNotCritical: await makeCert({ cn: 'Leaf Under KU Not Critical', issuer: intermediateKuNotCritical, extensions: leafExtensions() }),
    intermediateBcNotCritical,
    leafUnderBcNotCritical: await makeCert({ cn: 'Leaf Under BC Not Critical', issuer: intermediateBcNotCritical, extensions: leafExtensions() }),
    pathLenZero,
    subCa,
    leafUnderSubCa: await makeCert({ cn: 'Leaf Under Sub CA', issuer: subCa, extensions: leafExtensions() }),
    leafUnderPathLenZero: await makeCert({ cn: 'Leaf Under PathLen Zero', issuer: pathLenZero, extensions: leafExtensions() }),
  };
});

// --- envelopes -------------------------------------------------------------------------------

/** openEnvelope refuses the bytes with a NotationError of `code` whose message matches. */
async function refused(bytes: Buffer, mediaType: string, code: NotationErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(openEnvelope(bytes, mediaType), (err: unknown) => {
    assert.ok(err instanceof NotationError, `not a NotationError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
}

/** An envelope as notation writes it, signed by `leaf` with the chain leaf..root. */
async function signed(format: 'jws' | 'cose', leaf: Made, chain: readonly Made[], extra: Partial<SignNotationOptions> = {}): Promise<Buffer> {
  const envelope = await signNotation({ format, target: TARGET, key: leaf.key, certChain: chain.map((c) => c.der), signingTime: SIGNING_TIME, ...extra });
  return envelope.bytes;
}

/** Sets each key; `undefined` deletes it. */
function patched(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries({ ...base, ...patch }).filter(([, v]) => v !== undefined));
}

const algOf = (leaf: Made): NotationAlg =>
  leaf.key.asymmetricKeyType === 'rsa' ? 'PS256' : leaf.key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'ES384' : 'ES256';

interface JwsBuild {
  /** Changes to the protected header of a notary.x509 signature (undefined deletes). */
  protected?: Record<string, unknown>;
  /** Changes to the unprotected header `{x5c, signingAgent}` (undefined deletes). */
  unprotected?: Record<string, unknown>;
  payload?: Buffer;
  signer?: Made;
  chain?: readonly Made[];
  /** The algorithm the signature is made with (default the key's). */
  signWith?: NotationAlg;
  /** Changes to the serialised envelope's members after signing (undefined deletes). */
  envelope?: Record<string, unknown>;
}

/** A flattened JWS built by hand: the protected header as given, signed over `protected.payload`. */
function jws(b: JwsBuild = {}): Buffer {
  const signer = b.signer ?? f.leafEc;
  const chain = b.chain ?? [signer, f.root];
  const header = patched(
    {
      alg: algOf(signer),
      cty: PAYLOAD_TYPE,
      crit: [H.signingScheme],
      [H.signingScheme]: 'notary.x509',
      [H.signingTime]: SIGNING_TIME_TEXT,
    },
    b.protected ?? {},
  );
  const protectedText = Buffer.from(JSON.stringify(header)).toString('base64url');
  const payloadText = (b.payload ?? PAYLOAD).toString('base64url');
  const signature = notationRawSign(b.signWith ?? algOf(signer), signer.key, Buffer.from(`${protectedText}.${payloadText}`, 'ascii'));
  const unprotected = patched({ x5c: chain.map((c) => c.der.toString('base64')), [H.signingAgent]: 'envelope.test' }, b.unprotected ?? {});
  const envelope = patched(
    { payload: payloadText, protected: protectedText, header: unprotected, signature: signature.toString('base64url') },
    b.envelope ?? {},
  );
  return Buffer.from(JSON.stringify(envelope));
}

type Label = number | string;

interface CoseBuild {
  /** Changes to the protected header of a notary.x509 signature (undefined deletes). */
  protected?: ReadonlyArray<readonly [Label, unknown]>;
  /** The protected header bytes exactly (not signed over when they are not a byte string). */
  protectedBytes?: unknown;
  /** Changes to the unprotected header `{33: chain, signingAgent}` (undefined deletes). */
  unprotected?: ReadonlyArray<readonly [Label, unknown]>;
  /** The unprotected header exactly. */
  unprotectedValue?: unknown;
  payload?: unknown;
  signature?: unknown;
  signer?: Made;
  chain?: readonly Made[];
  signWith?: NotationAlg;
  /** Default true: COSE_Sign1_Tagged (tag 18). */
  tagged?: boolean;
}

const COSE_ALG: Readonly<Record<NotationAlg, number>> = { PS256: -37, PS384: -38, PS512: -39, ES256: -7, ES384: -35, ES512: -36 };

function applied(base: Map<Label, unknown>, changes: ReadonlyArray<readonly [Label, unknown]>): Map<Label, unknown> {
  for (const [k, v] of changes) {
    if (v === undefined) base.delete(k);
    else base.set(k, v);
  }
  return base;
}

/** A COSE_Sign1 built by hand (maps in deterministic order, times as tag 1), signed over Sig_structure. */
function cose(b: CoseBuild = {}): Buffer {
  const signer = b.signer ?? f.leafEc;
  const chain = b.chain ?? [signer, f.root];
  const header = applied(
    new Map<Label, unknown>([
      [1, COSE_ALG[algOf(signer)]],
      [2, [H.signingScheme]],
      [3, PAYLOAD_TYPE],
      [H.signingScheme, 'notary.x509'],
      [H.signingTime, SIGNING_TIME],
    ]),
    b.protected ?? [],
  );
  const protectedBytes = b.protectedBytes ?? coseEncode(header);
  const payload = b.payload === undefined ? PAYLOAD : b.payload;
  let signature = b.signature;
  if (signature === undefined) {
    const toBeSigned = coseEncode(['Signature1', protectedBytes, new Uint8Array(0), payload instanceof Uint8Array ? payload : new Uint8Array(0)]);
    signature = notationRawSign(b.signWith ?? algOf(signer), signer.key, toBeSigned);
  }
  const unprotected =
    b.unprotectedValue ??
    applied(
      new Map<Label, unknown>([
        [33, chain.map((c) => c.der)],
        [H.signingAgent, 'envelope.test'],
      ]),
      b.unprotected ?? [],
    );
  const message = [protectedBytes, unprotected, payload, signature];
  return coseEncode(b.tagged === false ? message : new Tagged(18, message));
}

const flip = (bytes: Buffer): Buffer => {
  const out = Buffer.from(bytes);
  out[out.length - 1] = (out[out.length - 1] ?? 0) ^ 0x01;
  return out;
};

// --- JWS -------------------------------------------------------------------------------------

describe('openEnvelope: JWS serialisation', () => {
  it('refuses a media type that is neither JWS nor COSE', async () => {
    await refused(jws(), 'application/json', 'malformed', /signature envelope type "application\/json" is not supported/);
  });

  it('refuses bytes that are not JSON', async () => {
    await refused(Buffer.from('{"payload":'), JWS, 'malformed', /the JWS envelope is not JSON/);
  });

  it('refuses a JSON array', async () => {
    await refused(Buffer.from('[]'), JWS, 'malformed', /the JWS envelope is not a JSON object/);
  });

  it('refuses the general serialisation (signatures array, no top-level protected)', async () => {
    const flat = JSON.parse(jws().toString()) as { payload: string; protected: string; header: unknown; signature: string };
    const general = { payload: flat.payload, signatures: [{ protected: flat.protected, header: flat.header, signature: flat.signature }] };
    await refused(Buffer.from(JSON.stringify(general)), JWS, 'malformed', /not in flattened JSON serialisation/);
  });

  it('refuses a flattened envelope whose payload, protected header or signature is missing or not a string', async () => {
    for (const member of ['payload', 'protected', 'signature']) {
      await refused(jws({ envelope: { [member]: undefined } }), JWS, 'malformed', /not in flattened JSON serialisation/);
      await refused(jws({ envelope: { [member]: 1 } }), JWS, 'malformed', /not in flattened JSON serialisation/);
    }
  });

  it('refuses an unprotected header that is not an object', async () => {
    await refused(jws({ envelope: { header: 'x5c' } }), JWS, 'malformed', /the JWS unprotected header is not an object/);
    await refused(jws({ envelope: { header: [] } }), JWS, 'malformed', /the JWS unprotected header is not an object/);
  });

  it('refuses a protected header that is not base64url, not JSON, or not an object', async () => {
    await refused(jws({ envelope: { protected: 'eyJhbGciOiJFUzI1NiJ9=' } }), JWS, 'malformed', /the JWS protected header is not base64url/);
    await refused(jws({ envelope: { protected: 'a' } }), JWS, 'malformed', /the JWS protected header is not base64url/);
    await refused(jws({ envelope: { protected: Buffer.from('{alg').toString('base64url') } }), JWS, 'malformed', /the JWS protected header is not JSON/);
    await refused(
      jws({ envelope: { protected: Buffer.from('["alg"]').toString('base64url') } }),
      JWS,
      'malformed',
      /the JWS protected header is not a JSON object/,
    );
  });

  it('refuses a payload or signature that is not base64url', async () => {
    await refused(jws({ envelope: { payload: 'a+b/' } }), JWS, 'malformed', /the JWS payload is not base64url/);
    await refused(jws({ envelope: { signature: 'abc=' } }), JWS, 'malformed', /the JWS signature is not base64url/);
  });

  it('refuses an envelope without x5c, with an x5c that is not an array, or an empty one', async () => {
    await refused(jws({ unprotected: { x5c: undefined } }), JWS, 'malformed', /the JWS envelope carries no certificate chain/);
    await refused(jws({ envelope: { header: undefined } }), JWS, 'malformed', /the JWS envelope carries no certificate chain/);
    await refused(jws({ unprotected: { x5c: [] } }), JWS, 'malformed', /the JWS envelope carries no certificate chain/);
    await refused(jws({ unprotected: { x5c: f.leafEc.der.toString('base64') } }), JWS, 'malformed', /the JWS header x5c is not an array/);
  });

  it('refuses an x5c entry that is not standard padded base64', async () => {
    // "-_8" is base64url; Go's encoding/json decodes []byte with the standard alphabet only.
    await refused(jws({ unprotected: { x5c: ['-_8'] } }), JWS, 'malformed', /the JWS header x5c\[0\] is not standard base64/);
    await refused(jws({ unprotected: { x5c: [f.leafEc.der.toString('base64'), 42] } }), JWS, 'malformed', /x5c\[1\] is not standard base64/);
  });

  it('refuses a certificate that does not parse', async () => {
    await refused(
      jws({ unprotected: { x5c: [f.leafEc.der.toString('base64'), Buffer.from('not a certificate').toString('base64')] } }),
      JWS,
      'malformed',
      /certificate 1 of the JWS envelope's chain cannot be read/,
    );
  });

  it('reads an empty or null timestamp countersignature as none', async () => {
    assert.equal((await openEnvelope(jws({ unprotected: { [H.timestampSignature]: '' } }), JWS)).timestampToken, undefined);
    assert.equal((await openEnvelope(jws({ unprotected: { [H.timestampSignature]: null } }), JWS)).timestampToken, undefined);
  });

  it('refuses a timestamp countersignature that is not standard base64', async () => {
    await refused(
      jws({ unprotected: { [H.timestampSignature]: 'not base64!' } }),
      JWS,
      'malformed',
      /io\.cncf\.notary\.timestampSignature is not standard base64/,
    );
  });

  it('refuses a header both protected and unprotected (RFC 7515 §7.2.1, enforced by jose)', async () => {
    await refused(jws({ unprotected: { cty: PAYLOAD_TYPE } }), JWS, 'malformed', /the JWS envelope is invalid: .*disjoint/);
  });
});

describe('openEnvelope: JWS algorithm', () => {
  it('refuses a protected header without alg, or with a non-string alg', async () => {
    await refused(jws({ protected: { alg: undefined } }), JWS, 'malformed', /the JWS protected header has no "alg"/);
    await refused(jws({ protected: { alg: -7 } }), JWS, 'malformed', /the JWS protected header "alg" is not a string/);
  });

  it('refuses an alg that does not fit the key: ES256 on RSA 2048, PS384 on RSA 2048, PS256 on P-256', async () => {
    const rsa = { signer: f.leafRsa };
    await refused(
      jws({ ...rsa, protected: { alg: 'ES256' } }),
      JWS,
      'integrity',
      /claims algorithm ES256, but the signing certificate's key \(RSA 2048\) signs with PS256/,
    );
    await refused(jws({ ...rsa, protected: { alg: 'PS384' }, signWith: 'PS384' }), JWS, 'integrity', /claims algorithm PS384, .* signs with PS256/);
    await refused(
      jws({ protected: { alg: 'PS256' } }),
      JWS,
      'integrity',
      /claims algorithm PS256, but the signing certificate's key \(ECDSA P-256\) signs with ES256/,
    );
  });

  it('refuses an alg name outside Notation (RS256, HS256, none)', async () => {
    for (const alg of ['RS256', 'HS256', 'none']) {
      await refused(
        jws({ signer: f.leafRsa, protected: { alg } }),
        JWS,
        'integrity',
        new RegExp(`claims algorithm ${alg}, .*the algorithm must match the key`),
      );
    }
  });

  it('refuses an Ed25519 leaf key (no Notation algorithm)', async () => {
    // The signature is the P-256 leaf's: the key is refused before any signature check.
    await refused(jws({ signer: f.leafEc, chain: [f.leafEd25519, f.root] }), JWS, 'certificate', /ed25519 keys are not supported/);
  });

  it('opens ES384 for a P-384 leaf and refuses ES256 for it', async () => {
    const content = await openEnvelope(await signed('jws', f.leafP384, [f.leafP384, f.root]), JWS);
    assert.equal(content.algorithm, 'ES384');
    await refused(jws({ signer: f.leafP384, protected: { alg: 'ES256' }, signWith: 'ES256' }), JWS, 'integrity', /\(ECDSA P-384\) signs with ES384/);
  });

  it('refuses an RSA leaf key of 1024 bits before checking the signature', async () => {
    await refused(
      jws({ signer: f.leafRsa1024 }),
      JWS,
      'certificate',
      /the signing certificate's key cannot sign Notation signatures: rsa key size 1024 bits is not supported/,
    );
  });
});

describe('openEnvelope: JWS signing scheme headers', () => {
  it('refuses a content type other than the Notation payload type, and a missing one', async () => {
    await refused(jws({ protected: { cty: 'application/json' } }), JWS, 'malformed', /payload content type "application\/json" is not supported/);
    await refused(jws({ protected: { cty: undefined } }), JWS, 'malformed', /the JWS protected header has no "cty"/);
  });

  it('refuses a missing crit, an empty one, and one that is not a list of strings', async () => {
    await refused(jws({ protected: { crit: undefined } }), JWS, 'malformed', /the protected header has no "crit" list/);
    await refused(jws({ protected: { crit: [] } }), JWS, 'malformed', /the protected header has no "crit" list/);
    await refused(jws({ protected: { crit: [H.signingScheme, 7] } }), JWS, 'malformed', /"crit" is not a list of names/);
    await refused(jws({ protected: { crit: H.signingScheme } }), JWS, 'malformed', /"crit" is not a list of names/);
  });

  it('refuses a missing or unknown signing scheme', async () => {
    await refused(jws({ protected: { [H.signingScheme]: undefined } }), JWS, 'malformed', /has no "io\.cncf\.notary\.signingScheme"/);
    await refused(jws({ protected: { [H.signingScheme]: 'notary.x509.custom' } }), JWS, 'malformed', /unsupported signing scheme "notary\.x509\.custom"/);
  });

  it('refuses a notary.x509 signature without signingTime', async () => {
    await refused(jws({ protected: { [H.signingTime]: undefined } }), JWS, 'malformed', /the signing time is not present/);
  });

  it('refuses a signingTime that is not an RFC 3339 string', async () => {
    await refused(jws({ protected: { [H.signingTime]: '2026-01-01 00:00:00' } }), JWS, 'malformed', /"io\.cncf\.notary\.signingTime" is not an RFC 3339 time/);
    await refused(jws({ protected: { [H.signingTime]: '2026-02-30T00:00:00Z' } }), JWS, 'malformed', /is not an RFC 3339 time/);
    await refused(jws({ protected: { [H.signingTime]: 1767225600 } }), JWS, 'malformed', /"io\.cncf\.notary\.signingTime" is not a string/);
  });

  it('refuses an authenticSigningTime under notary.x509', async () => {
    await refused(
      jws({ protected: { [H.authenticSigningTime]: SIGNING_TIME_TEXT } }),
      JWS,
      'malformed',
      /"io\.cncf\.notary\.authenticSigningTime" must not be present for the notary\.x509 signing scheme/,
    );
  });

  it('refuses a signingTime under notary.x509.signingAuthority, and a missing authenticSigningTime', async () => {
    const sa = { [H.signingScheme]: 'notary.x509.signingAuthority', crit: [H.signingScheme, H.authenticSigningTime] };
    await refused(
      jws({ protected: { ...sa, [H.authenticSigningTime]: SIGNING_TIME_TEXT } }),
      JWS,
      'malformed',
      /"io\.cncf\.notary\.signingTime" must not be present for the notary\.x509\.signingAuthority signing scheme/,
    );
    await refused(
      jws({ protected: { ...sa, [H.signingTime]: undefined } }),
      JWS,
      'malformed',
      /"io\.cncf\.notary\.authenticSigningTime" must be present for the notary\.x509\.signingAuthority signing scheme/,
    );
  });

  it('refuses a signingAuthority signature whose authenticSigningTime is not critical', async () => {
    await refused(
      jws({ protected: { [H.signingScheme]: 'notary.x509.signingAuthority', [H.signingTime]: undefined, [H.authenticSigningTime]: SIGNING_TIME_TEXT } }),
      JWS,
      'malformed',
      /these headers must be marked critical: io\.cncf\.notary\.authenticSigningTime/,
    );
  });

  it('refuses an expiry that is not after the signing time', async () => {
    const crit = [H.signingScheme, H.expiry];
    await refused(jws({ protected: { crit, [H.expiry]: SIGNING_TIME_TEXT } }), JWS, 'malformed', /the expiry is not after the signing time/);
    await refused(jws({ protected: { crit, [H.expiry]: '2025-12-31T23:59:59Z' } }), JWS, 'malformed', /the expiry is not after the signing time/);
  });

  it('refuses an expiry that is not critical', async () => {
    await refused(
      jws({ protected: { [H.expiry]: '2027-01-01T00:00:00Z' } }),
      JWS,
      'malformed',
      /these headers must be marked critical: io\.cncf\.notary\.expiry/,
    );
  });

  it('refuses a crit name that is not present, and a registered header name in crit (RFC 7515 §4.1.11)', async () => {
    await refused(
      jws({ protected: { crit: [H.signingScheme, H.expiry] } }),
      JWS,
      'malformed',
      /header "io\.cncf\.notary\.expiry" is marked critical but not present/,
    );
    await refused(jws({ protected: { crit: [H.signingScheme, 'alg'] } }), JWS, 'malformed', /critical header "alg" is not one Signet understands/);
    await refused(
      jws({ protected: { crit: [H.signingScheme, 'io.example.absent'] } }),
      JWS,
      'malformed',
      /header "io\.example\.absent" is marked critical but not present/,
    );
  });

  it('refuses an unknown critical header (RFC 7515 §4.1.11)', async () => {
    await refused(
      jws({ protected: { crit: [H.signingScheme, 'io.example.policy'], 'io.example.policy': 'x' } }),
      JWS,
      'malformed',
      /critical header "io\.example\.policy" is not one Signet understands/,
    );
  });

  it('refuses a critical verification plugin header', async () => {
    await refused(
      jws({ protected: { crit: [H.signingScheme, H.verificationPlugin], [H.verificationPlugin]: 'com.example.plugin' } }),
      JWS,
      'malformed',
      /must be verified by a Notation verification plugin \(critical header "io\.cncf\.notary\.verificationPlugin"\), which Signet does not run/,
    );
  });

  it('opens a signature with an extended header that is not critical', async () => {
    const content = await openEnvelope(jws({ protected: { 'io.example.note': 'x' } }), JWS);
    assert.equal(content.format, 'jws');
  });
});

describe('openEnvelope: JWS integrity and content', () => {
  it('refuses an altered signature', async () => {
    const envelope = JSON.parse(jws().toString()) as { signature: string };
    const altered = flip(Buffer.from(envelope.signature, 'base64url')).toString('base64url');
    await refused(jws({ envelope: { signature: altered } }), JWS, 'integrity', /the JWS signature does not verify with the signing certificate/);
  });

  it('refuses a payload altered after signing', async () => {
    const other = notationPayload({ ...TARGET, size: TARGET.size + 1 }, 'sorted');
    const bytes = await signed('jws', f.leafEc, [f.leafEc, f.root], { tamper: { payloadAfterSigning: other } });
    await refused(bytes, JWS, 'integrity', /the JWS signature does not verify with the signing certificate: the envelope or its payload was altered/);
  });

  it('refuses a signature made with another key than the leaf', async () => {
    await refused(jws({ signer: f.leafEc, chain: [f.selfSignedLeaf] }), JWS, 'integrity', /does not verify/);
  });

  it('refuses an empty payload, and one that is not a JSON object (golang-jwt reads it as claims)', async () => {
    await refused(jws({ payload: Buffer.alloc(0) }), JWS, 'malformed', /the JWS payload is not a JSON object/);
    await refused(jws({ payload: Buffer.from('[1]') }), JWS, 'malformed', /the JWS payload is not a JSON object/);
  });

  it('opens an RSA 2048 (PS256) signature with expiry, signing agent and timestamp token, and exposes them', async () => {
    const token = Buffer.from('arbitrary token bytes: openEnvelope does not verify them');
    const expiry = new Date('2027-01-01T00:00:00Z');
    const bytes = await signed('jws', f.leafRsa, [f.leafRsa, f.root], { expiry, timestamp: { token }, signingAgent: 'notation-go/1.3.0' });
    const content = await openEnvelope(bytes, JWS);
    assert.equal(content.format, 'jws');
    assert.equal(content.algorithm, 'PS256');
    assert.equal(content.signingScheme, 'notary.x509');
    assert.deepEqual(content.signingTime, SIGNING_TIME);
    assert.deepEqual(content.expiry, expiry);
    assert.deepEqual(content.timestampToken, token);
    assert.equal(content.signingAgent, 'notation-go/1.3.0');
    assert.deepEqual(content.payload, notationPayload(TARGET, 'sorted'));
    assert.deepEqual(
      content.chain.map((c) => c.subject.commonName),
      ['Leaf RSA', 'Root'],
    );
    assert.ok(content.signature.length === 256);
  });

  it('opens a signingAuthority signature: its signing time is the authentic signing time', async () => {
    const bytes = await signed('jws', f.leafEc, [f.leafEc, f.root], { signingScheme: 'notary.x509.signingAuthority', signingAgent: null });
    const content = await openEnvelope(bytes, JWS);
    assert.equal(content.signingScheme, 'notary.x509.signingAuthority');
    assert.deepEqual(content.signingTime, SIGNING_TIME);
    assert.equal(content.signingAgent, undefined);
    assert.equal(content.timestampToken, undefined);
  });

  it('accepts an RFC 3339 time with an offset and any fraction length', async () => {
    const content = await openEnvelope(jws({ protected: { [H.signingTime]: '2026-01-01T01:00:00.123456789+01:00' } }), JWS);
    assert.deepEqual(content.signingTime, new Date('2026-01-01T00:00:00.123Z'));
  });

  // RFC 7518 §3.5 fixes the PSS salt at the digest length, and jose verifies exactly that;
  // golang-jwt (PSSSaltLengthAuto) would accept any salt. notation's own signer uses the digest length.
  it('refuses a PS256 signature whose PSS salt is not the digest length (RFC 7518 §3.5)', async () => {
    const header = {
      alg: 'PS256',
      crit: [H.signingScheme],
      cty: PAYLOAD_TYPE,
      [H.signingScheme]: 'notary.x509',
      [H.signingTime]: SIGNING_TIME_TEXT,
    };
    const protectedText = Buffer.from(JSON.stringify(header)).toString('base64url');
    const payloadText = PAYLOAD.toString('base64url');
    const signature = nodeSign('sha256', Buffer.from(`${protectedText}.${payloadText}`), {
      key: f.leafRsa.key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_MAX_SIGN,
    });
    const envelope = jws({ signer: f.leafRsa, envelope: { protected: protectedText, payload: payloadText, signature: signature.toString('base64url') } });
    await refused(envelope, JWS, 'integrity', /does not verify/);
  });
});

// --- COSE ------------------------------------------------------------------------------------

describe('openEnvelope: COSE structure', () => {
  it('refuses bytes that are not CBOR', async () => {
    await refused(Buffer.from([0xd2, 0x84, 0x40]), COSE, 'malformed', /the COSE envelope is not valid CBOR/);
    await refused(Buffer.from([0xff]), COSE, 'malformed', /the COSE envelope is not valid CBOR/);
  });

  it('refuses an untagged COSE_Sign1 array', async () => {
    await refused(cose({ tagged: false }), COSE, 'malformed', /not a tagged COSE_Sign1 message \(CBOR tag 18\)/);
  });

  it('refuses another tag (COSE_Sign, tag 98)', async () => {
    const other = coseEncode(new Tagged(98, [new Uint8Array(0), new Map(), PAYLOAD, []]));
    await refused(other, COSE, 'malformed', /the COSE envelope is not valid CBOR/);
  });

  it('refuses a tagged value that is not an array of four elements', async () => {
    await refused(
      coseEncode(new Tagged(18, [new Uint8Array(1), new Map(), PAYLOAD])),
      COSE,
      'malformed',
      /the COSE_Sign1 message is not an array of four elements/,
    );
    await refused(coseEncode(new Tagged(18, new Map([[1, 2]]))), COSE, 'malformed', /not an array of four elements/);
  });

  it('refuses a protected header that is not a byte string', async () => {
    await refused(cose({ protectedBytes: new Map([[1, -7]]) }), COSE, 'malformed', /the COSE protected header is not a byte string/);
  });

  it('refuses an empty protected header', async () => {
    await refused(cose({ protectedBytes: new Uint8Array(0) }), COSE, 'malformed', /the COSE protected header is empty/);
  });

  it('refuses a protected header that is not CBOR, or not a map', async () => {
    await refused(cose({ protectedBytes: Buffer.from([0xa1, 0x01]) }), COSE, 'malformed', /the COSE protected header is not valid CBOR/);
    await refused(cose({ protectedBytes: coseEncode([1, -7]) }), COSE, 'malformed', /the COSE protected header is not a map/);
  });

  it('refuses a protected header with a repeated label (RFC 9052 §3)', async () => {
    const repeated = Buffer.concat([Buffer.from([0xa2]), coseEncode(1), coseEncode(-7), coseEncode(1), coseEncode(-7)]);
    await refused(cose({ protectedBytes: repeated }), COSE, 'malformed', /the COSE protected header is not valid CBOR/);
  });

  it('refuses an unprotected header that is not a map', async () => {
    await refused(cose({ unprotectedValue: [] }), COSE, 'malformed', /the COSE unprotected header is not a map/);
  });

  it('refuses a detached (nil) payload', async () => {
    await refused(cose({ payload: null }), COSE, 'malformed', /the COSE payload is detached/);
  });

  it('refuses a payload that is not a byte string', async () => {
    await refused(cose({ payload: PAYLOAD.toString() }), COSE, 'malformed', /the COSE payload is not a byte string/);
  });

  it('refuses a signature that is not a byte string', async () => {
    await refused(cose({ signature: 'signature' }), COSE, 'malformed', /the COSE signature is not a byte string/);
  });

  it('refuses a label in both the protected and the unprotected header', async () => {
    await refused(cose({ unprotected: [[3, PAYLOAD_TYPE]] }), COSE, 'malformed', /COSE header 3 is in both the protected and the unprotected header/);
    await refused(cose({ unprotected: [[H.signingScheme, 'notary.x509']] }), COSE, 'malformed', /header io\.cncf\.notary\.signingScheme is in both/);
  });
});

describe('openEnvelope: COSE headers', () => {
  it('refuses a missing x5chain, and one that is a single byte string (not an array)', async () => {
    await refused(cose({ unprotected: [[33, undefined]] }), COSE, 'malformed', /carries no certificate chain \(x5chain, label 33, as an array\)/);
    await refused(cose({ unprotected: [[33, f.leafEc.der]] }), COSE, 'malformed', /carries no certificate chain \(x5chain, label 33, as an array\)/);
    await refused(cose({ unprotected: [[33, []]] }), COSE, 'malformed', /carries no certificate chain/);
  });

  it('refuses an x5chain entry that is not a byte string', async () => {
    await refused(
      cose({ unprotected: [[33, [f.leafEc.der, f.root.der.toString('base64')]]] }),
      COSE,
      'malformed',
      /certificate 1 of the COSE x5chain is not a byte string/,
    );
  });

  it('refuses an x5chain certificate that does not parse', async () => {
    await refused(cose({ unprotected: [[33, [Buffer.from('junk')]]] }), COSE, 'malformed', /certificate 0 of the COSE envelope's chain cannot be read/);
  });

  it('refuses an unsupported or missing alg', async () => {
    await refused(cose({ protected: [[1, -8]] }), COSE, 'malformed', /COSE signature algorithm -8 is not supported/);
    await refused(cose({ protected: [[1, 'ES256']] }), COSE, 'malformed', /COSE signature algorithm ES256 is not supported/);
    await refused(cose({ protected: [[1, undefined]] }), COSE, 'malformed', /COSE signature algorithm undefined is not supported/);
  });

  it('refuses an alg that does not fit the key', async () => {
    await refused(
      cose({ protected: [[1, -37]], signWith: 'PS256', signer: f.leafEc }),
      COSE,
      'integrity',
      /claims algorithm PS256, .*\(ECDSA P-256\) signs with ES256/,
    );
    await refused(
      cose({ protected: [[1, -38]], signWith: 'PS384', signer: f.leafRsa }),
      COSE,
      'integrity',
      /claims algorithm PS384, .*\(RSA 2048\) signs with PS256/,
    );
  });

  it('refuses a missing content type, and one that is not text', async () => {
    await refused(cose({ protected: [[3, undefined]] }), COSE, 'malformed', /the COSE content type is missing or not a text string/);
    await refused(cose({ protected: [[3, 50]] }), COSE, 'malformed', /the COSE content type is missing or not a text string/);
  });

  it('refuses a content type other than the Notation payload type', async () => {
    await refused(cose({ protected: [[3, 'application/json']] }), COSE, 'malformed', /payload content type "application\/json" is not supported/);
  });

  it('refuses a missing or non-text signing scheme', async () => {
    await refused(cose({ protected: [[H.signingScheme, undefined]] }), COSE, 'malformed', /has no text "io\.cncf\.notary\.signingScheme"/);
    await refused(cose({ protected: [[H.signingScheme, 1]] }), COSE, 'malformed', /has no text "io\.cncf\.notary\.signingScheme"/);
  });

  it('refuses a time header that is a plain integer or a tag 0 string (only tag 1 is a Notation time)', async () => {
    const seconds = SIGNING_TIME.getTime() / 1000;
    await refused(cose({ protected: [[H.signingTime, seconds]] }), COSE, 'malformed', /"io\.cncf\.notary\.signingTime" is not a CBOR tag 1 date\/time/);
    await refused(cose({ protected: [[H.signingTime, new Tagged(0, SIGNING_TIME_TEXT)]] }), COSE, 'malformed', /the COSE protected header is not valid CBOR/);
    await refused(cose({ protected: [[H.signingTime, new Tagged(1, 'yesterday')]] }), COSE, 'malformed', /tag 1 date\/time is not a number of seconds/);
  });

  it('refuses a crit that is an empty list or not a list of labels', async () => {
    await refused(cose({ protected: [[2, []]] }), COSE, 'malformed', /the COSE "crit" header is not a non-empty list of labels/);
    await refused(cose({ protected: [[2, H.signingScheme]] }), COSE, 'malformed', /the COSE "crit" header is not a non-empty list of labels/);
    await refused(cose({ protected: [[2, [H.signingScheme, true]]] }), COSE, 'malformed', /not a non-empty list of labels/);
  });

  it('refuses a missing crit, and a signing scheme that is not critical', async () => {
    await refused(cose({ protected: [[2, undefined]] }), COSE, 'malformed', /the protected header has no "crit" list/);
    await refused(cose({ protected: [[2, [1]]] }), COSE, 'malformed', /these headers must be marked critical: io\.cncf\.notary\.signingScheme/);
  });

  it('refuses an unknown critical label, text or integer', async () => {
    await refused(
      cose({
        protected: [
          [2, [H.signingScheme, 'io.example.policy']],
          ['io.example.policy', 'x'],
        ],
      }),
      COSE,
      'malformed',
      /critical header "io\.example\.policy" is not one Signet understands/,
    );
    await refused(
      cose({
        protected: [
          [2, [H.signingScheme, 99]],
          [99, 'x'],
        ],
      }),
      COSE,
      'malformed',
      /critical header "99" is not one Signet understands/,
    );
  });

  it('refuses a critical text label "1" (not the alg, integer label 1)', async () => {
    await refused(
      cose({
        protected: [
          [2, [H.signingScheme, '1']],
          ['1', 'x'],
        ],
      }),
      COSE,
      'malformed',
      /critical header "1 \(text\)" is not one Signet understands/,
    );
  });

  it('refuses a crit label that is not present', async () => {
    await refused(
      cose({ protected: [[2, [H.signingScheme, 'io.example.absent']]] }),
      COSE,
      'malformed',
      /header "io\.example\.absent" is marked critical but not present/,
    );
    await refused(cose({ protected: [[2, [H.signingScheme, 77]]] }), COSE, 'malformed', /header "77" is marked critical but not present/);
  });

  it("refuses a crit that lists an absent header of the signing scheme (expiry, the other scheme's time)", async () => {
    await refused(
      cose({ protected: [[2, [H.signingScheme, H.expiry]]] }),
      COSE,
      'malformed',
      /header "io\.cncf\.notary\.expiry" is marked critical but not present/,
    );
    await refused(
      cose({ protected: [[2, [H.signingScheme, H.authenticSigningTime]]] }),
      COSE,
      'malformed',
      /header "io\.cncf\.notary\.authenticSigningTime" is marked critical but not present/,
    );
  });

  it('refuses a critical verification plugin header', async () => {
    await refused(
      cose({
        protected: [
          [2, [H.signingScheme, H.verificationPlugin]],
          [H.verificationPlugin, 'com.example.plugin'],
        ],
      }),
      COSE,
      'malformed',
      /verification plugin/,
    );
  });

  it('refuses a signingAuthority signature with a signingTime, and one without authenticSigningTime', async () => {
    const sa: ReadonlyArray<readonly [Label, unknown]> = [
      [H.signingScheme, 'notary.x509.signingAuthority'],
      [2, [H.signingScheme, H.authenticSigningTime]],
    ];
    await refused(
      cose({ protected: [...sa, [H.authenticSigningTime, SIGNING_TIME]] }),
      COSE,
      'malformed',
      /"io\.cncf\.notary\.signingTime" must not be present/,
    );
    await refused(cose({ protected: [...sa, [H.signingTime, undefined]] }), COSE, 'malformed', /"io\.cncf\.notary\.authenticSigningTime" must be present/);
  });

  it('refuses an expiry not after the signing time, and an expiry that is not critical', async () => {
    await refused(
      cose({
        protected: [
          [H.expiry, SIGNING_TIME],
          [2, [H.signingScheme, H.expiry]],
        ],
      }),
      COSE,
      'malformed',
      /the expiry is not after the signing time/,
    );
    await refused(
      cose({ protected: [[H.expiry, new Date('2027-01-01T00:00:00Z')]] }),
      COSE,
      'malformed',
      /these headers must be marked critical: io\.cncf\.notary\.expiry/,
    );
  });

  it('refuses a timestamp token that is not a byte string', async () => {
    await refused(cose({ unprotected: [[H.timestampSignature, 'token']] }), COSE, 'malformed', /"io\.cncf\.notary\.timestampSignature" is not a byte string/);
  });
});

describe('openEnvelope: COSE integrity and content', () => {
  it('refuses an altered signature', async () => {
    const good = await signNotation({ format: 'cose', target: TARGET, key: f.leafEc.key, certChain: [f.leafEc.der, f.root.der], signingTime: SIGNING_TIME });
    const bytes = await signed('cose', f.leafEc, [f.leafEc, f.root], { tamper: { signature: flip(good.signature) } });
    await refused(bytes, COSE, 'integrity', /the COSE signature does not verify with the signing certificate/);
  });

  it('refuses a payload altered after signing', async () => {
    const other = notationPayload({ ...TARGET, digest: `sha256:${'cd'.repeat(32)}` }, 'struct');
    const bytes = await signed('cose', f.leafRsa, [f.leafRsa, f.root], { tamper: { payloadAfterSigning: other } });
    await refused(bytes, COSE, 'integrity', /the envelope or its payload was altered/);
  });

  it('refuses an ECDSA signature in DER rather than raw r‖s', async () => {
    const header = coseEncode(
      new Map<Label, unknown>([
        [1, -7],
        [2, [H.signingScheme]],
        [3, PAYLOAD_TYPE],
        [H.signingScheme, 'notary.x509'],
        [H.signingTime, SIGNING_TIME],
      ]),
    );
    const der = nodeSign('sha256', coseEncode(['Signature1', header, new Uint8Array(0), PAYLOAD]), f.leafEc.key);
    await refused(cose({ protectedBytes: header, signature: der }), COSE, 'integrity', /does not verify/);
  });

  it('refuses a PS256 signature whose PSS salt is not the digest length (RFC 8230 §2, as go-cose)', async () => {
    const header = coseEncode(
      new Map<Label, unknown>([
        [1, -37],
        [2, [H.signingScheme]],
        [3, PAYLOAD_TYPE],
        [H.signingScheme, 'notary.x509'],
        [H.signingTime, SIGNING_TIME],
      ]),
    );
    const signature = nodeSign('sha256', coseEncode(['Signature1', header, new Uint8Array(0), PAYLOAD]), {
      key: f.leafRsa.key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 20,
    });
    await refused(cose({ signer: f.leafRsa, protectedBytes: header, signature }), COSE, 'integrity', /does not verify/);
  });

  it('refuses an empty payload', async () => {
    await refused(cose({ payload: new Uint8Array(0) }), COSE, 'malformed', /the payload is empty/);
  });

  it('opens an ES256 signature as notation writes it, with signing agent, expiry and timestamp token', async () => {
    const token = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]);
    const expiry = new Date('2027-01-01T00:00:00Z');
    const bytes = await signed('cose', f.leafEc, [f.leafEc, f.root], { expiry, timestamp: { token } });
    const content = await openEnvelope(bytes, COSE);
    assert.equal(content.format, 'cose');
    assert.equal(content.algorithm, 'ES256');
    assert.equal(content.signingScheme, 'notary.x509');
    assert.deepEqual(content.signingTime, SIGNING_TIME);
    assert.deepEqual(content.expiry, expiry);
    assert.deepEqual(content.timestampToken, token);
    assert.equal(content.signingAgent, 'notation-go/1.3.0+unreleased');
    assert.deepEqual(content.payload, PAYLOAD);
    assert.equal(content.signature.length, 64);
    assert.equal(content.chain.length, 2);
  });

  it('opens a PS256 signature, and a signingAuthority one', async () => {
    const ps = await openEnvelope(await signed('cose', f.leafRsa, [f.leafRsa, f.root]), COSE);
    assert.equal(ps.algorithm, 'PS256');
    assert.equal(ps.timestampToken, undefined);
    const sa = await openEnvelope(await signed('cose', f.leafRsa, [f.leafRsa, f.root], { signingScheme: 'notary.x509.signingAuthority' }), COSE);
    assert.equal(sa.signingScheme, 'notary.x509.signingAuthority');
    assert.deepEqual(sa.signingTime, SIGNING_TIME);
  });

  it('opens a hand-built envelope whose protected header is not in deterministic order (the bytes as received are signed)', async () => {
    // coseEncode sorts map keys: a map of five entries (0xa5) written pair by pair in reverse order.
    const entries: Array<[Label, unknown]> = [
      [H.signingTime, SIGNING_TIME],
      [H.signingScheme, 'notary.x509'],
      [3, PAYLOAD_TYPE],
      [2, [H.signingScheme]],
      [1, -7],
    ];
    const header = Buffer.concat([Buffer.from([0xa5]), ...entries.flatMap(([k, v]) => [coseEncode(k), coseEncode(v)])]);
    assert.notDeepEqual(header, coseEncode(new Map(entries)));
    const content = await openEnvelope(cose({ protectedBytes: header }), COSE);
    assert.equal(content.algorithm, 'ES256');
  });
});

// --- certificate rules -----------------------------------------------------------------------

describe('openEnvelope: certificate rules of the signing chain', () => {
  /** Both formats refuse the chain with `message` (code 'certificate'). */
  async function chainRefused(leaf: Made, chain: readonly Made[], message: RegExp): Promise<void> {
    for (const format of ['jws', 'cose'] as const) {
      await refused(await signed(format, leaf, chain), format === 'jws' ? JWS : COSE, 'certificate', message);
    }
  }

  it('opens the valid chains: EC leaf, RSA leaf, leaf under an intermediate, a lone self-signed leaf', async () => {
    for (const [leaf, chain] of [
      [f.leafEc, [f.leafEc, f.root]],
      [f.leafRsa, [f.leafRsa, f.root]],
      [f.leafUnderIntermediate, [f.leafUnderIntermediate, f.intermediate, f.root]],
      [f.selfSignedLeaf, [f.selfSignedLeaf]],
    ] as const) {
      for (const format of ['jws', 'cose'] as const) {
        const content = await openEnvelope(await signed(format, leaf, chain), format === 'jws' ? JWS : COSE);
        assert.equal(content.chain.length, chain.length);
      }
    }
  });

  it('refuses an RSA 1024 leaf key', async () => {
    await chainRefused(f.leafRsa1024, [f.leafRsa1024, f.root], /rsa key size 1024 bits is not supported \(2048, 3072 or 4096\)/);
  });

  it('refuses a leaf without keyUsage', async () => {
    await chainRefused(f.leafNoKeyUsage, [f.leafNoKeyUsage, f.root], /"CN=Leaf No KU.*": the key usage extension must be present/);
  });

  it('refuses a leaf whose keyUsage is not critical', async () => {
    await chainRefused(
      f.leafKeyUsageNotCritical,
      [f.leafKeyUsageNotCritical, f.root],
      /Leaf KU Not Critical.*: the key usage extension must be marked critical/,
    );
  });

  it('refuses a leaf with keyEncipherment', async () => {
    await chainRefused(f.leafKeyEncipherment, [f.leafKeyEncipherment, f.root], /key usage must be digitalSignature only, but it also has keyEncipherment/);
  });

  it('refuses a leaf without digitalSignature', async () => {
    await chainRefused(f.leafNoDigitalSignature, [f.leafNoDigitalSignature, f.root], /key usage must include digitalSignature/);
  });

  it('refuses a leaf with the serverAuth or timeStamping EKU', async () => {
    await chainRefused(f.leafServerAuth, [f.leafServerAuth, f.root], /extended key usage must not contain serverAuth/);
    await chainRefused(f.leafTimeStamping, [f.leafTimeStamping, f.root], /extended key usage must not contain timeStamping/);
  });

  it('refuses a leaf with anyExtendedKeyUsage', async () => {
    await chainRefused(f.leafAnyEku, [f.leafAnyEku, f.root], /extended key usage must not contain anyExtendedKeyUsage/);
  });

  it('refuses a leaf that is a CA', async () => {
    await chainRefused(f.leafCa, [f.leafCa, f.root], /"CN=Leaf CA.*": a leaf certificate must not have cA set to true/);
  });

  it('refuses a SHA-1-signed leaf', async () => {
    await chainRefused(f.leafSha1, [f.leafSha1, f.root], /"CN=Leaf SHA1.*" is signed with .*: MD2, MD5 and SHA-1 signatures are not accepted/);
  });

  it('refuses a lone self-signed SHA-1 leaf (stricter than notation-core-go, whose cert.CheckSignature allows SHA-1)', async () => {
    await chainRefused(
      f.selfSignedSha1Leaf,
      [f.selfSignedSha1Leaf],
      /certificate "CN=Self Signed SHA1 Leaf.*" is signed with ecdsa-with-SHA1: MD2, MD5 and SHA-1 signatures are not accepted/,
    );
  });

  it('refuses a chain whose last certificate is not self-signed', async () => {
    await chainRefused(
      f.leafUnderIntermediate,
      [f.leafUnderIntermediate, f.intermediate],
      /root certificate "CN=Intermediate.*" is not self-signed: a certificate chain must end with a valid self-signed root certificate/,
    );
  });

  it('refuses a self-signed leaf in front of a root', async () => {
    // Not a CA: Go's CheckSignatureFrom(itself) fails, so notation-core-go says "not issued by" too.
    await chainRefused(f.selfSignedLeaf, [f.selfSignedLeaf, f.root], /certificate "CN=Self Signed Leaf.*" is not issued by "CN=Root/);
    // A CA signing itself is self-signed in Go's sense.
    await chainRefused(
      f.selfSignedCaLeaf,
      [f.selfSignedCaLeaf, f.root],
      /leaf certificate "CN=Self Signed CA Leaf.*" is self-signed: only the root of a chain may be/,
    );
  });

  it('refuses a self-signed intermediate', async () => {
    await chainRefused(f.leafUnderRoot2, [f.leafUnderRoot2, f.root2, f.root], /intermediate certificate "CN=Second Root.*" is self-signed/);
  });

  it('refuses a chain whose certificates are not issued by the next', async () => {
    await chainRefused(f.leafEc, [f.leafEc, f.root2], /certificate "CN=Leaf EC.*" is not issued by "CN=Second Root/);
  });

  it('refuses a CA below an intermediate of path length 0', async () => {
    await chainRefused(
      f.leafUnderSubCa,
      [f.leafUnderSubCa, f.subCa, f.pathLenZero, f.root],
      /certificate "CN=PathLen Zero.*": expected path length of 1 but the certificate allows 0/,
    );
    // The same intermediate may issue the leaf directly.
    const content = await openEnvelope(await signed('jws', f.leafUnderPathLenZero, [f.leafUnderPathLenZero, f.pathLenZero, f.root]), JWS);
    assert.equal(content.chain.length, 3);
  });

  it('refuses an intermediate whose keyUsage is not critical', async () => {
    await chainRefused(
      f.leafUnderKuNotCritical,
      [f.leafUnderKuNotCritical, f.intermediateKuNotCritical, f.root],
      /Intermediate KU Not Critical.*: the key usage extension must be marked critical/,
    );
  });

  it('refuses an intermediate whose basicConstraints is not critical', async () => {
    await chainRefused(f.leafUnderBcNotCritical, [f.leafUnderBcNotCritical, f.intermediateBcNotCritical, f.root], /basic constraints/);
  });

  it('refuses a lone certificate that does not sign itself, or whose issuer is not its subject', async () => {
    await chainRefused(f.leafEc, [f.leafEc], /invalid self-signed certificate "CN=Leaf EC.*": its signature does not verify with its own key/);
    await chainRefused(f.selfSignedRenamed, [f.selfSignedRenamed], /invalid self-signed certificate "CN=Renamed Leaf.*": issuer and subject differ/);
  });

  it('checks the leaf rules on a lone self-signed certificate too', async () => {
    await chainRefused(f.selfSignedCaLeaf, [f.selfSignedCaLeaf], /a leaf certificate must not have cA set to true/);
  });
});

describe('validityProblem', () => {
  const chain = () => [parseCertificate(f.leafEc.der), parseCertificate(f.root.der)];

  it('is undefined inside every validity period, bounds included', () => {
    assert.equal(validityProblem(chain(), new Date('2027-01-01T00:00:00Z'), 'now'), undefined);
    assert.equal(validityProblem(chain(), LEAF_VALIDITY.notBefore, 'now'), undefined);
    assert.equal(validityProblem(chain(), LEAF_VALIDITY.notAfter, 'now'), undefined);
    assert.equal(validityProblem([], new Date(0), 'now'), undefined);
  });

  it('names the first certificate not yet valid', () => {
    assert.equal(
      validityProblem(chain(), new Date('2025-03-01T00:00:00Z'), 'the signing time'),
      `the signing time (2025-03-01T00:00:00.000Z) is before certificate "${parseCertificate(f.leafEc.der).subject.text}" is valid (from 2025-06-01T00:00:00.000Z)`,
    );
    assert.match(
      validityProblem(chain(), new Date(LEAF_VALIDITY.notBefore.getTime() - 1), 'at') ?? '',
      /^at \(2025-05-31T23:59:59\.999Z\) is before certificate "CN=Leaf EC/,
    );
    assert.match(validityProblem(chain(), new Date('2024-06-01T00:00:00Z'), 'at') ?? '', /before certificate "CN=Leaf EC/);
  });

  it('names the first certificate expired, in chain order', () => {
    assert.match(
      validityProblem(chain(), new Date('2031-01-01T00:00:00Z'), 'the time of verification') ?? '',
      /^the time of verification \(2031-01-01T00:00:00\.000Z\) is after certificate "CN=Leaf EC.*" expired \(2030-06-01T00:00:00\.000Z\)$/,
    );
    assert.match(validityProblem([...chain()].reverse(), new Date('2036-01-01T00:00:00Z'), 'at') ?? '', /after certificate "CN=Root.*" expired \(2035-01-01/);
    assert.match(validityProblem([...chain()].reverse(), new Date('2031-01-01T00:00:00Z'), 'at') ?? '', /after certificate "CN=Leaf EC/);
  });
});

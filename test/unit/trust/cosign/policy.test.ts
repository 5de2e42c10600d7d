import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cosignKeyPair } from '../../../harness/cosign-keys.js';
import { SignetError } from '../../../../src/errors.js';
import { extensionOid, extensionText } from '../../../../src/trust/cosign/fulcio-extensions.js';
import { globRegExp } from '../../../../src/trust/cosign/identity.js';
import { parsePinnedKey } from '../../../../src/trust/cosign/keys.js';
import { prepareCosignPolicy, type CosignPolicyInput } from '../../../../src/trust/cosign/sigstore-verifier.js';
import { trustMaterialFromRoot } from '../../../../src/trust/cosign/trusted-root.js';
import { encodePem } from '../../../../src/trust/x509/pem.js';

const PUBLIC_GOOD = fileURLToPath(new URL('../../../fixtures/sigstore-go/trusted-roots/public-good.json', import.meta.url));
const publicGood = (): Record<string, unknown> => JSON.parse(readFileSync(PUBLIC_GOOD, 'utf8')) as Record<string, unknown>;

function configError(fn: () => unknown, ...mentions: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SignetError, String(err));
    assert.equal(err.code, 'CONFIG_INVALID');
    for (const m of mentions) assert.match(err.message, m);
    return true;
  });
}

describe('cosign pinned keys', () => {
  for (const kind of ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa'] as const) {
    it(`reads a ${kind} key and names it by the sha256 of its DER SubjectPublicKeyInfo`, () => {
      const key = cosignKeyPair(kind);
      const pinned = parsePinnedKey(key.publicKeyPem, '/etc/signet/cosign.pub', 'policy.rules.0.require.cosign.keys.0');
      assert.equal(pinned.id, key.keyId);
      assert.equal(pinned.kind, kind);
    });
  }

  it('reads a PKCS #1 RSA public key with the same key ID', () => {
    const key = cosignKeyPair('rsa');
    const pkcs1 = key.publicKey.export({ format: 'pem', type: 'pkcs1' }).toString();
    assert.equal(parsePinnedKey(pkcs1, 'rsa.pub', 'k').id, key.keyId);
  });

  it('refuses what cosign keys are not, naming the file and the config key', () => {
    const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const two = cosignKeyPair('ecdsa-p256').publicKeyPem + cosignKeyPair('ecdsa-p256').publicKeyPem;
    const where = 'policy.rules.3.require.cosign.keys.1';
    configError(() => parsePinnedKey(p521, 'p521.pub', where), /P-521|secp521r1/, /p521\.pub/, /keys\.1/);
    configError(() => parsePinnedKey(rsa1024, 'rsa.pub', where), /1024-bit/);
    configError(() => parsePinnedKey('not a key', 'junk.pub', where), /exactly one PEM public key/);
    configError(() => parsePinnedKey(two, 'two.pub', where), /exactly one/);
    configError(() => parsePinnedKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', 'bad.pub', where), /not a readable public key/);
    const [ca] = publicGood()['certificateAuthorities'] as Array<{ certChain: { certificates: Array<{ rawBytes: string }> } }>;
    const caDer = Buffer.from(ca?.certChain.certificates[0]?.rawBytes ?? '', 'base64');
    configError(() => parsePinnedKey(encodePem('CERTIFICATE', caDer), 'ca.pem', where), /not a public key/);
  });
});

describe('cosign trusted_root.json', () => {
  const where = 'policy.rules.0.require.cosign.trustedRoot';
  it('builds trust material from the public-good root', () => {
    const material = trustMaterialFromRoot({ path: PUBLIC_GOOD, json: publicGood() }, where);
    assert.ok(material.tlogs.length > 0 && material.ctlogs.length > 0 && material.certificateAuthorities.length > 0);
  });

  it('refuses roots sigstore-go would not load, naming the file', () => {
    const bad = (json: unknown, ...mentions: RegExp[]) =>
      configError(() => trustMaterialFromRoot({ path: '/etc/signet/root.json', json }, where), /\/etc\/signet\/root\.json/, /trustedRoot/, ...mentions);
    bad('a string', /not a JSON object/);
    bad([], /not a JSON object/);
    bad({ ...publicGood(), mediaType: 'application/vnd.dev.sigstore.trustedroot.v0.2+json' }, /mediaType/);
    bad({ ...publicGood(), tlogs: {} }, /tlogs must be a list/);
    const root = publicGood();
    const [tlog] = root['tlogs'] as Array<{ publicKey: { validFor: Record<string, unknown>; rawBytes: string } }>;
    assert.ok(tlog);
    delete tlog.publicKey.validFor['start'];
    bad(root, /validFor\.start is missing/);
    const broken = publicGood();
    const [ca] = broken['certificateAuthorities'] as Array<{ certChain: { certificates: Array<{ rawBytes: string }> } }>;
    assert.ok(ca);
    ca.certChain.certificates = [];
    bad(broken, /certChain has no certificate/);
    const badKey = publicGood();
    const [log] = badKey['ctlogs'] as Array<{ publicKey: { rawBytes: string } }>;
    assert.ok(log);
    log.publicKey.rawBytes = 'AAAA';
    bad(badKey);
  });
});

describe('cosign policy', () => {
  const base: CosignPolicyInput = { keys: [], identities: [], trustedRoot: undefined, tlog: false, path: 'policy.rules.0.require.cosign' };
  const identity = { issuer: 'https://accounts.google.com', subject: { kind: 'exact' as const, value: 'a@example.com' }, extensions: {} };
  const root = { path: 'root.json', json: publicGood() };

  it('needs someone to trust, and a root for identities and logs', () => {
    configError(() => prepareCosignPolicy(base), /at least one of keys or identities/);
    configError(() => prepareCosignPolicy({ ...base, identities: [identity] }), /trustedRoot/);
    configError(() => prepareCosignPolicy({ ...base, keys: [{ path: 'k.pub', pem: cosignKeyPair('ed25519').publicKeyPem }], tlog: true }), /trustedRoot/);
  });

  it('refuses unknown extension names and bad expressions, naming the identity', () => {
    configError(
      () => prepareCosignPolicy({ ...base, trustedRoot: root, tlog: true, identities: [{ ...identity, extensions: { githubWorkflowRepo: 'acme/app' } }] }),
      /identities\.0\.extensions/,
      /githubWorkflowRepo/,
    );
    configError(
      () => prepareCosignPolicy({ ...base, trustedRoot: root, tlog: true, identities: [{ ...identity, subject: { kind: 'regexp', value: '(' } }] }),
      /subjectRegExp/,
    );
  });

  it('prepares keys, identities and the root', () => {
    const key = cosignKeyPair('ecdsa-p256');
    const prepared = prepareCosignPolicy({ ...base, keys: [{ path: 'k.pub', pem: key.publicKeyPem }], identities: [identity], trustedRoot: root, tlog: true });
    assert.equal(prepared.keys[0]?.id, key.keyId);
    assert.equal(prepared.identities[0]?.signer, 'https://accounts.google.com a@example.com');
    assert.ok(prepared.root);
  });
});

describe('cosign identity globs', () => {
  it('matches * within a path segment and ** across, everything else literally', () => {
    const re = globRegExp('https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*');
    assert.ok(re.test('https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1'));
    assert.ok(re.test('https://github.com/acme/app.evil.com/.github/workflows/release.yml@refs/tags/v1'), '* is a whole segment, dots included');
    assert.ok(!re.test('https://github.com/acme/team/app/.github/workflows/release.yml@refs/tags/v1'));
    assert.ok(!re.test('https://github.com/acme/app/.github/workflows/release.yml@refs/tags/release/v1'));
    assert.ok(!re.test('https://githubxcom/acme/app/.github/workflows/release.yml@refs/tags/v1'));
    assert.ok(!re.test('x https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1'));
    assert.ok(globRegExp('https://github.com/acme/**').test('https://github.com/acme/a/b/c.yml@refs/heads/main'));
    assert.ok(globRegExp('*@acme.com').test('alice@acme.com'));
    assert.ok(!globRegExp('*@acme.com').test('alice@acme.com.evil'));
    assert.ok(globRegExp('a+(b)?[c]{d}|e$^').test('a+(b)?[c]{d}|e$^'));
  });
});

describe('Fulcio extensions', () => {
  it('names extensions by their Fulcio field names, in any case, or by OID', () => {
    assert.equal(extensionOid('githubWorkflowRepository'), '1.3.6.1.4.1.57264.1.5');
    assert.equal(extensionOid('sourcerepositoryuri'), '1.3.6.1.4.1.57264.1.12');
    assert.equal(extensionOid('1.2.3.4'), '1.2.3.4');
    assert.equal(extensionOid('issuerV3'), undefined);
    assert.equal(extensionOid('1.2.'), undefined);
  });

  it('reads the legacy extensions raw and the others as DER strings', () => {
    assert.equal(extensionText('1.3.6.1.4.1.57264.1.5', Buffer.from('acme/app')), 'acme/app');
    const der = Buffer.concat([Buffer.from([0x0c, 8]), Buffer.from('acme/app')]);
    assert.equal(extensionText('1.3.6.1.4.1.57264.1.12', der), 'acme/app');
    assert.equal(extensionText('1.3.6.1.4.1.57264.1.5', der), der.toString('utf8'));
    assert.equal(extensionText('1.3.6.1.4.1.57264.1.12', Buffer.from('raw')), 'raw');
  });
});

/**
 * End-to-end checks on metadata produced by the real notary client and notary-server
 * (test/fixtures/notary/generate.sh): every signature of every role verifies with the keys its
 * parent publishes, and our canonical bytes are exactly the bytes Go signed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalize } from '../../../../src/trust/notary/canonical-json.js';
import { rootCertificateKeys } from '../../../../src/trust/notary/certificates.js';
import { isTrustError } from '../../../../src/trust/notary/errors.js';
import { keyId, type PublicKeyRecord } from '../../../../src/trust/notary/keys.js';
import { parseSigned, type RoleKeys, type Root, type SignedMetadata, type Targets } from '../../../../src/trust/notary/metadata.js';
import { verifySignature, verifySignatures } from '../../../../src/trust/notary/verify-signature.js';
import { fixtureBytes, fixtureInfo, fixtureNow } from '../../../harness/notary-fixtures.js';

const rejects = (code: string) => (err: unknown) => isTrustError(err) && err.code === code;

/** The raw text of `signed` in a file Go wrote: {"signed":<raw>,"signatures":[...]}. */
function rawSignedText(file: Buffer): Buffer {
  const start = Buffer.from('{"signed":').length;
  const end = file.lastIndexOf(Buffer.from(',"signatures":'));
  return file.subarray(start, end);
}

/** Undoes Go's HTML escaping of the wire format (encoding/json compact with escape=true). */
function unHtmlEscape(raw: Buffer): Buffer {
  const map: Record<string, string> = { '003c': '<', '003e': '>', '0026': '&', '2028': '\u2028', '2029': '\u2029' };
  return Buffer.from(
    raw.toString('utf8').replace(/\\u(003c|003e|0026|2028|2029)/g, (_, h: string) => map[h] ?? ''),
    'utf8',
  );
}

interface Loaded {
  readonly root: SignedMetadata<Root>;
  readonly files: Map<string, { bytes: Buffer; meta: SignedMetadata<unknown> }>;
}

function load(name: string, roles: readonly string[]): Loaded {
  const files = new Map<string, { bytes: Buffer; meta: SignedMetadata<unknown> }>();
  for (const role of roles) {
    const bytes = fixtureBytes(`${name}/${role}.json`);
    files.set(role, { bytes, meta: parseSigned(bytes, role) });
  }
  return { root: files.get('root')?.meta as SignedMetadata<Root>, files };
}

const FIXTURES = {
  'ecdsa-delegation': ['root', 'targets', 'targets/releases', 'targets/releases/qa', 'snapshot', 'timestamp'],
  'rsa-ca-root': ['root', 'targets', 'snapshot', 'timestamp'],
} as const;

for (const [name, roles] of Object.entries(FIXTURES)) {
  describe(`real notary fixture ${name}`, () => {
    const info = fixtureInfo(name);
    const { root, files } = load(name, roles);

    it('canonicalize(signed) is byte for byte what Go signed (the wire text minus HTML escapes)', () => {
      for (const [role, { bytes, meta }] of files) {
        assert.deepEqual(canonicalize(meta.signedValue), unHtmlEscape(rawSignedText(bytes)), role);
      }
    });

    it('root: key IDs hash to themselves; the root role verifies with root.json keys and rebuilt certificate keys', () => {
      for (const [id, key] of root.signed.keys) assert.equal(keyId(key), id);
      const rootRole = root.signed.roles.get('root');
      assert.ok(rootRole !== undefined);
      assert.equal(verifySignatures(root, rootRole, root.signed.keys).size, 1);
      const certs = rootCertificateKeys(root.signed, info.gun, { now: fixtureNow(name), checkExpiry: true, filterIntermediates: true });
      assert.equal(verifySignatures(root, { keyids: [...certs.keys.keys()], threshold: rootRole.threshold }, certs.keys).size, 1);
      assert.throws(
        () => rootCertificateKeys(root.signed, `${info.gun}-other`, { now: fixtureNow(name), checkExpiry: true, filterIntermediates: true }),
        rejects('bad_certificate'),
      );
    });

    it('targets, snapshot and timestamp verify with the keys root.json gives their roles', () => {
      for (const role of ['targets', 'snapshot', 'timestamp']) {
        const meta = files.get(role)?.meta;
        const roleKeys = root.signed.roles.get(role);
        assert.ok(meta !== undefined && roleKeys !== undefined, role);
        assert.equal(verifySignatures(meta, roleKeys, root.signed.keys).size, 1, role);
        // Keys of another role do not count.
        const other = root.signed.roles.get(role === 'targets' ? 'snapshot' : 'targets');
        assert.ok(other !== undefined);
        assert.throws(() => verifySignatures(meta, other, root.signed.keys), rejects('threshold'), role);
      }
    });

    it('every target listed in fixture.json is there with its length', () => {
      for (const [role, targets] of Object.entries(info.targets ?? {})) {
        const meta = files.get(role)?.meta as SignedMetadata<Targets> | undefined;
        assert.ok(meta !== undefined, role);
        assert.deepEqual(Object.fromEntries([...meta.signed.targets].map(([target, file]) => [target, file.length])), targets, role);
      }
    });

    /** The role entry and key map that sign `role`: root.json for base roles, the parent for delegations. */
    const signers = (role: string): { role: RoleKeys; keys: ReadonlyMap<string, PublicKeyRecord> } => {
      if (!role.startsWith('targets/')) {
        const entry = root.signed.roles.get(role);
        assert.ok(entry !== undefined, role);
        return { role: entry, keys: root.signed.keys };
      }
      const parent = files.get(role.slice(0, role.lastIndexOf('/')))?.meta as SignedMetadata<Targets> | undefined;
      const entry = parent?.signed.delegations.roles.find((r) => r.name === role);
      assert.ok(parent !== undefined && entry !== undefined, role);
      return { role: entry, keys: parent.signed.delegations.keys };
    };

    it('every file verifies with its signers; changing one byte of a signed field breaks it', () => {
      for (const [role, { bytes, meta }] of files) {
        const { role: entry, keys } = signers(role);
        assert.equal(verifySignatures(meta, entry, keys).size, 1, role);
        const version = JSON.stringify(meta.signedValue['version']);
        const text = bytes.toString('utf8');
        const at = text.indexOf('"version":') + '"version":'.length;
        assert.equal(text.slice(at, at + version.length), version);
        const tampered = Buffer.from(text.slice(0, at) + String(Number(version) + 1) + text.slice(at + version.length));
        assert.throws(() => verifySignatures(parseSigned(tampered, role), entry, keys), rejects('threshold'), role);
        const expires = meta.signedValue['expires'] as string;
        const later = Buffer.from(
          text.replace(
            expires,
            expires.replace(/^\d{4}/, (y) => String(Number(y) + 1)),
          ),
        );
        assert.throws(() => verifySignatures(parseSigned(later, role), entry, keys), rejects('threshold'), role);
      }
    });
  });
}

describe('real notary fixture ecdsa-delegation: delegations and escaped names', () => {
  const { files } = load('ecdsa-delegation', FIXTURES['ecdsa-delegation']);
  const targets = files.get('targets')?.meta as SignedMetadata<Targets>;
  const releases = files.get('targets/releases')?.meta as SignedMetadata<Targets>;
  const qa = files.get('targets/releases/qa')?.meta as SignedMetadata<Targets>;

  it('targets/releases verifies with the keys targets.json delegates, qa with those of releases', () => {
    const releasesRole = targets.signed.delegations.roles.find((r) => r.name === 'targets/releases');
    assert.ok(releasesRole !== undefined);
    assert.equal(verifySignatures(releases, releasesRole, targets.signed.delegations.keys).size, 1);
    assert.equal(releases.signatures[0]?.method, 'ecdsa');
    const qaRole = releases.signed.delegations.roles.find((r) => r.name === 'targets/releases/qa');
    assert.ok(qaRole !== undefined);
    assert.deepEqual(qaRole.paths, ['qa-']);
    assert.equal(verifySignatures(qa, qaRole, releases.signed.delegations.keys).size, 1);
    assert.equal(qa.signatures[0]?.method, 'rsapss');
    // Crossed keys fail.
    assert.throws(() => verifySignatures(qa, releasesRole, targets.signed.delegations.keys), rejects('threshold'));
  });

  it('a target name with < > & U+2028 U+2029, é, 漢, " and \\ (HTML-escaped on the wire) still verifies', () => {
    const tricky = Object.keys(fixtureInfo('ecdsa-delegation').targets?.['targets'] ?? {}).find((n) => n.startsWith('tricky'));
    assert.ok(tricky !== undefined);
    assert.ok(targets.signed.targets.has(tricky));
    const wire = rawSignedText(files.get('targets')?.bytes ?? Buffer.alloc(0)).toString('utf8');
    for (const escape of ['\\u003c', '\\u003e', '\\u0026', '\\u2028', '\\u2029']) assert.ok(wire.includes(escape), escape);
    const message = canonicalize(targets.signedValue);
    assert.ok(message.includes(Buffer.from('tricky<tag>&amp\u2028line\u2029para-\u00e9\u6f22\\"quote\\\\back', 'utf8')));
    const sig = targets.signatures[0];
    assert.ok(sig !== undefined);
    const rootKeys = (files.get('root')?.meta as SignedMetadata<Root>).signed.keys;
    const targetsKey = rootKeys.get(sig.keyid);
    assert.ok(targetsKey !== undefined);
    verifySignature(sig.method, targetsKey, sig.sig, message);
    // The raw wire text is not what was signed.
    assert.throws(() => verifySignature(sig.method, targetsKey, sig.sig, Buffer.from(wire)), rejects('bad_signature'));
    // Nor is a canonical form that escapes U+2028 like Go's non-canonical encoder does.
    const escaped = Buffer.from(message.toString('utf8').replace(/\u2028/g, '\\u2028'));
    assert.throws(() => verifySignature(sig.method, targetsKey, sig.sig, escaped), rejects('bad_signature'));
  });

  it('a length above 10^6 is signed as a plain integer', () => {
    assert.equal(targets.signed.targets.get('big')?.length, 1234567);
    assert.ok(canonicalize(targets.signedValue).includes(Buffer.from('"length":1234567')));
  });
});

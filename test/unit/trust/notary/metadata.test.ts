import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSigned } from '../../../../src/trust/notary/metadata.js';
import { checkHashes, checkLength, checkNotExpired, checkVersion } from '../../../../src/trust/notary/metadata-checks.js';
import { delegationNameProblem, goPathClean, isDelegationName } from '../../../../src/trust/notary/role-names.js';
import { parseRfc3339 } from '../../../../src/trust/rfc3339.js';
import { isTrustError } from '../../../../src/trust/notary/errors.js';
import { fixtureBytes } from '../../../harness/notary-fixtures.js';

const rejects = (code: string) => (err: unknown) => isTrustError(err) && err.code === code;
const EXPIRES = '2030-01-02T03:04:05.123456789Z';
const KEY = { keytype: 'ed25519', keyval: { private: null, public: Buffer.alloc(32, 1).toString('base64') } };
const KEY_ID = 'k1';
const HASHES = { sha256: Buffer.alloc(32, 2).toString('base64'), sha512: Buffer.alloc(64, 3).toString('base64') };
const wrap = (signed: unknown, signatures: unknown = [{ keyid: KEY_ID, method: 'EdDSA', sig: 'QUI=' }]) => Buffer.from(JSON.stringify({ signed, signatures }));
const role = (keyids = [KEY_ID], threshold = 1) => ({ keyids, threshold });
const rootSigned = (patch: Record<string, unknown> = {}) => ({
  _type: 'Root',
  version: 1,
  expires: EXPIRES,
  consistent_snapshot: false,
  keys: { [KEY_ID]: KEY },
  roles: { root: role(), targets: role(), snapshot: role(), timestamp: role() },
  ...patch,
});
const targetsSigned = (roles: unknown[] = [], patch: Record<string, unknown> = {}) => ({
  _type: 'Targets',
  version: 2,
  expires: EXPIRES,
  targets: { 'v1.0': { length: 10, hashes: { sha256: HASHES.sha256 } } },
  delegations: { keys: { [KEY_ID]: KEY }, roles },
  ...patch,
});
const delegation = (name: string, patch: Record<string, unknown> = {}) => ({ name, keyids: [KEY_ID], threshold: 1, paths: [''], ...patch });

describe('parseSigned on real notary output', () => {
  it('reads every role of the fixtures with its types', () => {
    const root = parseSigned(fixtureBytes('ecdsa-delegation/root.json'), 'root');
    assert.equal(root.signed.type, 'Root');
    assert.deepEqual([...root.signed.roles.keys()].sort(), ['root', 'snapshot', 'targets', 'timestamp']);
    assert.equal(root.signatures[0]?.method, 'ecdsa');
    const targets = parseSigned(fixtureBytes('ecdsa-delegation/targets.json'), 'targets');
    assert.equal(targets.signed.targets.get('1.0')?.length, 1234);
    assert.equal(targets.signed.targets.get('1.0')?.hashes.get('sha256')?.length, 32);
    assert.deepEqual(
      targets.signed.delegations.roles.map((r) => [r.name, r.paths]),
      [['targets/releases', ['']]],
    );
    const qa = parseSigned(fixtureBytes('ecdsa-delegation/targets/releases/qa.json'), 'targets/releases/qa');
    assert.equal(qa.signed.targets.get('qa-1')?.length, 99);
    const snapshot = parseSigned(fixtureBytes('ecdsa-delegation/snapshot.json'), 'snapshot');
    assert.deepEqual([...snapshot.signed.meta.keys()].sort(), ['root', 'targets', 'targets/releases', 'targets/releases/qa']);
    const timestamp = parseSigned(fixtureBytes('ecdsa-delegation/timestamp.json'), 'timestamp');
    assert.ok(timestamp.signed.expires.getTime() > 0);
    assert.match(timestamp.signed.expiresText, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
  });

  it('checks _type per role', () => {
    assert.throws(() => parseSigned(fixtureBytes('ecdsa-delegation/targets.json'), 'snapshot'), rejects('malformed'));
    assert.throws(() => parseSigned(fixtureBytes('ecdsa-delegation/root.json'), 'targets/releases'), rejects('malformed'));
    assert.throws(() => parseSigned(fixtureBytes('ecdsa-delegation/timestamp.json'), 'root'), rejects('malformed'));
  });
});

describe('parseSigned shape rules', () => {
  it('lower-cases signature methods and tolerates null signatures', () => {
    assert.equal(parseSigned(wrap(rootSigned()), 'root').signatures[0]?.method, 'eddsa');
    assert.equal(parseSigned(wrap(rootSigned(), null), 'root').signatures.length, 0);
  });

  it('root: needs the four base roles, thresholds ≥ 1, known key IDs, version ≥ 1', () => {
    const { roles } = rootSigned();
    assert.throws(() => parseSigned(wrap(rootSigned({ roles: { ...roles, timestamp: undefined } })), 'root'), rejects('malformed'));
    assert.throws(() => parseSigned(wrap(rootSigned({ roles: { ...roles, snapshot: role([KEY_ID], 0) } })), 'root'), rejects('malformed'));
    assert.throws(() => parseSigned(wrap(rootSigned({ roles: { ...roles, targets: role(['missing']) } })), 'root'), rejects('malformed'));
    assert.throws(() => parseSigned(wrap(rootSigned({ version: 0 })), 'root'), rejects('malformed'));
    // Extra roles are allowed and not validated (root.go checks the base roles only).
    parseSigned(wrap(rootSigned({ roles: { ...roles, mirror: role(['nobody'], 0) } })), 'root');
  });

  it('refuses number literals Go cannot read into int fields, and bad base64', () => {
    const text = wrap(rootSigned()).toString().replace('"version":1', '"version":1.0');
    assert.throws(() => parseSigned(Buffer.from(text), 'root'), rejects('canonical_json'));
    const badKey = { ...KEY, keyval: { private: null, public: 'not base64!' } };
    assert.throws(() => parseSigned(wrap(rootSigned({ keys: { [KEY_ID]: badKey } })), 'root'), rejects('malformed'));
  });

  it('reads expires as RFC 3339 with nanoseconds and offsets', () => {
    const at = (expires: string) => parseSigned(wrap(rootSigned({ expires })), 'root').signed.expires.toISOString();
    assert.equal(at('2030-01-02T03:04:05.123456789Z'), '2030-01-02T03:04:05.123Z');
    assert.equal(at('2030-01-02T03:04:05+02:00'), '2030-01-02T01:04:05.000Z');
    assert.equal(at('2030-01-02T03:04:05.5-00:30'), '2030-01-02T03:34:05.500Z');
    for (const bad of [
      '2030-01-02',
      '2030-01-02 03:04:05Z',
      '2030-02-30T00:00:00Z',
      '2030-01-02T24:00:00Z',
      '2030-01-02T03:04:05',
      '2030-01-02T03:04:05+0200',
      'soon',
    ]) {
      assert.throws(() => parseSigned(wrap(rootSigned({ expires: bad })), 'root'), rejects('malformed'), bad);
    }
    assert.equal(parseRfc3339('2028-02-29T00:00:00Z')?.toISOString(), '2028-02-29T00:00:00.000Z');
    assert.equal(parseRfc3339('2100-02-29T00:00:00Z'), null);
  });

  it('snapshot and timestamp need sha256 checksums of the right size', () => {
    const meta = (m: unknown) => ({ _type: 'Snapshot', version: 1, expires: EXPIRES, meta: m });
    const file = (hashes: unknown) => ({ length: 5, hashes });
    parseSigned(wrap(meta({ root: file(HASHES), targets: file({ sha256: HASHES.sha256 }) })), 'snapshot');
    assert.throws(() => parseSigned(wrap(meta({ root: file(HASHES) })), 'snapshot'), rejects('malformed'));
    assert.throws(() => parseSigned(wrap(meta({ root: file(HASHES), targets: file({ sha512: HASHES.sha512 }) })), 'snapshot'), rejects('malformed'));
    const short = { sha256: Buffer.alloc(31).toString('base64') };
    assert.throws(() => parseSigned(wrap(meta({ root: file(HASHES), targets: file(short) })), 'snapshot'), rejects('malformed'));
    const ts = (m: unknown) => ({ _type: 'Timestamp', version: 1, expires: EXPIRES, meta: m });
    parseSigned(wrap(ts({ snapshot: file(HASHES) })), 'timestamp');
    assert.throws(() => parseSigned(wrap(ts({})), 'timestamp'), rejects('malformed'));
    assert.throws(() => parseSigned(wrap(ts({ snapshot: file({ sha256: HASHES.sha256, sha512: HASHES.sha256 }) })), 'timestamp'), rejects('malformed'));
    assert.throws(() => parseSigned(wrap(ts({ snapshot: { length: -1, hashes: HASHES } })), 'timestamp'), rejects('malformed'));
  });
});

describe('delegation names (tuf/data/roles.go IsDelegation, targets.go direct child)', () => {
  it('accepts valid direct children', () => {
    const t = parseSigned(wrap(targetsSigned([delegation('targets/releases')])), 'targets');
    assert.equal(t.signed.delegations.roles[0]?.name, 'targets/releases');
    parseSigned(wrap(targetsSigned([delegation('targets/releases/qa')])), 'targets/releases');
    parseSigned(wrap(targetsSigned([delegation('targets/a-b_c0')])), 'targets');
  });

  it('refuses bad delegation names, naming the rule', () => {
    const bad = [
      'targets/Releases', // upper case
      'targets/rel.eases', // dot
      'targets/rel eases',
      'targets/r\u00e9',
      'targets/' + 'a'.repeat(248), // 256 characters
      'targets/a//b',
      'targets/a/',
      'targets/a/../b',
      'targets',
      'targets/',
      'releases',
      '/targets/a',
      'targets/a/b', // grandchild declared in targets.json
      'root',
    ];
    for (const name of bad) {
      assert.throws(() => parseSigned(wrap(targetsSigned([delegation(name)])), 'targets'), rejects('bad_role_name'), name);
    }
    assert.equal(isDelegationName('targets/' + 'a'.repeat(247)), true); // 255 characters
    assert.throws(() => parseSigned(wrap(targetsSigned([delegation('targets/other/qa')])), 'targets/releases'), rejects('bad_role_name'));
  });

  it('refuses delegations with threshold < 1 or unknown keys, and files parsed for bad role names', () => {
    assert.throws(() => parseSigned(wrap(targetsSigned([delegation('targets/a', { threshold: 0 })])), 'targets'), rejects('malformed'));
    assert.throws(() => parseSigned(wrap(targetsSigned([delegation('targets/a', { keyids: ['nope'] })])), 'targets'), rejects('malformed'));
    assert.throws(() => parseSigned(wrap(targetsSigned()), 'targets/Bad'), rejects('bad_role_name'));
    assert.throws(() => parseSigned(wrap(targetsSigned()), 'mirror'), rejects('bad_role_name'));
  });

  it('treats missing delegations and paths like Go (empty)', () => {
    const t = parseSigned(wrap(targetsSigned([], { delegations: undefined })), 'targets');
    assert.equal(t.signed.delegations.roles.length, 0);
    const p = parseSigned(wrap(targetsSigned([delegation('targets/a', { paths: undefined })])), 'targets');
    assert.deepEqual(p.signed.delegations.roles[0]?.paths, []);
  });

  it('path helpers follow Go path.Clean / path.Dir', () => {
    assert.equal(goPathClean('a//b/./c/..'), 'a/b');
    assert.equal(goPathClean('/../a'), '/a');
    assert.equal(goPathClean(''), '.');
    assert.equal(delegationNameProblem('targets/a', 'targets/a/b'), null);
    assert.notEqual(delegationNameProblem('targets', 'targets/a/b'), null);
  });
});

describe('metadata-checks', () => {
  const snapshot = parseSigned(fixtureBytes('ecdsa-delegation/snapshot.json'), 'snapshot').signed;
  const timestamp = parseSigned(fixtureBytes('ecdsa-delegation/timestamp.json'), 'timestamp').signed;

  it('checkHashes: the real snapshot and timestamp pin the exact bytes of the files they list', () => {
    for (const name of ['root', 'targets', 'targets/releases', 'targets/releases/qa']) {
      const bytes = fixtureBytes(`ecdsa-delegation/${name}.json`);
      const meta = snapshot.meta.get(name);
      assert.ok(meta !== undefined, name);
      checkHashes(name, bytes, meta);
      checkLength(name, bytes.length, meta);
      assert.equal(meta.length, bytes.length);
      const tampered = Buffer.from(bytes);
      tampered[10] = (tampered[10] ?? 0) ^ 1;
      assert.throws(() => checkHashes(name, tampered, meta), rejects('hash_mismatch'));
    }
    const snapshotMeta = timestamp.meta.get('snapshot');
    assert.ok(snapshotMeta !== undefined);
    checkHashes('snapshot', fixtureBytes('ecdsa-delegation/snapshot.json'), snapshotMeta);
    assert.throws(() => checkHashes('x', Buffer.alloc(1), { hashes: new Map([['md5', Buffer.alloc(16)]]) }), rejects('hash_mismatch'));
    assert.throws(() => checkLength('x', 11, { length: 10 }), rejects('too_large'));
  });

  it('checkNotExpired and checkVersion', () => {
    checkNotExpired('timestamp', timestamp, new Date(timestamp.expires.getTime()));
    assert.throws(() => checkNotExpired('timestamp', timestamp, new Date(timestamp.expires.getTime() + 1)), rejects('expired'));
    checkVersion('timestamp', timestamp, timestamp.version);
    assert.throws(() => checkVersion('timestamp', timestamp, timestamp.version + 1), rejects('rollback'));
  });
});

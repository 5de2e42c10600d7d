import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryTrustStateStore } from '../../../../src/cache/memory/trust-state.js';
import { notaryHealth, savedRepository } from '../../../../src/trust/notary/health.js';
import { parseSigned } from '../../../../src/trust/notary/metadata.js';
import { VerifiedNotaryRepo } from '../../../../src/trust/notary/verified-repo.js';
import { fixtureBytes, fixtureInfo } from '../../../harness/notary-fixtures.js';

// The health of a verified repository made by the real notary client and server
// (test/fixtures/notary/ecdsa-delegation): a delegation chain whose keys are x509 certificates.

const NAME = 'ecdsa-delegation';
const TARGETS = ['targets', 'targets/releases', 'targets/releases/qa'];

function repo(): VerifiedNotaryRepo {
  const bytes = (role: string): Buffer => fixtureBytes(`${NAME}/${role}.json`);
  return new VerifiedNotaryRepo({
    gun: fixtureInfo(NAME).gun,
    root: parseSigned(bytes('root'), 'root'),
    timestamp: parseSigned(bytes('timestamp'), 'timestamp'),
    snapshot: parseSigned(bytes('snapshot'), 'snapshot'),
    targets: new Map(TARGETS.map((r) => [r, parseSigned(bytes(r), r)])),
  });
}

describe('notary trust health', () => {
  const items = notaryHealth(repo(), 'https://notary.test:4443');

  it('lists each role with its version and expiry, the one that expires first by design first', () => {
    const metadata = items.filter((i) => i.kind === 'metadata');
    assert.deepEqual(
      metadata.map((i) => i.name),
      ['timestamp', 'snapshot', 'targets', 'targets/releases', 'targets/releases/qa', 'root'],
    );
    for (const m of metadata) {
      assert.equal(m.scope, 'docker.io/library/hello on https://notary.test:4443');
      assert.equal(typeof m.version, 'number');
      assert.ok(m.expires && !Number.isNaN(Date.parse(m.expires)), `${m.name} expires`);
    }
    // notary-server signs timestamps for 14 days, the client signs targets for 3 years.
    const days = (role: string): number => {
      const expires = metadata.find((m) => m.name === role)?.expires ?? '';
      return (Date.parse(expires) - Date.parse(fixtureInfo(NAME).generatedAt)) / 86_400_000;
    };
    assert.ok(days('timestamp') > 13 && days('timestamp') <= 14.01, String(days('timestamp')));
    assert.ok(days('targets') > 1090, String(days('targets')));
  });

  it('gives certificate keys their validity and subject, and plain keys neither', () => {
    const keys = items.filter((i) => i.kind === 'key');
    const root = keys.find((k) => k.role === 'root');
    assert.ok(root?.notBefore && root.expires, 'the root key is a certificate');
    assert.match(root.name, /^root key [0-9a-f]{12} \(.*CN=docker\.io\/library\/hello.*\)$/);
    assert.ok(Date.parse(root.expires) - Date.parse(root.notBefore) > 9 * 365 * 86_400_000, 'notary root certificates last 10 years');
    const releases = keys.filter((k) => k.role === 'targets/releases');
    assert.ok(releases.length >= 1);
    assert.ok(
      releases.every((k) => k.notBefore !== undefined && k.expires !== undefined),
      'delegation keys are certificates',
    );
    const snapshot = keys.find((k) => k.role === 'snapshot');
    assert.ok(snapshot);
    assert.equal(snapshot.expires, undefined);
    assert.equal(snapshot.notBefore, undefined);
  });
});

describe('notary trust health of a saved state', () => {
  const SCOPE = 'https://notary.test:4443';
  const gun = fixtureInfo(NAME).gun;
  async function store(skip?: string): Promise<MemoryTrustStateStore> {
    const s = new MemoryTrustStateStore();
    for (const role of ['root', 'timestamp', 'snapshot', ...TARGETS]) {
      if (role !== skip) await s.write(SCOPE, gun, `${role}.json`, fixtureBytes(`${NAME}/${role}.json`));
    }
    await s.saveVersions(SCOPE, gun, { root: 1 });
    return s;
  }

  it('reads back every role the snapshot lists, as the live state reports it', async () => {
    const saved = await savedRepository(await store(), SCOPE, gun);
    assert.ok(saved);
    assert.deepEqual(notaryHealth(saved, SCOPE), notaryHealth(repo(), SCOPE));
  });

  it('leaves out a state with a file missing or damaged', async () => {
    assert.equal(await savedRepository(await store('timestamp'), SCOPE, gun), undefined);
    const damaged = await store();
    await damaged.write(SCOPE, gun, 'snapshot.json', Buffer.from('{"signed":'));
    assert.equal(await savedRepository(damaged, SCOPE, gun), undefined);
  });
});

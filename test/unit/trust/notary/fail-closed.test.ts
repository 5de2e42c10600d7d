/**
 * Trust state fails closed: a saved state that cannot be read denies the pull; it never
 * counts as "nothing saved yet", which would reset rollback floors and re-trust a root.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { SignetError } from '../../../../src/errors.js';
import type { TrustStateStore } from '../../../../src/cache/ports.js';
import { NotaryTrustSource } from '../../../../src/trust/notary/notary-source.js';
import type { MetadataFetcher } from '../../../../src/trust/notary/remote.js';
import { Denial } from '../../../../src/trust/source.js';

const unreadable = (): never => {
  throw new SignetError('STORAGE_ERROR', 'versions file of docker.io/acme/app is not valid JSON: restore it, or remove the directory to trust anew on purpose');
};

function storeFailingOn(which: 'versions' | 'read'): TrustStateStore {
  return {
    read: async () => (which === 'read' ? unreadable() : undefined),
    write: async () => undefined,
    remove: async () => undefined,
    versions: async () => (which === 'versions' ? unreadable() : {}),
    saveVersions: async () => undefined,
    names: async () => [],
  };
}

const requested: string[] = [];
const fetcher: MetadataFetcher = {
  fetch: async (_gun, file) => {
    requested.push(file);
    return { kind: 'unavailable', message: 'not reached in this test' };
  },
};

for (const which of ['versions', 'read'] as const) {
  test(`an unreadable ${which === 'versions' ? 'rollback floor' : 'saved root'} denies with trust_state_unreadable`, async () => {
    requested.length = 0;
    const source = new NotaryTrustSource({
      store: storeFailingOn(which),
      logger: pino({ level: 'silent' }),
      freshnessSeconds: 60,
      missingCacheSeconds: 30,
      fetcherFor: () => fetcher,
    });
    const server = {
      url: new URL('http://127.0.0.1:9'),
      ca: undefined,
      credentials: undefined,
      gun: '{registry}/{repository}',
      allowedHosts: [],
      allowPrivateAddresses: false,
    };
    const requirement = { server, roots: { keyIds: [], caPems: [], tofu: true }, signers: [], threshold: 0, path: 'policy.rules.0.require.notary' };
    await assert.rejects(source.pinTag({ registry: 'docker.io', repository: 'acme/app', tag: '1.0' }, requirement), (err: unknown) => {
      assert.ok(err instanceof Denial);
      assert.equal(err.reason, 'trust_state_unreadable');
      assert.match(err.message, /cannot be read.*restore it/);
      return true;
    });
    assert.deepEqual(requested, [], 'nothing is fetched to start over');
  });
}

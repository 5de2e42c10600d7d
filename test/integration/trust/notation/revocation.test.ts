import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRevocationChecker, httpRevocationFetch, type RevocationFetch } from '../../../../src/trust/notation/revocation/index.js';
import type { RevocationChecker, RevocationResult } from '../../../../src/trust/notation/types.js';
import { parseCertificate, type CertificateInfo } from '../../../../src/trust/x509/index.js';
import { stopAll } from '../../../harness/cleanup.js';
import { startFakeRegistry, type FakeRegistry } from '../../../harness/fake-registry.js';
import {
  certificateChain,
  createNotationPki,
  serveCrl,
  startOcspResponder,
  type CrlServer,
  type NotationPki,
  type OcspResponder,
  type PkiCertificate,
} from '../../../harness/notation-pki.js';
import { freePort } from '../../../harness/ports.js';

/**
 * Notation revocation checks (src/trust/notation/revocation) against real endpoints, all through
 * httpRevocationFetch: leaves and an intermediate issued by `openssl ca` (notation-pki.ts),
 * `openssl ocsp` responders signing with the CA key or with the CA's delegated responder
 * certificate (RFC 6960 4.2.2.2), and CRLs from `openssl ca -gencrl` on a static server.
 * Misbehaving HTTP (a redirect, a stalled answer) comes from the fake registry, which is the
 * harness's server for that.
 */

type Chain = CertificateInfo[];

/** The certificate and its issuers, root last, as the checker takes them. */
function chainOf(cert: PkiCertificate): Chain {
  return certificateChain(cert).map((der) => parseCertificate(der));
}

/** A checker of its own (so no case depends on what another cached) and the URLs it fetched. */
function newChecker(allowedHosts: readonly string[]): { checker: RevocationChecker; fetched: URL[] } {
  const fetched: URL[] = [];
  const recording: RevocationFetch = (url, init) => {
    fetched.push(url);
    return httpRevocationFetch(url, init);
  };
  const checker = createRevocationChecker({
    fetch: recording,
    allowedHosts,
    timeoutMs: 10_000,
    maxResponseBytes: 1024 * 1024,
    cacheEntries: 100,
    clock: Date.now,
    logger: { warn: () => undefined, debug: () => undefined },
  });
  return { checker, fetched };
}

function assertRevoked(result: RevocationResult | undefined, method: 'ocsp' | 'crl', reason: string): void {
  assert.ok(result?.status === 'revoked', `expected revoked, got ${JSON.stringify(result)}`);
  assert.equal(result.method, method);
  assert.equal(result.reason, reason);
  // openssl ca -revoke stamps "now"; the certificates were all revoked during `before`.
  assert.ok(result.revokedAt instanceof Date && result.revokedAt.getTime() <= Date.now(), `revokedAt ${String(result.revokedAt)}`);
}

describe('Notation revocation against openssl ocsp responders and served CRLs', () => {
  let pki: NotationPki | undefined;
  let chainPki: NotationPki | undefined;
  let caSigned: OcspResponder | undefined;
  let delegated: OcspResponder | undefined;
  let crls: CrlServer | undefined;
  let fake: FakeRegistry | undefined;
  /** Every endpoint of the certificates below, as `trust.revocation.allowedHosts` would list them. */
  let allowed: string[] = [];
  const leaves: Record<string, PkiCertificate> = {};
  const leaf = (name: string): PkiCertificate => {
    const found = leaves[name];
    assert.ok(found, `no leaf ${name}`);
    return found;
  };
  const server = (): CrlServer => {
    assert.ok(crls);
    return crls;
  };

  before(async () => {
    crls = await serveCrl();
    fake = await startFakeRegistry();
    const caSignedPort = await freePort();
    const delegatedPort = await freePort();
    allowed = [`127.0.0.1:${caSignedPort}`, `127.0.0.1:${delegatedPort}`, `127.0.0.1:${crls.port}`];

    // Root-issued leaves: two per endpoint, one of each pair revoked with its own reason.
    pki = await createNotationPki();
    const root = pki.root;
    const endpoints = {
      'ocsp-ca': { ocspUrl: `http://127.0.0.1:${caSignedPort}/` },
      'ocsp-delegated': { ocspUrl: `http://127.0.0.1:${delegatedPort}/` },
      crl: { crlUrl: `${crls.url}/root.crl` },
    } as const;
    for (const [kind, urls] of Object.entries(endpoints)) {
      leaves[`${kind}-good`] = await root.issueLeaf({ keyType: 'ec256', subject: `O=Signet Test, CN=${kind}-good`, ...urls });
      leaves[`${kind}-revoked`] = await root.issueLeaf({ keyType: 'ec256', subject: `O=Signet Test, CN=${kind}-revoked`, ...urls });
    }
    await root.revoke(leaf('ocsp-ca-revoked'), { reason: 'keyCompromise' });
    await root.revoke(leaf('ocsp-delegated-revoked'), { reason: 'cessationOfOperation' });
    await root.revoke(leaf('crl-revoked'), { reason: 'superseded' });
    crls.set('/root.crl', (await root.crl()).der);
    // openssl ocsp reads index.txt once at start: the revocations come first.
    caSigned = await startOcspResponder(root, caSignedPort, { signer: 'ca' });
    delegated = await startOcspResponder(root, delegatedPort, { signer: 'delegated' });

    // root → intermediate (its CRL at the root's) → leaf (its CRL at the intermediate's); the root
    // revokes the intermediate.
    chainPki = await createNotationPki({ intermediate: { crlUrl: `${crls.url}/chain-root.crl` } });
    const intermediate = chainPki.intermediate;
    assert.ok(intermediate);
    leaves['under-revoked-intermediate'] = await chainPki.leaf({ keyType: 'ec256', crlUrl: `${crls.url}/chain-intermediate.crl` });
    await chainPki.root.revoke(intermediate, { reason: 'CACompromise' });
    crls.set('/chain-root.crl', (await chainPki.root.crl()).der);
    crls.set('/chain-intermediate.crl', (await intermediate.crl()).der);
  });

  after(async () => {
    const disposable = (p: NotationPki | undefined) => (p === undefined ? undefined : { stop: () => p.dispose() });
    await stopAll(caSigned, delegated, crls, fake, disposable(pki), disposable(chainPki));
  });

  it('OCSP (responder signing with the CA key): a good leaf is ok, a revoked one revoked with its reason', async () => {
    const { checker } = newChecker(allowed);
    const now = new Date();
    assert.deepEqual(await checker.check(chainOf(leaf('ocsp-ca-good')), 'codeSigning', now), [{ status: 'ok', method: 'ocsp' }, { status: 'nonRevokable' }]);
    const [revoked, root] = await checker.check(chainOf(leaf('ocsp-ca-revoked')), 'codeSigning', now);
    assertRevoked(revoked, 'ocsp', 'keyCompromise');
    assert.deepEqual(root, { status: 'nonRevokable' });
  });

  it('OCSP (delegated responder certificate): a good leaf is ok, a revoked one revoked with its reason', async () => {
    const { checker, fetched } = newChecker(allowed);
    const now = new Date();
    assert.deepEqual(await checker.check(chainOf(leaf('ocsp-delegated-good')), 'codeSigning', now), [
      { status: 'ok', method: 'ocsp' },
      { status: 'nonRevokable' },
    ]);
    const [revoked, root] = await checker.check(chainOf(leaf('ocsp-delegated-revoked')), 'codeSigning', now);
    assertRevoked(revoked, 'ocsp', 'cessationOfOperation');
    assert.deepEqual(root, { status: 'nonRevokable' });
    assert.deepEqual(
      fetched.map((u) => u.port),
      [String(delegated?.port), String(delegated?.port)],
    );
  });

  it('an OCSP answer is cached until its nextUpdate: a second check asks nobody', async () => {
    const { checker, fetched } = newChecker(allowed);
    const chain = chainOf(leaf('ocsp-ca-good'));
    assert.deepEqual(await checker.check(chain, 'codeSigning', new Date()), [{ status: 'ok', method: 'ocsp' }, { status: 'nonRevokable' }]);
    assert.equal(fetched.length, 1);
    assert.deepEqual(await checker.check(chain, 'codeSigning', new Date()), [{ status: 'ok', method: 'ocsp' }, { status: 'nonRevokable' }]);
    assert.equal(fetched.length, 1);
  });

  it('CRL: a good leaf is ok and a revoked one revoked with its reason, from one download', async () => {
    const { checker } = newChecker(allowed);
    const now = new Date();
    const downloads = () =>
      server()
        .requests()
        .filter((p) => p === '/root.crl').length;
    const before = downloads();
    assert.deepEqual(await checker.check(chainOf(leaf('crl-good')), 'codeSigning', now), [{ status: 'ok', method: 'crl' }, { status: 'nonRevokable' }]);
    const [revoked, root] = await checker.check(chainOf(leaf('crl-revoked')), 'codeSigning', now);
    assertRevoked(revoked, 'crl', 'superseded');
    assert.deepEqual(root, { status: 'nonRevokable' });
    assert.equal(downloads(), before + 1);
  });

  it('an intermediate revoked by the root: the chain result says so, the leaf itself is ok', async () => {
    const { checker } = newChecker(allowed);
    const chain = chainOf(leaf('under-revoked-intermediate'));
    assert.equal(chain.length, 3);
    const [leafResult, intermediateResult, rootResult] = await checker.check(chain, 'codeSigning', new Date());
    assert.deepEqual(leafResult, { status: 'ok', method: 'crl' });
    assertRevoked(intermediateResult, 'crl', 'cACompromise');
    assert.deepEqual(rootResult, { status: 'nonRevokable' });
  });

  it('an endpoint whose host is not in allowedHosts is not contacted: the status is unknown', async () => {
    // "127.0.0.1" without a port allows only the scheme's default port, not the servers' ports.
    const { checker, fetched } = newChecker(['127.0.0.1']);
    const requestsBefore = server().requests().length;
    const [crl, crlRoot] = await checker.check(chainOf(leaf('crl-good')), 'codeSigning', new Date());
    assert.ok(crl?.status === 'unknown', `expected unknown, got ${JSON.stringify(crl)}`);
    assert.match(crl.why, /not in trust\.revocation\.allowedHosts/);
    assert.ok(crl.why.includes(`${server().url}/root.crl`), crl.why);
    assert.deepEqual(crlRoot, { status: 'nonRevokable' });
    const [ocsp] = await checker.check(chainOf(leaf('ocsp-ca-good')), 'codeSigning', new Date());
    assert.ok(ocsp?.status === 'unknown', `expected unknown, got ${JSON.stringify(ocsp)}`);
    assert.match(ocsp.why, /not in trust\.revocation\.allowedHosts/);
    assert.deepEqual(fetched, []);
    assert.equal(server().requests().length, requestsBefore);
  });

  describe('httpRevocationFetch', () => {
    it('refuses https: endpoints without a request', async () => {
      await assert.rejects(httpRevocationFetch(new URL('https://127.0.0.1/'), { method: 'GET', timeoutMs: 1000, maxBytes: 10 }), /only http:/);
    });

    it('refuses a body over the limit while it streams (no Content-Length)', async () => {
      assert.ok(fake);
      fake.route('/big.crl', { headers: { 'content-type': 'application/pkix-crl' }, body: Buffer.alloc(64 * 1024, 0x30), chunked: true });
      await assert.rejects(
        httpRevocationFetch(new URL(`${fake.url}/big.crl`), { method: 'GET', timeoutMs: 5000, maxBytes: 10 }),
        /more than 10 bytes, over the limit/,
      );
    });

    it('refuses a body whose Content-Length is over the limit without reading it', async () => {
      await assert.rejects(
        httpRevocationFetch(new URL(`${server().url}/root.crl`), { method: 'GET', timeoutMs: 5000, maxBytes: 10 }),
        /over the limit of 10 bytes/,
      );
    });

    it('returns a 404 as it is', async () => {
      const missing = await httpRevocationFetch(new URL(`${server().url}/elsewhere.crl`), { method: 'GET', timeoutMs: 5000, maxBytes: 1000 });
      assert.equal(missing.status, 404);
    });

    it('does not follow a 302', async () => {
      assert.ok(fake);
      const target = `${server().url}/root.crl`;
      fake.route('/moved.crl', { status: 302, headers: { location: target } });
      const requestsBefore = server().requests().length;
      const moved = await httpRevocationFetch(new URL(`${fake.url}/moved.crl`), { method: 'GET', timeoutMs: 5000, maxBytes: 1024 * 1024 });
      assert.equal(moved.status, 302);
      assert.equal(server().requests().length, requestsBefore);
    });

    it('gives up on an answer that stalls after its headers', async () => {
      assert.ok(fake);
      fake.route('/stalled.crl', { headers: { 'content-type': 'application/pkix-crl' }, body: Buffer.alloc(100), stallAfter: 0 });
      // The 300 ms is the timeout under test; the fake holds the answer until the client leaves.
      await assert.rejects(httpRevocationFetch(new URL(`${fake.url}/stalled.crl`), { method: 'GET', timeoutMs: 300, maxBytes: 1000 }), /within 300 ms/);
      const stall = fake.stalls().find((s) => s.path === '/stalled.crl');
      assert.ok(stall);
      assert.equal(stall.written, 0);
      await stall.closed;
    });
  });
});

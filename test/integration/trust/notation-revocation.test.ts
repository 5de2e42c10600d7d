import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { parseCertificatePem, type CertificateInfo } from '../../../src/trust/x509/index.js';
import { createRevocationChecker, httpRevocationFetch, type RevocationFetch } from '../../../src/trust/notation/revocation/index.js';
import type { RevocationChecker } from '../../../src/trust/notation/types.js';
import { stopAll } from '../../harness/cleanup.js';
import { freePort } from '../../harness/ports.js';
import { runOk, startProcess, type LongRunning } from '../../harness/process.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

/**
 * Revocation checks against real endpoints: a CA made with `openssl req` / `openssl ca`, its
 * `openssl ocsp` responder, and its CRL (`openssl ca -gencrl`) served over plain HTTP, all
 * through httpRevocationFetch.
 */

/**
 * openssl ocsp serves one connection at a time and waits on a connection that sends nothing, so
 * a TCP probe would wedge it: it is ready once it logs that it waits for clients.
 */
async function responderReady(logFile: string): Promise<boolean> {
  const log = await readFile(logFile, 'utf8').catch(() => '');
  return log.includes('waiting for OCSP client connections');
}

describe('Notation revocation against openssl ocsp and a served CRL', () => {
  let dir: string | undefined;
  let responder: LongRunning | undefined;
  let crlServer: Server | undefined;
  let crlRequests = 0;
  let ocspRequests = 0;
  const certs = new Map<string, CertificateInfo>();
  const cert = (name: string): CertificateInfo => certs.get(name) as CertificateInfo;
  let checker: RevocationChecker;

  before(async () => {
    dir = await makeTempDir('ocsp');
    const d = dir;
    const ssl = (...args: string[]) => runOk('openssl', args, { cwd: d, timeoutMs: 30_000 });

    let crl = Buffer.alloc(0);
    crlServer = createServer((req, res) => {
      crlRequests++;
      if (req.url === '/ca.crl') res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(crl);
      else if (req.url === '/moved') res.writeHead(302, { location: '/ca.crl' }).end();
      else if (req.url === '/stall')
        res.flushHeaders(); // headers, then nothing: the client's timeout is under test
      else res.writeHead(404).end();
    });
    const server = crlServer;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    const crlPort = address.port;
    const ocspPort = await freePort();

    await mkdir(join(d, 'newcerts'));
    await writeFile(join(d, 'index.txt'), '');
    await writeFile(join(d, 'serial'), '1000\n');
    await writeFile(join(d, 'crlnumber'), '01\n');
    await writeFile(
      join(d, 'openssl.cnf'),
      [
        '[ ca ]',
        'default_ca = test_ca',
        '[ test_ca ]',
        `dir = ${d}`,
        'database = $dir/index.txt',
        'new_certs_dir = $dir/newcerts',
        'certificate = $dir/ca.crt',
        'private_key = $dir/ca.key',
        'serial = $dir/serial',
        'crlnumber = $dir/crlnumber',
        'default_md = sha256',
        'default_days = 30',
        'default_crl_days = 1',
        'policy = any_name',
        'unique_subject = no',
        '[ any_name ]',
        'commonName = supplied',
        '[ ocsp_leaf ]',
        'basicConstraints = critical,CA:FALSE',
        'keyUsage = critical,digitalSignature',
        'extendedKeyUsage = codeSigning',
        `authorityInfoAccess = OCSP;URI:http://127.0.0.1:${ocspPort}/`,
        '[ crl_leaf ]',
        'basicConstraints = critical,CA:FALSE',
        'keyUsage = critical,digitalSignature',
        'extendedKeyUsage = codeSigning',
        `crlDistributionPoints = URI:http://127.0.0.1:${crlPort}/ca.crl`,
        '',
      ].join('\n'),
    );
    await ssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key');
    await ssl(
      'req',
      '-x509',
      '-new',
      '-key',
      'ca.key',
      '-subj',
      '/CN=Signet Revocation Test Root',
      '-days',
      '30',
      '-sha256',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      'ca.crt',
    );
    for (const [name, extensions] of [
      ['ocsp-good', 'ocsp_leaf'],
      ['ocsp-revoked', 'ocsp_leaf'],
      ['crl-good', 'crl_leaf'],
      ['crl-revoked', 'crl_leaf'],
    ] as const) {
      await ssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
      await ssl('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`);
      await ssl('ca', '-batch', '-config', 'openssl.cnf', '-extensions', extensions, '-notext', '-in', `${name}.csr`, '-out', `${name}.crt`);
      certs.set(name, parseCertificatePem(await readFile(join(d, `${name}.crt`))));
    }
    certs.set('root', parseCertificatePem(await readFile(join(d, 'ca.crt'))));
    await ssl('ca', '-batch', '-config', 'openssl.cnf', '-revoke', 'ocsp-revoked.crt', '-crl_reason', 'keyCompromise');
    await ssl('ca', '-batch', '-config', 'openssl.cnf', '-revoke', 'crl-revoked.crt', '-crl_reason', 'superseded');
    await ssl('ca', '-batch', '-config', 'openssl.cnf', '-gencrl', '-out', 'ca.crl.pem');
    await ssl('crl', '-in', 'ca.crl.pem', '-outform', 'DER', '-out', 'ca.crl');
    crl = await readFile(join(d, 'ca.crl'));

    // -ndays: notation-core-go (and so Signet) treats an OCSP response without nextUpdate as expired.
    responder = await startProcess(
      'openssl',
      ['ocsp', '-index', 'index.txt', '-port', String(ocspPort), '-rsigner', 'ca.crt', '-rkey', 'ca.key', '-CA', 'ca.crt', '-ndays', '1'],
      { cwd: d, logFile: join(d, 'ocsp.log'), ready: () => responderReady(join(d, 'ocsp.log')), readyTimeoutMs: 30_000, graceMs: 2_000 },
    );

    const counting: RevocationFetch = async (url, init) => {
      if (url.port === String(ocspPort)) ocspRequests++;
      return httpRevocationFetch(url, init);
    };
    checker = createRevocationChecker({
      fetch: counting,
      allowedHosts: [`127.0.0.1:${ocspPort}`, `127.0.0.1:${crlPort}`],
      timeoutMs: 10_000,
      maxResponseBytes: 1024 * 1024,
      cacheEntries: 100,
      clock: Date.now,
      logger: { warn: () => undefined, debug: () => undefined },
    });
  });

  after(async () => {
    const server = crlServer;
    server?.closeAllConnections();
    await stopAll(responder, server === undefined ? undefined : { close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    if (dir !== undefined) await removeDir(dir);
  });

  it('OCSP: a good leaf is ok and a revoked one is revoked with its reason', async () => {
    const now = new Date();
    assert.deepEqual(await checker.check([cert('ocsp-good'), cert('root')], 'codeSigning', now), [
      { status: 'ok', method: 'ocsp' },
      { status: 'nonRevokable' },
    ]);
    const [revoked] = await checker.check([cert('ocsp-revoked'), cert('root')], 'codeSigning', now);
    assert.ok(revoked?.status === 'revoked', `expected revoked, got ${JSON.stringify(revoked)}`);
    assert.equal(revoked.method, 'ocsp');
    assert.equal(revoked.reason, 'keyCompromise');
    assert.ok(revoked.revokedAt instanceof Date && revoked.revokedAt.getTime() <= Date.now());
  });

  it('OCSP answers are cached until their nextUpdate', async () => {
    const before = ocspRequests;
    await checker.check([cert('ocsp-good'), cert('root')], 'codeSigning', new Date());
    assert.equal(ocspRequests, before);
  });

  it('CRL: a good leaf is ok and a revoked one is revoked, from one download', async () => {
    const now = new Date();
    const downloads = crlRequests;
    assert.deepEqual(await checker.check([cert('crl-good'), cert('root')], 'codeSigning', now), [{ status: 'ok', method: 'crl' }, { status: 'nonRevokable' }]);
    const [revoked] = await checker.check([cert('crl-revoked'), cert('root')], 'codeSigning', now);
    assert.ok(revoked?.status === 'revoked');
    assert.equal(revoked.method, 'crl');
    assert.equal(revoked.reason, 'superseded');
    assert.equal(crlRequests, downloads + 1);
  });

  it('httpRevocationFetch refuses https, bodies over the limit, slow answers, and does not follow redirects', async () => {
    await assert.rejects(httpRevocationFetch(new URL('https://127.0.0.1/'), { method: 'GET', timeoutMs: 1000, maxBytes: 10 }), /only http:/);
    const address = crlServer?.address();
    assert.ok(address !== null && typeof address === 'object');
    await assert.rejects(
      httpRevocationFetch(new URL(`http://127.0.0.1:${address.port}/ca.crl`), { method: 'GET', timeoutMs: 5000, maxBytes: 10 }),
      /over the limit/,
    );
    const missing = await httpRevocationFetch(new URL(`http://127.0.0.1:${address.port}/elsewhere`), { method: 'GET', timeoutMs: 5000, maxBytes: 1000 });
    assert.equal(missing.status, 404);
    const moved = await httpRevocationFetch(new URL(`http://127.0.0.1:${address.port}/moved`), { method: 'GET', timeoutMs: 5000, maxBytes: 1000 });
    assert.equal(moved.status, 302);
    await assert.rejects(
      httpRevocationFetch(new URL(`http://127.0.0.1:${address.port}/stall`), { method: 'GET', timeoutMs: 300, maxBytes: 1000 }),
      /within 300 ms/,
    );
  });
});

import { createHash, createPrivateKey, createPublicKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { Agent, setGlobalDispatcher } from 'undici';
import { runOk } from './process.js';
import { createTestCa } from './test-ca.js';
import { makeTempDir, removeDir } from './tmp.js';

/**
 * A Docker token-auth server (https://distribution.github.io/distribution/spec/auth/token/)
 * for distribution 2.8's `auth: token:` mode. It signs ES256 JWTs with the key of a self-signed
 * certificate; distribution trusts that certificate through `rootcertbundle` and finds the key
 * by the JWT header's `kid`, which must be the libtrust key ID of the certificate's public key.
 *
 * It serves HTTPS, with a certificate of a test CA made in its temp dir (`caFile`), on a port of
 * its own: another origin than the registry's, as Docker Hub's auth.docker.io is. Signet sends
 * credentials to a realm on another origin only over HTTPS and only to an allowed host, so its
 * upstream config needs `caFile`, `allowedHosts: [host]` and `allowPrivateAddresses: true`
 * (loopback): `signetUpstreamAccess()` gives them. The harness's own `fetch` (registry-client.ts
 * pushing images) trusts the test CA through the test process's global undici dispatcher; Signet
 * never uses that dispatcher, so it trusts the CA only through its config.
 */

export interface TokenIssuer {
  /** https://127.0.0.1:PORT/token */
  readonly realm: string;
  /** 127.0.0.1:PORT */
  readonly host: string;
  /** PEM file of the CA that issued the server certificate (for Signet's `upstreams.<name>.caFile`). */
  readonly caFile: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM file with the signing certificate, for distribution's `rootcertbundle`. */
  readonly rootCertBundle: string;
  readonly credentials: { username: string; password: string };
  /** Number of token requests answered so far (including refused ones). */
  requests(): number;
  stop(): Promise<void>;
}

interface Access {
  type: string;
  name: string;
  actions: string[];
}

const TOKEN_LIFETIME_SECONDS = 300;

/** The test CAs the harness's own fetch trusts besides the system roots (one per issuer started). */
const trustedByHarness = new Set<string>();

function trustInHarness(caPem: string): void {
  trustedByHarness.add(caPem);
  setGlobalDispatcher(new Agent({ connect: { ca: [...rootCertificates, ...trustedByHarness] } }));
}

/** What Signet's config for an upstream using `issuer` needs beyond url and credentials. */
export function signetUpstreamAccess(issuer: TokenIssuer): { caFile: string; allowedHosts: string[]; allowPrivateAddresses: boolean } {
  return { caFile: issuer.caFile, allowedHosts: [issuer.host], allowPrivateAddresses: true };
}

/** libtrust KeyID: base32 of the first 240 bits of SHA-256(DER SPKI), in 12 groups of 4 joined by ':'. */
export function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const digest = createHash('sha256').update(der).digest().subarray(0, 30);
  const encoded = base32(digest);
  const groups: string[] = [];
  for (let i = 0; i < encoded.length; i += 4) groups.push(encoded.slice(i, i + 4));
  return groups.join(':');
}

function base32(data: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet.charAt((value >>> (bits - 5)) & 31);
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet.charAt((value << (5 - bits)) & 31);
  return out;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Parses `repository:library/hello:pull,push` (the name may itself contain ':'). */
function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last <= first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .filter((a) => a !== ''),
  };
}

function parseBasic(header: string | undefined): { username: string; password: string } | undefined {
  if (!header?.toLowerCase().startsWith('basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > 64 * 1024) throw new Error('token request body too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startTokenIssuer(credentials: { username: string; password: string }): Promise<TokenIssuer> {
  const dir = await makeTempDir('tokens');
  try {
    const keyFile = join(dir, 'token.key');
    const certFile = join(dir, 'token.crt');
    await runOk('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '30',
      '-subj',
      '/CN=harness-token-issuer',
    ]);
    const ca = await createTestCa('harness token issuer CA');
    const tls = await ca.server();
    const caFile = join(dir, 'ca.pem');
    await writeFile(caFile, ca.certPem);
    const privateKey = createPrivateKey(await readFile(keyFile));
    const kid = libtrustKeyId(createPublicKey(privateKey));
    const service = 'harness-registry';
    const issuer = 'harness-token-issuer';
    let requests = 0;

    const mint = (subject: string, scopes: string[]): Record<string, unknown> => {
      const now = Math.floor(Date.now() / 1000);
      const access = scopes.map(parseScope).filter((a): a is Access => a !== undefined);
      const header = { typ: 'JWT', alg: 'ES256', kid };
      const claims = {
        iss: issuer,
        sub: subject,
        aud: service,
        exp: now + TOKEN_LIFETIME_SECONDS,
        nbf: now - 60,
        iat: now,
        jti: randomUUID(),
        access,
      };
      const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
      // JWS ES256 wants the raw r||s signature, not DER.
      const signature = sign('sha256', Buffer.from(signingInput), { key: privateKey, dsaEncoding: 'ieee-p1363' });
      const token = `${signingInput}.${b64url(signature)}`;
      return {
        token,
        access_token: token,
        expires_in: TOKEN_LIFETIME_SECONDS,
        issued_at: new Date(now * 1000).toISOString(),
      };
    };

    const reply = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        ...headers,
      });
      res.end(text);
    };

    const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname !== '/token') {
        reply(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] });
        return;
      }
      requests++;
      let given: { username: string; password: string } | undefined;
      let scopes: string[];
      let requestedService: string | null;
      if (req.method === 'GET') {
        given = parseBasic(req.headers.authorization);
        scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' '));
        requestedService = url.searchParams.get('service');
      } else if (req.method === 'POST') {
        // OAuth2 password grant, as the Docker daemon uses with identity tokens disabled.
        const form = new URLSearchParams(await readBody(req));
        if (form.get('grant_type') !== 'password') {
          reply(res, 400, { error: 'unsupported_grant_type' });
          return;
        }
        const username = form.get('username');
        const password = form.get('password');
        given = username !== null && password !== null ? { username, password } : undefined;
        scopes = form.getAll('scope').flatMap((s) => s.split(' '));
        requestedService = form.get('service');
      } else {
        reply(res, 405, { errors: [{ code: 'UNSUPPORTED', message: 'method not allowed' }] });
        return;
      }
      if (requestedService !== null && requestedService !== service) {
        reply(res, 400, { errors: [{ code: 'DENIED', message: `unknown service ${requestedService}` }] });
        return;
      }
      if (!given || given.username !== credentials.username || given.password !== credentials.password) {
        reply(
          res,
          401,
          { errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] },
          {
            'www-authenticate': 'Basic realm="harness-token-issuer"',
          },
        );
        return;
      }
      reply(res, 200, mint(given.username, scopes));
    };

    const server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
      handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) reply(res, 500, { errors: [{ code: 'INTERNAL', message: String(err) }] });
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    trustInHarness(ca.certPem);

    return {
      realm: `https://127.0.0.1:${port}/token`,
      host: `127.0.0.1:${port}`,
      caFile,
      service,
      issuer,
      rootCertBundle: certFile,
      credentials,
      requests: () => requests,
      stop: async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await removeDir(dir);
      },
    };
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
}

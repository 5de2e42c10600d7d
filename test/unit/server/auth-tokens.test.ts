import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { SignJWT, UnsecuredJWT, decodeJwt, decodeProtectedHeader, importPKCS8 } from 'jose';
import type { TokenIssuerConfig } from '../../../src/config/load.js';
import { AuthFailure } from '../../../src/server/auth/auth-failure.js';
import { loadSigningKey } from '../../../src/server/auth/signing-key.js';
import { TokenService } from '../../../src/server/auth/tokens.js';
import { DEFAULTS } from '../../../src/config/defaults.js';

type KeyKind = 'ec' | 'ed25519' | 'rsa';

function pkcs8(kind: KeyKind, options: Record<string, unknown> = {}): string {
  const defaults: Record<KeyKind, Record<string, unknown>> = { ec: { namedCurve: 'P-256' }, ed25519: {}, rsa: { modulusLength: 2048 } };
  const { privateKey } = generateKeyPairSync(kind as 'ec', { ...defaults[kind], ...options } as { namedCurve: string });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function issuerConfig(pem: string, lifetimeSeconds = 300): TokenIssuerConfig {
  return { key: { path: '/etc/signet/token.pem', pem }, issuer: 'signet-test', service: 'signet.test', lifetimeSeconds, realm: undefined };
}

const PULL_APP = [{ type: 'repository', name: 'docker.io/team/app', actions: ['pull'] }];

async function rejectsWith(promise: Promise<unknown>, reason: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof AuthFailure, String(err));
    assert.equal(err.reason, reason, err.message);
    assert.equal(err.code, 'UNAUTHORIZED');
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('token signing keys', () => {
  test('the key type picks the algorithm: EC P-256 ES256, Ed25519 EdDSA, RSA RS256', async () => {
    assert.equal((await loadSigningKey(pkcs8('ec'), 'k.pem')).alg, 'ES256');
    assert.equal((await loadSigningKey(pkcs8('ed25519'), 'k.pem')).alg, 'EdDSA');
    assert.equal((await loadSigningKey(pkcs8('rsa'), 'k.pem')).alg, 'RS256');
    // SEC1 "EC PRIVATE KEY" PEM (openssl ecparam -genkey) is read too.
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.equal((await loadSigningKey(privateKey.export({ type: 'sec1', format: 'pem' }).toString(), 'k.pem')).alg, 'ES256');
  });

  test('other curves, short RSA keys and non-keys are config errors naming the file', async () => {
    const refused = async (pem: string, pattern: RegExp): Promise<void> => {
      await assert.rejects(loadSigningKey(pem, '/etc/signet/token.pem'), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.match(err.message, /auth\.token\.keyFile: \/etc\/signet\/token\.pem/);
        assert.match(err.message, pattern);
        return true;
      });
    };
    await refused(pkcs8('ec', { namedCurve: 'P-384' }), /EC key on curve secp384r1; token keys are EC P-256/);
    await refused(pkcs8('rsa', { modulusLength: 1024 }), /at least 2048 bits, this one has 1024/);
    await refused('-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n', /is not a PEM private key/);
  });
});

describe('tokens', () => {
  for (const kind of ['ec', 'ed25519', 'rsa'] as const) {
    test(`${kind}: an issued token has the Docker token claims and verifies`, async () => {
      const now = Date.UTC(2026, 0, 1, 12);
      const service = await TokenService.create({ config: issuerConfig(pkcs8(kind)), clock: () => now });
      const issued = await service.issue('alice', PULL_APP);
      assert.equal(issued.expiresIn, 300);
      assert.equal(issued.issuedAt.getTime(), now);
      const header = decodeProtectedHeader(issued.token);
      assert.equal(header.alg, service.algorithm);
      assert.equal(header.typ, 'JWT');
      assert.match(String(header.kid), /^[A-Za-z0-9_-]{43}$/);
      const claims = decodeJwt(issued.token);
      assert.equal(claims.iss, 'signet-test');
      assert.equal(claims.aud, 'signet.test');
      assert.equal(claims.sub, 'alice');
      assert.equal(claims.iat, now / 1000);
      assert.equal(claims.nbf, now / 1000);
      assert.equal(claims.exp, now / 1000 + 300);
      assert.match(String(claims.jti), /^[0-9a-f-]{36}$/);
      assert.deepEqual(claims.access, PULL_APP);
      assert.deepEqual(await service.verify(issued.token), { user: 'alice', access: PULL_APP });
    });
  }

  test('an anonymous token has sub "" and names no user', async () => {
    const service = await TokenService.create({ config: issuerConfig(pkcs8('ec')) });
    const { token } = await service.issue(undefined, []);
    assert.equal(decodeJwt(token).sub, '');
    assert.deepEqual(await service.verify(token), { user: undefined, access: [] });
  });

  test('expired tokens are refused as token_expired, after a small leeway; not-yet-valid ones as bad_token', async () => {
    let now = Date.UTC(2026, 0, 1, 12);
    const service = await TokenService.create({ config: issuerConfig(pkcs8('ec'), 60), clock: () => now });
    const { token } = await service.issue('alice', PULL_APP);
    now += (60 + DEFAULTS.tokenLeewaySeconds - 1) * 1000;
    assert.equal((await service.verify(token)).user, 'alice', 'within the leeway');
    now += 2_000;
    await rejectsWith(service.verify(token), 'token_expired', /expired/);
    now = Date.UTC(2026, 0, 1, 12) - (DEFAULTS.tokenLeewaySeconds + 5) * 1000;
    await rejectsWith(service.verify(token), 'bad_token', /claim nbf/);
  });

  test('forged tokens are refused: another key, alg none, HS256 with the public key, other issuer or audience, edited claims', async () => {
    const pem = pkcs8('ec');
    const service = await TokenService.create({ config: issuerConfig(pem) });
    const now = Math.floor(Date.now() / 1000);
    const claims = { access: PULL_APP, sub: 'alice', iss: 'signet-test', aud: 'signet.test', iat: now, nbf: now, exp: now + 300 };

    const otherKey = await importPKCS8(pkcs8('ec'), 'ES256');
    await rejectsWith(service.verify(await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'JWT' }).sign(otherKey)), 'bad_token', /signature/);

    const unsecured = new UnsecuredJWT(claims).encode();
    await rejectsWith(service.verify(unsecured), 'bad_token');

    // The classic key-confusion forgery: HMAC keyed with the public key's bytes.
    const { createPublicKey } = await import('node:crypto');
    const publicPem = createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString();
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(publicPem));
    await rejectsWith(service.verify(hs), 'bad_token', /algorithm/);

    const signingKey = await importPKCS8(pem, 'ES256');
    const sign = (c: Record<string, unknown>): Promise<string> => new SignJWT(c).setProtectedHeader({ alg: 'ES256', typ: 'JWT' }).sign(signingKey);
    await rejectsWith(service.verify(await sign({ ...claims, iss: 'someone-else' })), 'bad_token', /claim iss/);
    await rejectsWith(service.verify(await sign({ ...claims, aud: 'registry.example' })), 'bad_token', /claim aud/);
    const noExp: Record<string, unknown> = { ...claims };
    delete noExp.exp;
    await rejectsWith(service.verify(await sign(noExp)), 'bad_token', /exp/);
    await rejectsWith(service.verify(await sign({ ...claims, access: 'everything' })), 'bad_token', /malformed sub or access/);

    const genuine = (await service.issue('alice', PULL_APP)).token;
    const [h, , sig] = genuine.split('.');
    const edited = Buffer.from(JSON.stringify({ ...decodeJwt(genuine), sub: 'root' })).toString('base64url');
    await rejectsWith(service.verify(`${h}.${edited}.${sig}`), 'bad_token', /signature/);
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Context } from 'koa';
import { AuthFailure } from '../../../src/server/auth/auth-failure.js';
import { parseAuthorization } from '../../../src/server/auth/authorization-header.js';
import { challenge } from '../../../src/server/auth/challenge.js';
import { handshakeFailure } from '../../../src/server/auth/client-certificate.js';
import { formatScope, parseScopes } from '../../../src/server/auth/scope.js';

const basic = (text: string): string => `Basic ${Buffer.from(text).toString('base64')}`;

test('Authorization: Basic user:password (the password may hold colons), Bearer tokens, nothing', () => {
  assert.deepEqual(parseAuthorization(basic('alice:pa:ss')), { scheme: 'basic', user: 'alice', password: 'pa:ss' });
  assert.deepEqual(parseAuthorization(`bearer abc.DEF-_.x~y+/=`), { scheme: 'bearer', token: 'abc.DEF-_.x~y+/=' });
  assert.equal(parseAuthorization(undefined), undefined);
  assert.equal(parseAuthorization(''), undefined);
});

test('malformed Authorization headers are authentication failures, not anonymous requests', () => {
  for (const [header, pattern] of [
    [basic('no-colon'), /not user:password/],
    [basic(':empty-user'), /not user:password/],
    ['Basic !!!', /not base64/],
    ['Bearer a b', /malformed/],
    ['Bearer', /malformed/],
    ['Negotiate abc', /Negotiate scheme is not supported/],
  ] as const) {
    assert.throws(
      () => parseAuthorization(header),
      (err: unknown) => err instanceof AuthFailure && err.reason === 'malformed_authorization' && pattern.test(err.message),
      header,
    );
  }
});

test('token scopes: several per string, names with a host:port, round trip', () => {
  assert.deepEqual(parseScopes('repository:docker.io/library/hello:pull repository:localhost:5000/team/app:pull,push registry:catalog:*'), [
    { type: 'repository', name: 'docker.io/library/hello', actions: ['pull'] },
    { type: 'repository', name: 'localhost:5000/team/app', actions: ['pull', 'push'] },
    { type: 'registry', name: 'catalog', actions: ['*'] },
  ]);
  assert.deepEqual(parseScopes('repository(plugin):vieux/sshfs:pull')[0]?.type, 'repository(plugin)');
  assert.equal(formatScope({ type: 'repository', name: 'a/b', actions: ['pull'] }), 'repository:a/b:pull');
  assert.deepEqual(parseScopes(''), []);
  for (const bad of ['repository', 'repository:name', ':a:pull', 'repository::pull', 'Repo:a:pull', 'repository:a:PULL']) {
    assert.throws(
      () => parseScopes(bad),
      (err: Error & { code?: string; status?: number }) => err.code === 'UNSUPPORTED' && err.status === 400 && /invalid token scope/.test(err.message),
      bad,
    );
  }
});

test('challenges: Bearer with realm, service, scope (and error) when Signet issues tokens; Basic otherwise', () => {
  const ctx = { protocol: 'https', host: 'signet.corp:5000' } as unknown as Context;
  const token = { token: { realm: undefined, service: 'signet' } };
  assert.equal(
    challenge(ctx, token, { repository: 'docker.io/library/hello' }),
    'Bearer realm="https://signet.corp:5000/token",service="signet",scope="repository:docker.io/library/hello:pull"',
  );
  assert.equal(challenge(ctx, token), 'Bearer realm="https://signet.corp:5000/token",service="signet"');
  assert.equal(
    challenge(ctx, { token: { realm: new URL('https://auth.corp/signet/token'), service: 'signet' } }, { error: 'invalid_token' }),
    'Bearer realm="https://auth.corp/signet/token",service="signet",error="invalid_token"',
  );
  assert.equal(challenge(ctx, { token: undefined }, { repository: 'docker.io/x' }), 'Basic realm="signet"');
  // A Host header cannot end the quoted realm: characters a host name has no use for are dropped.
  const hostile = { protocol: 'http', host: 'evil",service="x' } as unknown as Context;
  assert.equal(challenge(hostile, token), 'Bearer realm="http://evilservicex/token",service="signet"');
});

test('TLS handshake errors about the client certificate are authentication failures; others are not', () => {
  // What node:tls reports (Node 24, OpenSSL 3): no certificate, and a certificate that did not verify.
  const missing = Object.assign(new Error('peer did not return a certificate'), { code: 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' });
  assert.equal(handshakeFailure(missing, null)?.message, 'TLS handshake refused: no client certificate');
  const hangUp = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  assert.match(handshakeFailure(hangUp, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE')?.message ?? '', /not trusted: UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  assert.equal(handshakeFailure(hangUp, null), undefined, 'a client that hung up is no authentication attempt');
  assert.equal(handshakeFailure(Object.assign(new Error('http request'), { code: 'ERR_SSL_HTTP_REQUEST' }), undefined), undefined);
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../../src/config/load.js';
import { AccessControl, type AccessVerdict, type AuthFailureReason, type Caller } from '../../../src/policy/access.js';
import { MemoryAuditLog } from '../../../src/policy/audit-log.js';

const UPSTREAMS = `
upstreams:
  docker.io: {url: "http://127.0.0.1:5001"}
  registry.corp: {url: "http://127.0.0.1:5002"}
`;

const RULES = `
auth:
  groups: {team-a: [alice, bob]}
  access:
    - {match: "docker.io/library/*", pull: [anonymous]}
    - {match: "registry.corp/**", pull: [authenticated]}
    - {match: "registry.corp/team-a/**", pull: [group:team-a]}
    - {match: "registry.corp/team-a/secret", pull: [user:alice]}
    - {match: "registry.corp/locked/**", pull: []}
admin: {allow: [user:ops]}
`;

interface Counted {
  decisions: Array<[string, string]>;
  failures: AuthFailureReason[];
}

function setup(yaml: string): { access: AccessControl; audit: MemoryAuditLog; counted: Counted } {
  const config = parseConfig(`${yaml}\n${UPSTREAMS}`, 'test.yaml', { env: {} });
  const audit = new MemoryAuditLog();
  const counted: Counted = { decisions: [], failures: [] };
  const observer = {
    decision: (verdict: string, reason: string) => counted.decisions.push([verdict, reason]),
    authFailure: (reason: AuthFailureReason) => counted.failures.push(reason),
  };
  return { access: new AccessControl({ config, audit, observer }), audit, counted };
}

const alice: Caller = { user: 'alice', client: '10.0.0.1' };
const carol: Caller = { user: 'carol', client: '10.0.0.2' };
const anonymous: Caller = { user: undefined, client: '10.0.0.3' };

function pull(access: AccessControl, caller: Caller, subject: string, tokenGrants?: Set<string>): AccessVerdict {
  const slash = subject.indexOf('/');
  return access.pull(caller, { upstream: subject.slice(0, slash), repository: subject.slice(slash + 1), via: 'pull', tokenGrants });
}

function status(verdict: AccessVerdict): string {
  return verdict.allowed ? 'allowed' : `${verdict.status}:${verdict.reason}`;
}

describe('access decisions', () => {
  test('the most specific rule decides: anonymous, authenticated, group and user principals', () => {
    const { access } = setup(RULES);
    const table: Array<[Caller, string, string]> = [
      [anonymous, 'docker.io/library/hello', 'allowed'],
      [carol, 'docker.io/library/hello', 'allowed'], // anonymous means every client
      [anonymous, 'registry.corp/tools/x', 'unauthenticated:unauthenticated'],
      [carol, 'registry.corp/tools/x', 'allowed'],
      [alice, 'registry.corp/team-a/app', 'allowed'],
      [carol, 'registry.corp/team-a/app', 'forbidden:access_not_granted'], // the team-a rule wins over registry.corp/**
      [alice, 'registry.corp/team-a/secret', 'allowed'],
      [{ user: 'bob', client: undefined }, 'registry.corp/team-a/secret', 'forbidden:access_not_granted'],
      [alice, 'registry.corp/locked/x', 'forbidden:access_not_granted'],
      [alice, 'docker.io/acme/app', 'forbidden:no_access_rule'], // no rule: nobody
      [anonymous, 'docker.io/acme/app', 'unauthenticated:unauthenticated'],
      [alice, 'docker.io/library/nested/x', 'forbidden:no_access_rule'], // * stays within one component
    ];
    for (const [caller, subject, expected] of table) assert.equal(status(pull(access, caller, subject)), expected, `${caller.user ?? 'anonymous'} ${subject}`);
  });

  test('a known user without permission is told which repository and user; the audit log also says which rule grants whom', () => {
    const { access, audit } = setup(RULES);
    const verdict = pull(access, carol, 'registry.corp/team-a/app');
    assert.ok(!verdict.allowed);
    assert.equal(verdict.message, 'user carol may not pull registry.corp/team-a/app');
    const record = audit.records.at(-1);
    assert.equal(record?.kind, 'access');
    assert.equal(record.rule, 'auth.access.2');
    assert.equal(record.message, 'user carol may not pull registry.corp/team-a/app: auth.access.2 grants group:team-a');
  });

  test('every decision is audited once and counted once, with its reason', () => {
    const { access, audit, counted } = setup(RULES);
    pull(access, alice, 'registry.corp/team-a/app');
    pull(access, carol, 'registry.corp/team-a/app');
    pull(access, anonymous, 'registry.corp/x');
    access.pull(alice, { upstream: 'docker.io', repository: 'acme/app', via: 'token' });
    assert.deepEqual(
      audit.records.map((r) => [r.kind, r.client, r.upstream, r.repository, r.reference, r.verdict, r.reason, r.rule]),
      [
        ['access', '10.0.0.1', 'registry.corp', 'team-a/app', 'pull', 'allowed', 'access_granted', 'auth.access.2'],
        ['access', '10.0.0.2', 'registry.corp', 'team-a/app', 'pull', 'denied', 'access_not_granted', 'auth.access.2'],
        ['access', '10.0.0.3', 'registry.corp', 'x', 'pull', 'denied', 'unauthenticated', 'auth.access.1'],
        ['access', '10.0.0.1', 'docker.io', 'acme/app', 'token', 'denied', 'no_access_rule', 'auth.access'],
      ],
    );
    assert.deepEqual(counted.decisions, [
      ['allowed', 'access_granted'],
      ['denied', 'access_not_granted'],
      ['denied', 'unauthenticated'],
      ['denied', 'no_access_rule'],
    ]);
    assert.deepEqual(counted.failures, [], 'refusals are no authentication failures');
  });

  test('a bearer token must cover the repository it is used for, even where the rules allow it', () => {
    const { access } = setup(RULES);
    const grants = new Set(['registry.corp/team-a/app']);
    assert.equal(status(pull(access, alice, 'registry.corp/team-a/app', grants)), 'allowed');
    assert.equal(status(pull(access, alice, 'registry.corp/tools/x', grants)), 'unauthenticated:insufficient_scope');
    // Without permission it is 403 whatever the token says.
    assert.equal(status(pull(access, carol, 'registry.corp/team-a/secret', new Set(['registry.corp/team-a/secret']))), 'forbidden:access_not_granted');
  });

  test('without an auth section everybody may pull and use the admin endpoints (loopback only)', () => {
    const { access, audit, counted } = setup('');
    assert.equal(access.enabled, false);
    assert.equal(status(pull(access, anonymous, 'docker.io/anything/at/all')), 'allowed');
    // Nothing was decided: counted, but the audit log keeps one line per content decision.
    assert.deepEqual(counted.decisions.at(-1), ['allowed', 'access_open']);
    assert.equal(audit.records.length, 0);
    assert.equal(status(access.admin(anonymous, '/metrics')), 'allowed');
    assert.equal(status(access.base(anonymous)), 'allowed');
    assert.equal(access.anonymousMayPull, true);
  });

  test('GET /v2/ needs a user when auth is on; anonymous requests are refused early only when no rule grants anonymous', () => {
    const { access, audit } = setup(RULES);
    assert.equal(status(access.base(anonymous)), 'unauthenticated:unauthenticated');
    assert.equal(status(access.base(alice)), 'allowed');
    assert.deepEqual(
      audit.records.map((r) => [r.reference, r.verdict, r.reason]),
      [
        ['/v2/', 'denied', 'unauthenticated'],
        ['/v2/', 'allowed', 'access_granted'],
      ],
    );
    assert.equal(status(access.anonymous(anonymous, '/v2/x/manifests/1')), 'allowed', 'docker.io/library/* lets anonymous clients pull');
    const closed = setup(`auth: {access: [{match: "**", pull: [authenticated]}]}`).access;
    assert.equal(closed.anonymousMayPull, false);
    assert.equal(status(closed.anonymous(anonymous, '/v2/x/manifests/1')), 'unauthenticated:unauthenticated');
    assert.equal(status(closed.anonymous(alice, '/v2/x/manifests/1')), 'allowed');
  });

  test('admin endpoints: admin.allow decides; unknown clients get 401, other users 403', () => {
    const { access, audit } = setup(RULES);
    assert.equal(status(access.admin({ user: 'ops', client: undefined }, '/metrics')), 'allowed');
    assert.equal(status(access.admin(alice, '/metrics')), 'forbidden:admin_not_granted');
    assert.equal(status(access.admin(anonymous, '/metrics')), 'unauthenticated:unauthenticated');
    assert.deepEqual(
      audit.records.map((r) => [r.kind, r.reference, r.verdict, r.rule]),
      [
        ['admin', '/metrics', 'allowed', 'admin.allow'],
        ['admin', '/metrics', 'denied', 'admin.allow'],
        ['admin', '/metrics', 'denied', 'admin.allow'],
      ],
    );
    // With auth on and no admin section nobody may.
    assert.equal(status(setup(`auth: {access: []}`).access.admin(alice, '/metrics')), 'forbidden:admin_not_granted');
  });

  test('authentication failures are audited with the claimed user (never a secret) and counted by reason', () => {
    const { access, audit, counted } = setup(RULES);
    access.authenticationFailed({ reason: 'bad_credentials', message: 'wrong user name or password', credential: 'basic', user: 'alice' }, '10.0.0.9');
    access.authenticationFailed({ reason: 'token_expired', message: 'the bearer token has expired', credential: 'bearer' }, '10.0.0.9');
    assert.deepEqual(counted.failures, ['bad_credentials', 'token_expired']);
    assert.deepEqual(counted.decisions, [
      ['denied', 'bad_credentials'],
      ['denied', 'token_expired'],
    ]);
    assert.deepEqual(
      audit.records.map((r) => [r.kind, r.client, r.reference, r.verdict, r.reason, r.message]),
      [
        ['access', '10.0.0.9', 'basic', 'denied', 'bad_credentials', 'wrong user name or password (claimed user alice)'],
        ['access', '10.0.0.9', 'bearer', 'denied', 'token_expired', 'the bearer token has expired'],
      ],
    );
  });
});

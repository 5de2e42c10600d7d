import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { MemoryDecisionLog } from '../../../src/cache/memory/decision-log.js';
import type { AuditLog, AuditRecord } from '../../../src/policy/audit-log.js';
import { parseDecision, RecentDecisions } from '../../../src/server/console/recent-decisions.js';
import { decisionFilter } from '../../../src/server/console/api.js';

const silent = pino({ level: 'silent' });

class ListAudit implements AuditLog {
  readonly records: AuditRecord[] = [];
  record(entry: AuditRecord): void {
    this.records.push(entry);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
}

function record(over: Partial<AuditRecord>): AuditRecord {
  return {
    client: '10.0.0.1',
    upstream: 'docker.io',
    repository: 'library/hello',
    kind: 'manifest',
    reference: '1.0',
    digest: 'sha256:' + 'a'.repeat(64),
    mode: 'enforce',
    rule: 'policy.rules.0',
    verdict: 'allowed',
    reason: 'signed',
    message: undefined,
    signers: undefined,
    evidence: undefined,
    trust: undefined,
    ...over,
  };
}

function setup(keep = 100) {
  const audit = new ListAudit();
  const store = new MemoryDecisionLog(keep);
  let now = Date.parse('2026-12-01T10:00:00Z');
  const recent = new RecentDecisions({
    audit,
    store,
    keep,
    formatsOfRule: (rule) => (rule === 'policy.rules.0' ? ['notary'] : ['cosign']),
    logger: silent,
    clock: () => (now += 1000),
  });
  return { audit, store, recent };
}

describe('RecentDecisions', () => {
  it('passes every record to the audit log and keeps it, newest first, with its formats', async () => {
    const { audit, store, recent } = setup();
    recent.record(
      record({
        evidence: [{ format: 'cosign', signer: 'ci@example.com', issuer: 'https://issuer.example', signedAt: new Date('2026-11-30T00:00:00Z') }],
        signers: ['ci@example.com'],
      }),
    );
    recent.record(record({ verdict: 'denied', reason: 'tag_not_signed', reference: '2.0', message: 'tag 2.0 is not signed' }));
    assert.equal(audit.records.length, 2);
    const listed = recent.query({ limit: 10 });
    const newest = listed[0];
    const older = listed[1];
    assert.ok(newest && older);
    assert.equal(newest.reason, 'tag_not_signed');
    assert.deepEqual(newest.formats, ['notary'], 'a denial: the formats its rule requires');
    assert.deepEqual(older.formats, ['cosign'], 'an admission: the formats of its evidence');
    assert.deepEqual(older.evidence, [{ format: 'cosign', signer: 'ci@example.com', issuer: 'https://issuer.example', signedAt: '2026-11-30T00:00:00.000Z' }]);
    await recent.flush();
    assert.equal((await store.recent(10)).length, 2);
  });

  it('filters by verdict, reason, repository (and below it), client or user, format, upstream and kind', () => {
    const { recent } = setup();
    recent.record(record({}));
    recent.record(record({ verdict: 'denied', reason: 'no_signature', repository: 'team/app', rule: 'policy.rules.1', client: '10.0.0.2', user: 'alice' }));
    recent.record(record({ verdict: 'audited', reason: 'tag_not_signed', repository: 'library/hello/sub', kind: 'blob', upstream: 'ghcr.io' }));
    const reasons = (f: Parameters<RecentDecisions['query']>[0]): string[] => recent.query(f).map((d) => d.reason);
    assert.deepEqual(reasons({ limit: 10, verdict: 'denied' }), ['no_signature']);
    assert.deepEqual(reasons({ limit: 10, reason: 'signed' }), ['signed']);
    assert.deepEqual(reasons({ limit: 10, repository: 'library/hello' }), ['tag_not_signed', 'signed']);
    assert.deepEqual(reasons({ limit: 10, client: 'alice' }), ['no_signature']);
    assert.deepEqual(reasons({ limit: 10, client: '10.0.0.2' }), ['no_signature']);
    assert.deepEqual(reasons({ limit: 10, format: 'cosign' }), ['no_signature']);
    assert.deepEqual(reasons({ limit: 10, upstream: 'ghcr.io' }), ['tag_not_signed']);
    assert.deepEqual(reasons({ limit: 10, kind: 'blob' }), ['tag_not_signed']);
    assert.deepEqual(reasons({ limit: 1 }), ['tag_not_signed']);
  });

  it('groups denials by reason with the newest message, the advice, repositories and clients', () => {
    const { recent } = setup();
    recent.record(record({ verdict: 'denied', reason: 'tag_not_signed', message: 'old message' }));
    recent.record(record({ verdict: 'denied', reason: 'tag_not_signed', repository: 'library/other', client: '10.0.0.9', message: 'new message' }));
    recent.record(record({ verdict: 'audited', reason: 'expired', message: 'expired' }));
    recent.record(record({}));
    const groups = recent.denials();
    assert.equal(groups.length, 2);
    const first = groups[0];
    const second = groups[1];
    assert.ok(first && second);
    assert.equal(first.reason, 'tag_not_signed');
    assert.equal(first.count, 2);
    assert.equal(first.message, 'new message');
    assert.deepEqual(first.repositories, ['docker.io/library/hello', 'docker.io/library/other']);
    assert.equal(first.clients, 2);
    assert.match(first.advice, /sign it/);
    assert.equal(second.reason, 'expired');
  });

  it('keeps at most its bound, and a new process reads back what the store kept', async () => {
    const { recent, store } = setup(5);
    for (let i = 0; i < 20; i++) recent.record(record({ reference: String(i) }));
    await recent.flush();
    assert.deepEqual(
      (await store.recent(100)).map((l) => parseDecision(l)?.reference),
      ['15', '16', '17', '18', '19'],
    );
    const next = new RecentDecisions({ audit: new ListAudit(), store, keep: 5, formatsOfRule: () => [], logger: silent });
    await next.init();
    assert.deepEqual(
      next.query({ limit: 10 }).map((d) => d.reference),
      ['19', '18', '17', '16', '15'],
    );
  });

  it('skips stored lines that are not decisions', () => {
    assert.equal(parseDecision('not json'), undefined);
    assert.equal(parseDecision('[]'), undefined);
    assert.equal(parseDecision('{"at":"x"}'), undefined);
    assert.equal(parseDecision('{"n": 10'), undefined);
    const ok = {
      at: 'a',
      verdict: 'allowed',
      reason: 'r',
      kind: 'manifest',
      upstream: 'u',
      repository: 'r',
      reference: '1',
      mode: 'enforce',
      rule: 'policy.default',
      formats: [],
    };
    assert.ok(parseDecision(JSON.stringify(ok)));
    assert.equal(parseDecision(JSON.stringify({ ...ok, formats: 'notary' })), undefined);
    assert.equal(parseDecision(JSON.stringify({ ...ok, evidence: [{ format: 1 }] })), undefined);
  });
});

describe('the decisions query', () => {
  const q = (query: Record<string, string | string[]>, max = 500) => decisionFilter({ query }, max);
  it('takes the filters and a limit', () => {
    assert.deepEqual(q({ verdict: 'denied', repository: 'library/hello', limit: '20' }), { limit: 20, verdict: 'denied', repository: 'library/hello' });
    assert.deepEqual(q({}), { limit: 100 });
    assert.deepEqual(q({ reason: '' }), { limit: 100 });
  });
  it('refuses what it does not know, with a 400 that says what is allowed', () => {
    const bads: Array<Record<string, string | string[]>> = [
      { verdict: 'maybe' },
      { limit: '0' },
      { limit: '501' },
      { limit: '1e3' },
      { colour: 'red' },
      { reason: ['a', 'b'] },
      { client: 'x'.repeat(300) },
    ];
    for (const bad of bads) {
      assert.throws(
        () => q(bad),
        (err: { status?: number; message: string }) => err.status === 400 && err.message.length > 10,
        JSON.stringify(bad).slice(0, 60),
      );
    }
  });
});

describe('RecentDecisions and the admin endpoints', () => {
  it('leaves uses of the admin endpoints to the audit log', () => {
    const { audit, recent } = setup();
    recent.record(record({ kind: 'admin', reason: 'admin_granted' }));
    assert.equal(audit.records.length, 1);
    assert.deepEqual(recent.query({ limit: 10 }), []);
  });

  it('leaves the challenge of a request without credentials to the audit log, but keeps a refused user', () => {
    const { audit, recent } = setup();
    recent.record(record({ kind: 'access', verdict: 'denied', reason: 'unauthenticated' }));
    recent.record(record({ kind: 'access', verdict: 'denied', reason: 'access_not_granted', user: 'alice' }));
    assert.equal(audit.records.length, 2);
    assert.deepEqual(
      recent.query({ limit: 10 }).map((d) => d.reason),
      ['access_not_granted'],
    );
  });
});

describe('the signed inventory', () => {
  it('lists each tag admitted by a signature once, with its newest admission, per repository', () => {
    const { recent } = setup();
    const notary = [{ format: 'notary', signer: 'targets' }];
    recent.record(record({ evidence: notary, signers: ['targets'], digest: 'sha256:' + '1'.repeat(64) }));
    recent.record(record({ evidence: notary, signers: ['targets'], digest: 'sha256:' + '2'.repeat(64) }));
    recent.record(
      record({
        repository: 'team/app',
        reference: 'v2',
        evidence: [
          { format: 'cosign', signer: 'ci@example.com', signedAt: new Date('2026-11-01T00:00:00Z') },
          { format: 'cosign', signer: 'release@example.com', signedAt: new Date('2026-11-02T00:00:00Z') },
        ],
        signers: undefined,
      }),
    );
    recent.record(record({ reference: '0.9', reason: 'policy_off', evidence: undefined })); // not signed
    recent.record(record({ reference: 'sha256:' + '3'.repeat(64), evidence: notary })); // by digest
    recent.record(record({ verdict: 'denied', reason: 'tag_not_signed', reference: '2.0' }));
    const inventory = recent.inventory();
    assert.deepEqual(
      inventory.map((r) => `${r.upstream}/${r.repository}`),
      ['docker.io/library/hello', 'docker.io/team/app'],
    );
    const hello = inventory[0];
    const app = inventory[1];
    assert.ok(hello && app);
    assert.equal(hello.tags.length, 1);
    const helloTag = hello.tags[0];
    const appTag = app.tags[0];
    assert.ok(helloTag && appTag);
    assert.equal(helloTag.digest, 'sha256:' + '2'.repeat(64), 'the newest admission');
    assert.deepEqual(helloTag.signers, ['targets']);
    assert.deepEqual(appTag.signers, ['ci@example.com', 'release@example.com']);
    assert.deepEqual(appTag.formats, ['cosign']);
    assert.equal(appTag.signedAt, '2026-11-02T00:00:00.000Z');
  });
});

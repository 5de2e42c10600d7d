import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { JsonAuditLog, type AuditRecord, type JsonAuditLogOptions } from '../../../src/policy/audit-log.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// The audit log file: rotated by size so that what it keeps on disk is bounded, and repeated
// identical denials of one client summarised so that a client hammering a denied pull writes a
// handful of lines, not one per request.

const KiB = 1024;

function decision(over: Partial<AuditRecord> = {}): AuditRecord {
  return {
    client: '192.0.2.7',
    upstream: 'docker.io',
    repository: 'team/app',
    kind: 'manifest',
    reference: '1.0',
    digest: undefined,
    mode: 'enforce',
    rule: 'policy.default',
    verdict: 'denied',
    reason: 'no_trust_data',
    message: 'no trust data for docker.io/team/app on https://notary.example: the repository is not signed (docker trust sign / notary publish)',
    signers: undefined,
    evidence: undefined,
    trust: undefined,
    ...over,
  };
}

interface Setup {
  dir: string;
  path: string;
  log: JsonAuditLog;
  advance: (ms: number) => void;
  now: () => number;
  lines: (file?: string) => Promise<Array<Record<string, unknown>>>;
}

async function setup(t: TestContext, options: JsonAuditLogOptions = {}): Promise<Setup> {
  const dir = await makeTempDir('audit-log');
  t.after(() => removeDir(dir));
  const path = join(dir, 'audit.log');
  let now = Date.parse('2026-12-01T10:00:00.000Z');
  const log = new JsonAuditLog(path, { clock: () => now, ...options });
  t.after(() => log.flush());
  const lines = async (file = path): Promise<Array<Record<string, unknown>>> =>
    (await readFile(file, 'utf8'))
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { dir, path, log, advance: (ms) => (now += ms), now: () => now, lines };
}

describe('audit log rotation', () => {
  test('keeps the bytes on disk bounded however many records are written, the newest in the current file', async (t) => {
    const maxBytes = 16 * KiB;
    const files = 3;
    const { dir, path, log, lines } = await setup(t, { maxBytes, files });
    const records = 5_000; // ~2.5 MB written through a 64 KiB budget
    for (let i = 0; i < records; i++) log.record(decision({ verdict: 'allowed', reason: 'signed', reference: `r${i}` }));
    await log.flush();

    const names = (await readdir(dir)).sort();
    assert.deepEqual(names, ['audit.log', 'audit.log.1', 'audit.log.2', 'audit.log.3']);
    let total = 0;
    for (const name of names) {
      const size = (await stat(join(dir, name))).size;
      assert.ok(size <= maxBytes, `${name} is ${size} bytes, over ${maxBytes}`);
      total += size;
    }
    assert.ok(total <= (files + 1) * maxBytes, `${total} bytes on disk`);
    // Whole lines in every file, in order across them: .3 oldest, the current file newest.
    const sequence: number[] = [];
    for (const file of ['audit.log.3', 'audit.log.2', 'audit.log.1', 'audit.log']) {
      for (const line of await lines(join(dir, file))) sequence.push(Number(String(line['reference']).slice(1)));
    }
    assert.equal(sequence.at(-1), records - 1);
    assert.deepEqual(
      sequence,
      sequence.map((_, i) => (sequence[0] ?? 0) + i),
    );
    assert.equal((await lines(path)).at(-1)?.['event'], 'decision');
  });

  test('an existing file counts towards the limit', async (t) => {
    const dir = await makeTempDir('audit-log');
    t.after(() => removeDir(dir));
    const path = join(dir, 'audit.log');
    await writeFile(path, '{"old":true}\n'.repeat(1000));
    const log = new JsonAuditLog(path, { maxBytes: 8 * KiB, files: 1 });
    log.record(decision({ verdict: 'allowed', reason: 'signed' }));
    await log.flush();
    assert.equal((await readFile(`${path}.1`, 'utf8')).split('\n').length, 1001);
    assert.equal((await readFile(path, 'utf8')).split('\n').length, 2);
  });
});

describe('repeated identical denials', () => {
  test('10 000 identical denials of one client write two lines: the first, and a summary', async (t) => {
    const { log, advance, now, lines } = await setup(t, { repeatSeconds: 60 });
    const start = now();
    for (let i = 0; i < 10_000; i++) {
      log.record(decision());
      advance(5); // 50 s in all: one window
    }
    await log.flush();
    const written = await lines();
    assert.equal(written.length, 2);
    const [first, summary] = written as [Record<string, unknown>, Record<string, unknown>];
    assert.equal(first['reason'], 'no_trust_data');
    assert.equal(first['repeated'], undefined);
    assert.equal(first['time'], new Date(start).toISOString());
    assert.equal(summary['repeated'], 9_999);
    assert.equal(summary['first'], new Date(start + 5).toISOString());
    assert.equal(summary['last'], new Date(start + 9_999 * 5).toISOString());
    assert.equal(summary['verdict'], 'denied');
    assert.equal(summary['repository'], 'team/app');
    assert.equal(summary['audit'], true);
  });

  test('the summary is written when the window ends, and the next denial starts a new one', async (t) => {
    const { log, advance, lines } = await setup(t, { repeatSeconds: 10 });
    for (let i = 0; i < 3; i++) log.record(decision());
    advance(10_000);
    log.record(decision({ verdict: 'allowed', reason: 'signed', repository: 'team/other' }));
    log.record(decision());
    await log.flush();
    const written = (await lines()).map((l) => [l['repository'], l['verdict'], l['repeated']]);
    assert.deepEqual(written, [
      ['team/app', 'denied', undefined],
      ['team/app', 'denied', 2],
      ['team/other', 'allowed', undefined],
      ['team/app', 'denied', undefined],
    ]);
  });

  test('allowed and audited decisions, and denials that differ, are never merged', async (t) => {
    const { log, lines } = await setup(t);
    for (let i = 0; i < 50; i++) {
      log.record(decision({ verdict: 'allowed', reason: 'signed' }));
      log.record(decision({ verdict: 'audited' }));
    }
    const variants: Array<Partial<AuditRecord>> = [
      { client: '192.0.2.8' },
      { client: undefined },
      { upstream: 'ghcr.io' },
      { repository: 'team/two' },
      { reference: '2.0' },
      { kind: 'blob' },
      { reason: 'tag_not_signed' },
    ];
    for (const v of [{}, ...variants]) log.record(decision(v));
    await log.flush();
    const written = await lines();
    assert.equal(written.filter((l) => l['verdict'] === 'allowed').length, 50);
    assert.equal(written.filter((l) => l['verdict'] === 'audited').length, 50);
    assert.equal(written.filter((l) => l['verdict'] === 'denied').length, 1 + variants.length);
    assert.ok(written.every((l) => l['repeated'] === undefined));
  });

  test('repeatSeconds 0 writes every denial', async (t) => {
    const { log, lines } = await setup(t, { repeatSeconds: 0 });
    for (let i = 0; i < 100; i++) log.record(decision());
    await log.flush();
    assert.equal((await lines()).length, 100);
  });

  test('open windows stay within maxWindows: the oldest is summarised early', async (t) => {
    const { log, lines } = await setup(t, { maxWindows: 10 });
    for (let i = 0; i < 1_000; i++) {
      log.record(decision({ repository: `team/n${i}` }));
      log.record(decision({ repository: `team/n${i}` }));
      assert.ok(log.openWindows <= 10);
    }
    await log.flush();
    assert.equal(log.openWindows, 0);
    const written = await lines();
    assert.equal(written.length, 2_000);
    assert.equal(written.filter((l) => l['repeated'] === 1).length, 1_000);
  });
});

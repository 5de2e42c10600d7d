import assert from 'node:assert/strict';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DiskDecisionLog } from '../../../src/cache/disk/decision-log.js';
import { MemoryDecisionLog } from '../../../src/cache/memory/decision-log.js';
import type { DecisionLogStore } from '../../../src/cache/ports.js';
import { silent, tempDir } from './helpers.js';

const line = (i: number): string => JSON.stringify({ n: i });

for (const backend of ['memory', 'disk'] as const) {
  describe(`DecisionLogStore contract: ${backend}`, () => {
    async function open(keep: number, root?: string): Promise<{ store: DecisionLogStore; root: string }> {
      const dir = root ?? (await tempDir('signet-decisions-'));
      return {
        root: dir,
        store: backend === 'disk' ? new DiskDecisionLog({ root: dir, keep, maxLineBytes: 1024, logger: silent }) : new MemoryDecisionLog(keep),
      };
    }

    it('keeps the newest lines, oldest first, up to its bound', async () => {
      const { store } = await open(5);
      assert.deepEqual(await store.recent(10), []);
      await store.append([line(1), line(2)]);
      await store.append([line(3)]);
      assert.deepEqual(await store.recent(10), [line(1), line(2), line(3)]);
      assert.deepEqual(await store.recent(2), [line(2), line(3)]);
      assert.deepEqual(await store.recent(0), []);
      for (let i = 4; i <= 30; i++) await store.append([line(i)]);
      assert.deepEqual(await store.recent(100), [26, 27, 28, 29, 30].map(line));
    });

    it('keeps appends made at once in order', async () => {
      const { store } = await open(1000);
      await Promise.all(Array.from({ length: 50 }, (_v, i) => store.append([line(i)])));
      assert.deepEqual(
        await store.recent(1000),
        Array.from({ length: 50 }, (_v, i) => line(i)),
      );
    });
  });
}

describe('DiskDecisionLog', () => {
  it('is read back by the next process, and its file stays bounded', async () => {
    const root = await tempDir('signet-decisions-');
    const first = new DiskDecisionLog({ root, keep: 10, maxLineBytes: 1024, logger: silent });
    for (let i = 0; i < 55; i++) await first.append([line(i)]);
    const fileLines = (await readFile(join(root, 'decisions.jsonl'), 'utf8')).split('\n').filter(Boolean);
    assert.ok(fileLines.length <= 20, `${fileLines.length} lines in the file`);
    const next = new DiskDecisionLog({ root, keep: 10, maxLineBytes: 1024, logger: silent });
    assert.deepEqual(
      await next.recent(10),
      Array.from({ length: 10 }, (_v, i) => line(45 + i)),
    );
  });

  it('reads only the tail at start, and skips a line cut short by a crash', async () => {
    const root = await tempDir('signet-decisions-');
    const path = join(root, 'decisions.jsonl');
    const many = Array.from({ length: 1000 }, (_v, i) => line(i));
    await writeFile(path, `${many.join('\n')}\n`);
    await appendFile(path, '{"n": 10'); // no newline: a write cut short
    const store = new DiskDecisionLog({ root, keep: 3, maxLineBytes: 16, logger: silent });
    const recent = await store.recent(5);
    assert.deepEqual(recent.slice(0, 2), [line(998), line(999)]);
    assert.equal(recent.length, 3);
    // The cut line is a line like any other for the store; the reader of the lines skips it.
    assert.equal(recent[2], '{"n": 10');
  });

  it('leaves out a line longer than maxLineBytes', async () => {
    const root = await tempDir('signet-decisions-');
    const store = new DiskDecisionLog({ root, keep: 3, maxLineBytes: 16, logger: silent });
    await store.append([line(1), JSON.stringify({ long: 'x'.repeat(100) }), line(2)]);
    assert.deepEqual(await store.recent(3), [line(1), line(2)]);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ContentStore } from '../../../src/cache/content-store.js';

const logger = pino({ level: 'silent' });

async function put(store: ContentStore, text: string, at: number): Promise<string> {
  const digest = `sha256:${createHash('sha256').update(text).digest('hex')}`;
  const temp = await store.createTemp();
  await temp.handle.writeFile(text);
  await temp.handle.close();
  await store.commit('blobs', digest, temp.path, Buffer.byteLength(text));
  void at;
  return digest;
}

test('least recently used content is evicted past maxBytes', async () => {
  const root = await mkdtemp(join(tmpdir(), 'signet-store-'));
  let now = 1_000_000;
  const evicted: string[] = [];
  const store = new ContentStore({ root, maxBytes: 25, logger, clock: () => now, onEvict: (_ns, d) => evicted.push(d) });
  await store.init();
  const a = await put(store, 'aaaaaaaaaa', now++);
  const b = await put(store, 'bbbbbbbbbb', now++);
  store.touch('blobs', a); // a is now more recent than b
  const c = await put(store, 'cccccccccc', now++);
  assert.deepEqual(evicted, [b]);
  assert.ok(store.has('blobs', a) && store.has('blobs', c) && !store.has('blobs', b));
  assert.equal(store.totalBytes, 20);
});

test('init indexes existing content, ignores strangers and clears temp files', async () => {
  const root = await mkdtemp(join(tmpdir(), 'signet-store-'));
  const first = new ContentStore({ root, maxBytes: 1000, logger });
  await first.init();
  const digest = await put(first, 'persisted', 0);
  await writeFile(join(first.tempDir, 'leftover'), 'partial download');
  await mkdir(join(root, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(root, 'blobs', 'sha256', 'not-a-digest'), 'x');
  const second = new ContentStore({ root, maxBytes: 1000, logger });
  await second.init();
  assert.deepEqual(second.stat('blobs', digest), { size: 9 });
  assert.equal(second.totalBytes, 9);
  assert.deepEqual(await readdir(second.tempDir), []);
});

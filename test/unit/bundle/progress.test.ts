import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { Progress, formatBytes } from '../../../src/bundle/progress.js';

const GiB = 1024 ** 3;

function fakeStream(tty: boolean, columns?: number): { writes: string[]; isTTY: boolean; columns: number | undefined; write(chunk: string): boolean } {
  return {
    writes: [],
    isTTY: tty,
    columns,
    write(chunk: string) {
      this.writes.push(chunk);
      return true;
    },
  };
}

function fakeClock(): { now: number; clock: () => number } {
  const c = { now: 0, clock: () => c.now };
  return c;
}

describe('progress', () => {
  it('writes JSON lines at most once per interval, plus a final one unless the last line said it all', () => {
    const stream = fakeStream(false);
    const time = fakeClock();
    const p = new Progress({ phase: 'import', total: 1000, stream, clock: time.clock });
    p.advance(100, 'blobs/sha256/a');
    p.advance(100, 'blobs/sha256/b');
    time.now += DEFAULTS.bundle.progressIntervalMs - 1;
    p.advance(100);
    time.now += 1;
    p.advance(100, 'blobs/sha256/c');
    p.done();
    p.done();
    p.advance(1);
    const lines = stream.writes.map((w) => {
      assert.ok(w.endsWith('\n'));
      return JSON.parse(w) as unknown;
    });
    assert.deepEqual(lines, [
      { phase: 'import', done: 100, total: 1000, file: 'blobs/sha256/a' },
      { phase: 'import', done: 400, total: 1000, file: 'blobs/sha256/c' },
    ]);
    const more = fakeStream(false);
    const q = new Progress({ phase: 'import', total: 1000, stream: more, clock: time.clock });
    q.advance(100);
    q.advance(100);
    q.done();
    assert.deepEqual(
      more.writes.map((w) => JSON.parse(w) as unknown),
      [
        { phase: 'import', done: 100, total: 1000 },
        { phase: 'import', done: 200, total: 1000 },
      ],
    );
  });

  it('writes messages as JSON lines off a terminal', () => {
    const stream = fakeStream(false);
    const p = new Progress({ phase: 'export', total: 0, stream, clock: fakeClock().clock });
    p.message('exported docker.io/library/alpine:3.20');
    p.done();
    assert.deepEqual(
      stream.writes.map((w) => JSON.parse(w) as unknown),
      [
        { phase: 'export', message: 'exported docker.io/library/alpine:3.20' },
        { phase: 'export', done: 0, total: 0 },
      ],
    );
  });

  it('redraws one bar line on a terminal, at most once per interval, and ends it', () => {
    const stream = fakeStream(true);
    const time = fakeClock();
    const p = new Progress({ phase: 'import', total: 2.9 * GiB, stream, clock: time.clock });
    p.advance(1.2 * GiB);
    p.advance(0.01 * GiB);
    time.now += DEFAULTS.bundle.progressIntervalMs;
    p.advance(0.01 * GiB);
    p.done();
    assert.deepEqual(stream.writes, [
      '[############..................] 41% 1.2 GiB/2.9 GiB  import',
      '\r\x1b[K[############..................] 42% 1.2 GiB/2.9 GiB  import',
      '\r\x1b[K[############..................] 42% 1.2 GiB/2.9 GiB  import',
      '\n',
    ]);
  });

  it('prints a message above the bar and redraws the bar under it', () => {
    const stream = fakeStream(true);
    const p = new Progress({ phase: 'verify', total: 100, stream, clock: fakeClock().clock });
    p.message('before any bar');
    p.advance(50);
    p.message('half way \x1b[31mred\x07');
    assert.deepEqual(stream.writes, [
      'before any bar\n',
      '[###############...............] 50% 50 B/100 B  verify',
      '\r\x1b[Khalf way ?[31mred?\n',
      '[###############...............] 50% 50 B/100 B  verify',
    ]);
  });

  it('fits the bar to the terminal width and caps it at 100%', () => {
    const stream = fakeStream(true, 40);
    const p = new Progress({ phase: 'import a very long phase name', total: 10, stream, clock: fakeClock().clock });
    p.advance(20);
    // 39 characters: one less than the terminal, so it never wraps.
    assert.deepEqual(stream.writes, ['[##############################] 100% 2']);
  });

  it('formats sizes in binary units', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(5 * 1024 ** 2), '5.0 MiB');
    assert.equal(formatBytes(1.25 * GiB), '1.3 GiB');
    assert.equal(formatBytes(3 * 1024 ** 5), '3072.0 TiB');
  });
});

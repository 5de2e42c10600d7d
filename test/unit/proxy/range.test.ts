import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRange, resolveRange } from '../../../src/proxy/blobs.js';

test('Range header parsing (RFC 9110 single byte ranges)', () => {
  assert.deepEqual(parseRange('bytes=10-99'), { start: 10, end: 99 });
  assert.deepEqual(parseRange('bytes=10-'), { start: 10, end: undefined });
  assert.deepEqual(parseRange('bytes=-5'), { suffix: 5 });
  assert.equal(parseRange('bytes=9-1'), undefined, 'invalid range is ignored');
  assert.equal(parseRange('bytes=0-1,5-6'), undefined, 'multiple ranges: full content');
  assert.equal(parseRange('items=0-1'), undefined);
  assert.equal(parseRange(undefined), undefined);
});

test('ranges resolve against the size; unsatisfiable is 416', () => {
  assert.deepEqual(resolveRange({ start: 10, end: 99 }, 50), { start: 10, end: 49 });
  assert.deepEqual(resolveRange({ suffix: 5 }, 50), { start: 45, end: 49 });
  assert.deepEqual(resolveRange({ suffix: 500 }, 50), { start: 0, end: 49 });
  assert.throws(() => resolveRange({ start: 50, end: undefined }, 50), { code: 'RANGE_INVALID', status: 416 });
  assert.throws(() => resolveRange({ suffix: 0 }, 50), { code: 'RANGE_INVALID' });
});

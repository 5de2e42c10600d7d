import assert from 'node:assert/strict';
import { Denial } from '../../src/trust/source.js';

/** Asserts that `promise` rejects with a Denial of `reason` (and a message matching `message`). */
export async function deniedWith(promise: Promise<unknown>, reason: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof Denial, String(err));
    assert.equal(err.reason, reason, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

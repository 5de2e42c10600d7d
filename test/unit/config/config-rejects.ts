import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.js';

/** Asserts that `text` is refused as CONFIG_INVALID with a message matching `pattern`. */
export function rejects(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseConfig(text, 'test.yaml', { env: {} }),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.match(err.message, pattern);
      return true;
    },
  );
}

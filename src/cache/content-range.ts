import { SignetError } from '../errors.js';
import type { StoredRange } from './ports.js';

/**
 * The bytes a ranged read of a stored blob of `size` bytes covers. Callers resolved the client's
 * Range header against the size already (RFC 9110 §14.1.2); an end past the blob is cut to its
 * last byte as a file read would, anything else that is not a range of the blob is refused.
 */
export function checkRange(digest: string, size: number, range: StoredRange | undefined): { start?: number; end?: number } {
  if (range === undefined) return {};
  const { start } = range;
  const end = Math.min(range.end, size - 1);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(range.end) || start < 0 || start > end) {
    throw new SignetError('RANGE_INVALID', `range ${range.start}-${range.end} is not within the ${size} bytes of ${digest}`, { status: 416, detail: { size } });
  }
  return { start, end };
}

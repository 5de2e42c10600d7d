import type { TagRecord } from './ports.js';

/** A copy holding the record's fields only, so a caller's later change to its object is not stored. */
export function copyTagRecord(r: TagRecord): TagRecord {
  return { digest: r.digest, mediaType: r.mediaType, size: r.size, checkedAt: r.checkedAt };
}

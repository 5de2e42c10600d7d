import type { TagRecord } from './ports.js';

/** A copy holding the record's fields only, so a caller's later change to its object is not stored. */
export function copyTagRecord(r: TagRecord): TagRecord {
  return { digest: r.digest, mediaType: r.mediaType, size: r.size, checkedAt: r.checkedAt };
}

/** A stored record, `{digest, mediaType, size, checkedAt}` as the stores write it; undefined when the text is not one. */
export function parseTagRecord(text: string): TagRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const { digest, mediaType, size, checkedAt } = v as Record<string, unknown>;
  if (typeof digest !== 'string' || typeof mediaType !== 'string' || typeof size !== 'number' || typeof checkedAt !== 'number') return undefined;
  if (!Number.isSafeInteger(size) || size < 0 || !Number.isFinite(checkedAt)) return undefined;
  return { digest, mediaType, size, checkedAt };
}

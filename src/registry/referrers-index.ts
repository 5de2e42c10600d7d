import { discard, readBounded } from './bounded-body.js';
import { checkDescriptor, isObject, type Descriptor } from './descriptors.js';
import { IndexEntryCounter } from './index-entry-counter.js';
import { MEDIA_TYPES } from './media-types.js';
import { printable } from './names.js';
import { SignatureFetchError } from './signature-fetch-error.js';
import type { UpstreamResponse } from './upstream-client.js';

export interface IndexBudget {
  /** Upstream name and what is read, for messages. */
  upstream: string;
  what: string;
  /** Bytes and descriptors this answer may still have (what earlier pages left of the limits). */
  maxBytes: number;
  maxEntries: number;
  /** The limits themselves (referrersIndexMaxBytes, referrersMaxEntries), for messages. */
  limits: { bytes: number; entries: number };
}

/**
 * Reads an image index of referrers (a referrers API page, or the referrers tag schema's index):
 * refused unread when its Content-Length is over the byte budget, refused as soon as the
 * streamed count of its descriptors passes the entry budget, then parsed, with every descriptor
 * validated. Returns the descriptors and the bytes the answer took.
 */
export async function readReferrersIndex(res: UpstreamResponse, budget: IndexBudget): Promise<{ list: Descriptor[]; size: number }> {
  const { upstream, what } = budget;
  const tooMany = (): SignatureFetchError =>
    new SignatureFetchError(
      'too_large',
      `${what} at upstream ${upstream} lists more than ${budget.limits.entries} referrers (referrersMaxEntries); it was not read further`,
    );
  if (budget.maxBytes <= 0 || budget.maxEntries < 0) {
    discard(res);
    throw new SignatureFetchError(
      'too_large',
      `${what} at upstream ${upstream} goes past the limits of ${budget.limits.bytes} bytes and ${budget.limits.entries} referrers`,
    );
  }
  const counter = new IndexEntryCounter();
  const { bytes } = await readBounded(res, {
    upstream,
    what,
    maxBytes: budget.maxBytes,
    inspect: (chunk) => {
      if (counter.feed(chunk) > budget.maxEntries) throw tooMany();
    },
  });
  const json = parseJson(bytes, what, upstream);
  if (!isObject(json)) throw new SignatureFetchError('malformed', `${what} at upstream ${upstream} is not a JSON object`);
  const mediaType = json['mediaType'];
  if (mediaType !== undefined && mediaType !== MEDIA_TYPES.ociIndex) {
    const shown = typeof mediaType === 'string' ? `"${printable(mediaType)}"` : 'that is not a string';
    throw new SignatureFetchError('malformed', `${what} at upstream ${upstream} has media type ${shown}, not an OCI image index`);
  }
  const manifests = json['manifests'];
  if (!Array.isArray(manifests)) throw new SignatureFetchError('malformed', `${what} at upstream ${upstream} has no manifests list`);
  // The scanner never counts low; this catches any index it might have misread.
  if (manifests.length > budget.maxEntries) throw tooMany();
  const list = manifests.map((raw, i) => {
    const checked = checkDescriptor(raw);
    if (!checked.ok) throw new SignatureFetchError('malformed', `referrer ${i} of ${what} at upstream ${upstream} ${checked.problem}`);
    return checked.descriptor;
  });
  return { list, size: bytes.length };
}

/** JSON.parse of an upstream's bytes; anything that is not JSON is `malformed`. */
export function parseJson(bytes: Buffer, what: string, upstream: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new SignatureFetchError('malformed', `${what} at upstream ${upstream} is not valid JSON`, { cause: err });
  }
}

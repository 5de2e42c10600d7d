import { parseDigest } from './names.js';

/**
 * OCI content descriptors (image-spec descriptor.md), validated from `unknown`: what a referrers
 * index lists and what a manifest's config and layers are. Only the properties Signet reads are
 * kept; everything else a registry sends is dropped.
 */
export interface Descriptor {
  mediaType: string;
  /** "<algorithm>:<hex>", sha256 or sha512 (names.ts parseDigest). */
  digest: string;
  /** Bytes; a non-negative safe integer (descriptor.md: "size ... int64"; JSON numbers beyond 2^53 lose precision). */
  size: number;
  /** distribution-spec 1.1 "Listing Referrers": the referrer's artifactType, or its config mediaType. */
  artifactType: string | undefined;
  /** descriptor.md: "annotations ... string-string map"; empty when absent. */
  annotations: Record<string, string>;
}

export type DescriptorCheck = { ok: true; descriptor: Descriptor } | { ok: false; problem: string };

export function checkDescriptor(value: unknown): DescriptorCheck {
  if (!isObject(value)) return { ok: false, problem: 'is not a JSON object' };
  const { mediaType, digest, size, artifactType, annotations } = value;
  if (typeof mediaType !== 'string' || mediaType.length === 0) return { ok: false, problem: 'has no mediaType string' };
  if (typeof digest !== 'string') return { ok: false, problem: 'has no digest string' };
  let normalised: string;
  try {
    normalised = parseDigest(digest).value;
  } catch {
    return { ok: false, problem: 'has an invalid digest (sha256 or sha512 in lowercase hex expected)' };
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return { ok: false, problem: 'has no non-negative integer size' };
  if (artifactType !== undefined && typeof artifactType !== 'string') return { ok: false, problem: 'has an artifactType that is not a string' };
  const checked = checkAnnotations(annotations);
  if (!checked.ok) return checked;
  return {
    ok: true,
    descriptor: { mediaType, digest: normalised, size, artifactType: artifactType === '' ? undefined : artifactType, annotations: checked.annotations },
  };
}

/** An annotations map: absent, or an object whose values are all strings. */
export function checkAnnotations(value: unknown): { ok: true; annotations: Record<string, string> } | { ok: false; problem: string } {
  if (value === undefined) return { ok: true, annotations: {} };
  if (!isObject(value)) return { ok: false, problem: 'has annotations that are not an object' };
  const entries = Object.entries(value);
  if (!entries.every((entry): entry is [string, string] => typeof entry[1] === 'string')) {
    return { ok: false, problem: 'has an annotation value that is not a string' };
  }
  // fromEntries defines own properties, so a key such as "__proto__" stays a plain key.
  return { ok: true, annotations: Object.fromEntries(entries) };
}

/** The media type without parameters, lowercased (RFC 6838 §4.2: type names are case-insensitive). */
export function baseMediaType(mediaType: string): string {
  return (mediaType.split(';')[0] ?? '').trim().toLowerCase();
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

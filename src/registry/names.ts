import { SignetError } from '../errors.js';

/**
 * Repository names, tags and digests, validated before any I/O.
 * OCI distribution-spec, "Pulling manifests": `<name>` matches
 * `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`,
 * `<reference>` as a tag matches `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
 */
const NAME_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** distribution/reference: the whole name (with registry host) is at most 255 characters. */
const NAME_MAX_LENGTH = 255;

/** OCI image-spec "Digests": the registered algorithms and their encoded lengths. */
const DIGEST_ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof DIGEST_ALGORITHMS;

export interface Digest {
  algorithm: DigestAlgorithm;
  hex: string;
  /** "sha256:<hex>" */
  value: string;
}

export function isValidRepositoryName(name: string): boolean {
  if (name.length === 0 || name.length > NAME_MAX_LENGTH) return false;
  return name.split('/').every((c) => NAME_COMPONENT.test(c));
}

export function assertRepositoryName(name: string): void {
  if (!isValidRepositoryName(name)) {
    throw new SignetError(
      'NAME_INVALID',
      `invalid repository name "${printable(name)}": use lowercase letters, digits and separators (. _ __ -) in /-separated components`,
    );
  }
}

export function isTag(reference: string): boolean {
  return TAG.test(reference);
}

/** Parses "<algorithm>:<encoded>"; throws DIGEST_INVALID (or UNSUPPORTED for an unknown algorithm). */
export function parseDigest(text: string): Digest {
  const m = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/.exec(text);
  if (!m) throw new SignetError('DIGEST_INVALID', `invalid digest "${printable(text)}": expected <algorithm>:<hex>, e.g. sha256:…`);
  const algorithm = m[1] as string;
  const hex = m[2] as string;
  if (!(algorithm in DIGEST_ALGORITHMS)) {
    throw new SignetError('UNSUPPORTED', `digest algorithm "${printable(algorithm)}" is not supported: use sha256 or sha512`);
  }
  const alg = algorithm as DigestAlgorithm;
  if (hex.length !== DIGEST_ALGORITHMS[alg] || !/^[a-f0-9]+$/.test(hex)) {
    throw new SignetError('DIGEST_INVALID', `invalid ${alg} digest "${printable(text)}": expected ${DIGEST_ALGORITHMS[alg]} lowercase hex characters`);
  }
  return { algorithm: alg, hex, value: `${alg}:${hex}` };
}

export function isDigest(text: string): boolean {
  return text.includes(':');
}

export type Reference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: Digest };

export function parseReference(text: string): Reference {
  if (isDigest(text)) return { kind: 'digest', digest: parseDigest(text) };
  if (!isTag(text)) {
    throw new SignetError('MANIFEST_UNKNOWN', `invalid tag "${printable(text)}": tags are 1-128 characters of [A-Za-z0-9_.-], not starting with . or -`);
  }
  return { kind: 'tag', tag: text };
}

/** A client-supplied string made safe and short for an error message. */
export function printable(text: string): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 80 ? `${printable.slice(0, 77)}...` : printable;
}

import { z } from 'zod';
import { DEFAULTS } from '../config/defaults.js';
import { UPSTREAM_NAME } from '../config/schema.js';
import { SignetError, errorMessage } from '../errors.js';
import { isTag, isValidRepositoryName, printable } from '../registry/names.js';
import { isValidRoleName } from '../trust/notary/role-names.js';

/**
 * The signed bundle manifest (`signet-bundle.json`): what a bundle holds, what Signet decided
 * about each image on the exporting side and on what evidence, and the digest of every file of
 * the tar that follows it. It is the first entry of the tar and its Ed25519 signature
 * (`signet-bundle.sig`) the second, so an importer verifies the signature before it reads any
 * other byte, then checks each file against this list as it streams past.
 */
export const BUNDLE_MEDIA_TYPE = 'application/vnd.signet.bundle.v1+json';
export const BUNDLE_MANIFEST_FILE = 'signet-bundle.json';
export const BUNDLE_SIGNATURE_FILE = 'signet-bundle.sig';

/** A content-addressed file the bundle refers to. */
export interface BundleBlob {
  digest: string;
  size: number;
}

export interface BundleManifestEntry extends BundleBlob {
  mediaType: string;
}

/** The exporting Signet's decision on an image (from its audit record). */
export interface BundleVerdict {
  /** `allowed` (enforce) or `audited` (audit mode let it through). */
  verdict: 'allowed' | 'audited';
  /** The rule that decided ("policy.rules.<n>" or "policy.default") and its mode. */
  rule: string;
  mode: string;
  reason: string;
  signers: string[];
  /** The trust formats' evidence, as the audit log records it (signer, role, key, log index, ...). */
  evidence: unknown[];
  /** Notary: the GUN and role versions the verdict used. */
  trust: unknown;
}

export interface BundleImage {
  /** `org.opencontainers.image.ref.name` of the image in index.json: `<upstream>/<repository>:<tag>` (or `@<digest>`). */
  ref: string;
  upstream: string;
  repository: string;
  /** The tag exported, when the image was asked for by tag. */
  tag?: string | undefined;
  /** The top-level manifest (an index or an image manifest). */
  digest: string;
  mediaType: string;
  size: number;
  /** The platforms exported of an index (`os/arch[/variant]`); absent: every platform. */
  platforms?: string[] | undefined;
  /** Every manifest of the image: the top one, index children exported, signature artifacts. */
  manifests: BundleManifestEntry[];
  /** Every other blob: configs, layers, signature layers. */
  blobs: BundleBlob[];
  /** Tags besides `tag` the repository gets: cosign's `sha256-<hex>.sig`, the referrers tag schema. */
  tags: Record<string, string>;
  verdict: BundleVerdict;
}

/** A file of the tar after the signature, in tar order. */
export interface BundleFile extends BundleBlob {
  /** Path in the tar: `oci-layout`, `index.json` or `blobs/sha256/<hex>`. */
  path: string;
}

export interface BundleManifest {
  schemaVersion: 1;
  mediaType: typeof BUNDLE_MEDIA_TYPE;
  /** ISO 8601 time of the export. */
  created: string;
  /** Incremental bundles: the digest of the bundle manifest this one builds on (its blobs are not carried again). */
  base?: string | undefined;
  images: BundleImage[];
  /** Notary trust data the verdicts used: GUN → file (`root.json`, `targets/releases.json`, ...) → digest. */
  notary: Record<string, Record<string, string>>;
  /** Every file of the tar after the signature, in order, with its digest and size. */
  files: BundleFile[];
}

/** A bundle that cannot be read or does not verify; the message says what to do. */
export class BundleError extends SignetError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('BUNDLE_INVALID', message, options);
    this.name = 'BundleError';
  }
}

/**
 * OCI image-spec descriptor.md, "mediaType": RFC 6838 type and subtype, each at most 127
 * characters (`[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}`).
 */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;
const BLOB_PATH = /^blobs\/sha256\/([a-f0-9]{64})$/;
/** A GUN component, as the Notary source accepts it (src/trust/notary/notary-source.ts GUN_COMPONENT). */
const GUN_COMPONENT = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
/** distribution/reference: a whole name is at most 255 characters; a GUN is a name with its registry. */
const GUN_MAX_LENGTH = 255;
/** `os/arch[/variant]` as `signet bundle export --platform` takes it (OCI image-index platform fields). */
const PLATFORM = /^[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)?$/;
/** Issues quoted in one error message; the rest are counted (a hostile manifest can have a million). */
const MAX_REPORTED_ISSUES = 5;

const digest = z.string().regex(SHA256_DIGEST, 'expected sha256:<64 lowercase hex>');
const size = z.int().min(0, 'expected a non-negative integer');
const mediaType = z.string().regex(MEDIA_TYPE, 'expected a media type such as application/vnd.oci.image.manifest.v1+json');
const tag = z
  .string()
  .refine(isTag, 'expected a tag: 1-128 characters of [A-Za-z0-9_.-], not starting with . or -')
  // A record key `__proto__` would set the prototype of the parsed object instead of a key.
  .refine((t) => t !== '__proto__', 'the tag __proto__ is not accepted');

const blob = z.strictObject({ digest, size });
const manifestEntry = z.strictObject({ mediaType, digest, size });

const verdict = z.strictObject({
  verdict: z.enum(['allowed', 'audited']),
  rule: z.string().min(1),
  mode: z.string().min(1),
  reason: z.string(),
  signers: z.array(z.string()),
  evidence: z.array(z.unknown()),
  trust: z.unknown(),
});

const image = z
  .strictObject({
    ref: z.string(),
    upstream: z.string().regex(UPSTREAM_NAME, 'expected a registry host name such as docker.io'),
    repository: z.string().refine(isValidRepositoryName, 'expected a repository name such as library/alpine'),
    tag: tag.optional(),
    digest,
    mediaType,
    size,
    platforms: z.array(z.string().regex(PLATFORM, 'expected os/arch[/variant]')).optional(),
    manifests: z.array(manifestEntry),
    blobs: z.array(blob),
    tags: z.record(tag, digest),
    verdict,
  })
  .superRefine((img, ctx) => {
    // The ref names the image in index.json; it must be the one its own fields spell, so a
    // bundle cannot file an image of one repository under the name of another.
    const expected = `${img.upstream}/${img.repository}${img.tag !== undefined ? `:${img.tag}` : `@${img.digest}`}`;
    if (img.ref !== expected)
      ctx.addIssue({ code: 'custom', path: ['ref'], message: `expected "${printable(expected)}" (upstream/repository:tag or @digest)` });
  });

const gun = z
  .string()
  .refine(
    (g) => g.length <= GUN_MAX_LENGTH && g !== '__proto__' && g.split('/').every((c) => GUN_COMPONENT.test(c)),
    'expected a GUN such as docker.io/library/alpine',
  );
/** An earlier version of a root, as Notary serves it by version (`2.root.json`), for a site that must walk the rotations. */
const EARLIER_ROOT = /^[1-9]\d{0,14}\.root\.json$/;
/** Notary metadata files by role: `root.json`, `targets.json`, `targets/releases.json` (tuf/data/roles.go ValidRole). */
const notaryFile = z
  .string()
  .refine(
    (f) => (f.endsWith('.json') && isValidRoleName(f.slice(0, -'.json'.length))) || EARLIER_ROOT.test(f),
    'expected <role>.json (root, timestamp, snapshot, targets or targets/<delegation>) or <N>.root.json',
  );

const file = z.strictObject({ path: z.string(), digest, size }).superRefine((f, ctx) => {
  if (f.path === 'oci-layout' || f.path === 'index.json') return;
  const m = BLOB_PATH.exec(f.path);
  if (!m) ctx.addIssue({ code: 'custom', path: ['path'], message: 'expected oci-layout, index.json or blobs/sha256/<hex>' });
  else if (`sha256:${m[1] ?? ''}` !== f.digest)
    ctx.addIssue({ code: 'custom', path: ['path'], message: `the file name does not match its digest ${f.digest}` });
});

const manifestSchema = z
  .strictObject({
    schemaVersion: z.literal(1),
    mediaType: z.literal(BUNDLE_MEDIA_TYPE),
    created: z.iso.datetime({ offset: true }),
    base: digest.optional(),
    images: z.array(image).max(DEFAULTS.bundle.maxImages, `at most ${DEFAULTS.bundle.maxImages} images per bundle`),
    notary: z.record(gun, z.record(notaryFile, digest)),
    files: z.array(file).max(DEFAULTS.bundle.maxFiles, `at most ${DEFAULTS.bundle.maxFiles} files per bundle`),
  })
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    m.files.forEach((f, i) => {
      if (seen.has(f.path)) ctx.addIssue({ code: 'custom', path: ['files', i, 'path'], message: `${f.path} is listed twice` });
      seen.add(f.path);
    });
  });

/**
 * Reads `signet-bundle.json`. The bytes are untrusted until this returns: the size is checked
 * before parsing and every field against its grammar (unknown keys are errors), so a bundle
 * that was not written by Signet, or was damaged, is refused naming the JSON path at fault.
 * The caller verifies the signature over these same bytes first (src/bundle/signing.ts).
 */
export function parseBundleManifest(bytes: Buffer): BundleManifest {
  const max = DEFAULTS.bundle.manifestMaxBytes;
  if (bytes.length > max) {
    throw new BundleError(`${BUNDLE_MANIFEST_FILE} is ${bytes.length} bytes, over the limit of ${max}: the bundle is malformed or was not written by signet`);
  }
  let raw: unknown;
  try {
    // fatal: invalid UTF-8 is an error, not U+FFFD (the signed bytes are what is validated).
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new BundleError(`${BUNDLE_MANIFEST_FILE} is not valid JSON (${errorMessage(err)}): the bundle is malformed or was not written by signet`, {
      cause: err,
    });
  }
  const result = manifestSchema.safeParse(raw);
  if (!result.success) {
    throw new BundleError(`${BUNDLE_MANIFEST_FILE} is malformed: ${formatIssues(result.error.issues)}: the bundle is damaged or was not written by signet`);
  }
  const manifest: BundleManifest = result.data;
  return manifest;
}

/**
 * The bytes of `signet-bundle.json`: keys in a fixed order (as the types declare them; manifest
 * entries in OCI descriptor order), records sorted by key, free-form evidence with its object
 * keys sorted, 2-space indent and a final newline — so exporting the same content gives the
 * same bytes, and the same signed message. Refuses a manifest `parseBundleManifest` would refuse.
 */
export function serializeBundleManifest(m: BundleManifest): Buffer {
  const ordered = {
    schemaVersion: m.schemaVersion,
    mediaType: m.mediaType,
    created: m.created,
    ...(m.base !== undefined ? { base: m.base } : {}),
    images: m.images.map((i) => ({
      ref: i.ref,
      upstream: i.upstream,
      repository: i.repository,
      ...(i.tag !== undefined ? { tag: i.tag } : {}),
      digest: i.digest,
      mediaType: i.mediaType,
      size: i.size,
      ...(i.platforms !== undefined ? { platforms: [...i.platforms] } : {}),
      manifests: i.manifests.map((e) => ({ mediaType: e.mediaType, digest: e.digest, size: e.size })),
      blobs: i.blobs.map((b) => ({ digest: b.digest, size: b.size })),
      tags: sortedRecord(i.tags, (d) => d),
      verdict: {
        verdict: i.verdict.verdict,
        rule: i.verdict.rule,
        mode: i.verdict.mode,
        reason: i.verdict.reason,
        signers: [...i.verdict.signers],
        evidence: i.verdict.evidence.map(canonical),
        ...(i.verdict.trust !== undefined ? { trust: canonical(i.verdict.trust) } : {}),
      },
    })),
    notary: sortedRecord(m.notary, (files) => sortedRecord(files, (d) => d)),
    files: m.files.map((f) => ({ path: f.path, digest: f.digest, size: f.size })),
  };
  const checked = manifestSchema.safeParse(ordered);
  if (!checked.success) {
    throw new SignetError('INTERNAL', `refusing to write an invalid bundle manifest (a bug in the export): ${formatIssues(checked.error.issues)}`);
  }
  const bytes = Buffer.from(`${JSON.stringify(ordered, null, 2)}\n`, 'utf8');
  if (bytes.length > DEFAULTS.bundle.manifestMaxBytes) {
    throw new BundleError(
      `the bundle manifest would be ${bytes.length} bytes, over the limit of ${DEFAULTS.bundle.manifestMaxBytes} an importer reads: export fewer images per bundle`,
    );
  }
  return bytes;
}

function sortedRecord<T, U>(record: Record<string, T>, map: (value: T) => U): Record<string, U> {
  const out: Record<string, U> = {};
  for (const key of Object.keys(record).sort()) out[key] = map(record[key] as T);
  return out;
}

/** JSON value with object keys sorted at every level (the evidence is free-form). */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    const obj = value as Record<string, unknown>;
    for (const key of Object.keys(obj).sort()) out[key] = canonical(obj[key]);
    return out;
  }
  return value;
}

function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  const shown = issues.slice(0, MAX_REPORTED_ISSUES).map((issue) => {
    const base = jsonPath(issue.path);
    if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `unknown key ${jsonPath([...issue.path, k])}`).join('; ');
    if (issue.code === 'invalid_key') return `${base}: invalid key: ${issue.issues.map((i) => i.message).join('; ')}`;
    return `${base}: ${issue.message}`;
  });
  const more = issues.length - shown.length;
  return `${shown.join('; ')}${more > 0 ? ` (and ${more} more)` : ''}`;
}

/** `images[0].manifests[2].digest`, `notary["docker.io/library/alpine"]["root.json"]`. */
function jsonPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(printable(String(part)))}]`;
  }
  return out;
}

import { SignetError } from '../errors.js';
import { checkDescriptor, isObject } from '../registry/descriptors.js';
import { parseDigest, parseReference } from '../registry/names.js';
import type { AuditRecord } from '../policy/audit-log.js';
import type { ServedManifest } from '../proxy/manifests.js';
import type { Target } from '../proxy/router.js';
import { BundleError, type BundleBlob, type BundleImage, type BundleManifestEntry, type BundleVerdict } from './bundle-manifest.js';
import type { DecisionTools } from './decision-tools.js';

/** An image named on the command line or in an images list: by tag or by digest, optionally some platforms of an index. */
export interface ImageRequest {
  upstream: string;
  repository: string;
  tag?: string | undefined;
  digest?: string | undefined;
  /** `os/arch[/variant]`; empty or absent: every platform. */
  platforms?: readonly string[] | undefined;
}

/** An image as the policy admitted it, with every manifest's bytes (manifests are small). */
export interface CollectedImage {
  image: BundleImage;
  manifests: Map<string, Buffer>;
}

/** Index nesting followed at most (an index of indexes is legal, deeper is not seen in practice). */
const MAX_INDEX_DEPTH = 4;

/** The OCI ref name of an image in index.json: `<upstream>/<repository>:<tag>` or `...@<digest>`. */
export function refName(request: Pick<ImageRequest, 'upstream' | 'repository' | 'tag' | 'digest'>): string {
  return request.tag !== undefined
    ? `${request.upstream}/${request.repository}:${request.tag}`
    : `${request.upstream}/${request.repository}@${request.digest ?? ''}`;
}

/**
 * Decides an image with Signet's policy exactly as a pull would, and gathers what a bundle must
 * carry for it: the top manifest, the index children of the platforms asked for, their configs
 * and layers, and the signature artifacts of every admitted manifest (cosign's
 * `sha256-<hex>.sig` tag, the OCI referrers — through the referrers API or its tag schema).
 * Each manifest passes through the policy, so a denial stops the export with its reason.
 */
export async function collectImage(tools: DecisionTools, request: ImageRequest): Promise<CollectedImage> {
  const target = tools.router.resolve(request.repository, request.upstream);
  const reference = request.tag !== undefined ? request.tag : (request.digest ?? '');
  const ref = refName(request);
  const top = await tools.manifests.get(target, parseReference(reference));
  const decided = lastDecision(tools.decisions.records, request, reference);
  if (!decided) throw new SignetError('INTERNAL', `no decision was recorded for ${ref}`);
  if (decided.verdict === 'denied') {
    throw new BundleError(`${ref} is not admitted by the policy (${decided.verdict}: ${decided.reason}${decided.message ? `: ${decided.message}` : ''})`);
  }
  const manifests = new Map<string, Buffer>();
  const entries: BundleManifestEntry[] = [];
  const blobs = new Map<string, number>();
  const tags: Record<string, string> = {};
  const add = (m: ServedManifest): void => {
    if (manifests.has(m.digest)) return;
    manifests.set(m.digest, m.bytes);
    entries.push({ digest: m.digest, mediaType: m.mediaType, size: m.size });
    for (const b of partsOf(m, ref)) blobs.set(b.digest, b.size);
  };
  add(top);
  const images: string[] = [top.digest];
  await addChildren(tools, target, top, request.platforms ?? [], add, images, ref, 0);
  for (const subject of images) await addSignatures(tools, target, subject, add, tags);
  const image: BundleImage = {
    ref,
    upstream: request.upstream,
    repository: request.repository,
    ...(request.tag === undefined ? {} : { tag: request.tag }),
    digest: top.digest,
    mediaType: top.mediaType,
    size: top.size,
    ...(request.platforms && request.platforms.length > 0 ? { platforms: [...request.platforms] } : {}),
    manifests: entries,
    blobs: [...blobs].map(([digest, size]): BundleBlob => ({ digest, size })),
    tags,
    verdict: verdictOf(decided),
  };
  return { image, manifests };
}

async function addChildren(
  tools: DecisionTools,
  target: Target,
  manifest: ServedManifest,
  platforms: readonly string[],
  add: (m: ServedManifest) => void,
  images: string[],
  ref: string,
  depth: number,
): Promise<void> {
  if (!manifest.isIndex) return;
  if (depth >= MAX_INDEX_DEPTH) throw new BundleError(`${ref}: indexes nested more than ${MAX_INDEX_DEPTH} deep are not exported`);
  const children = indexChildren(manifest.bytes, ref);
  const chosen =
    platforms.length === 0
      ? children
      : children.filter((c) => {
          const have = c.platform;
          return have !== undefined && platforms.some((p) => platformMatches(p, have));
        });
  if (platforms.length > 0 && chosen.length === 0) {
    const have = children.map((c) => c.platform ?? 'unknown').join(', ');
    throw new BundleError(`${ref} has no manifest for ${platforms.join(', ')} (it has: ${have || 'none'})`);
  }
  for (const child of chosen) {
    const served = await tools.manifests.get(target, { kind: 'digest', digest: parseDigest(child.digest) });
    add(served);
    images.push(served.digest);
    await addChildren(tools, target, served, [], add, images, ref, depth + 1);
  }
}

/** Signature artifacts of `subject`: cosign's legacy tag, the referrers API, and the referrers tag schema. */
async function addSignatures(
  tools: DecisionTools,
  target: Target,
  subject: string,
  add: (m: ServedManifest) => void,
  tags: Record<string, string>,
): Promise<void> {
  const hex = parseDigest(subject).hex;
  for (const tag of [`sha256-${hex}.sig`, `sha256-${hex}`]) {
    const served = await ifPresent(() => tools.manifests.get(target, { kind: 'tag', tag }));
    if (!served) continue;
    add(served);
    tags[tag] = served.digest;
  }
  const fetcher = tools.signaturesOf(target.upstream.name);
  if (!fetcher) return;
  for (const referrer of await fetcher.referrers(target.repository, subject)) {
    const served = await ifPresent(() => tools.manifests.get(target, { kind: 'digest', digest: parseDigest(referrer.digest) }));
    if (served) add(served);
  }
}

/** Runs `load`, answering undefined when the registry has no such manifest. */
async function ifPresent(load: () => Promise<ServedManifest>): Promise<ServedManifest | undefined> {
  try {
    return await load();
  } catch (err) {
    if (err instanceof SignetError && (err.code === 'MANIFEST_UNKNOWN' || err.code === 'NAME_UNKNOWN')) return undefined;
    throw err;
  }
}

interface IndexChild {
  digest: string;
  platform: string | undefined;
}

function indexChildren(bytes: Buffer, ref: string): IndexChild[] {
  const parsed = JSON.parse(bytes.toString('utf8')) as unknown;
  const list = isObject(parsed) && Array.isArray(parsed['manifests']) ? (parsed['manifests'] as unknown[]) : [];
  return list.map((entry, i) => {
    const checked = checkDescriptor(entry);
    if (!checked.ok) throw new BundleError(`${ref}: index entry ${i} ${checked.problem}`);
    const p = isObject(entry) && isObject(entry['platform']) ? entry['platform'] : undefined;
    const platform =
      p && typeof p['os'] === 'string' && typeof p['architecture'] === 'string'
        ? [p['os'], p['architecture'], typeof p['variant'] === 'string' ? p['variant'] : undefined].filter((x) => x !== undefined).join('/')
        : undefined;
    return { digest: checked.descriptor.digest, platform };
  });
}

/** `linux/arm64` matches `linux/arm64/v8`; `linux/arm/v7` only itself. */
function platformMatches(asked: string, have: string): boolean {
  return have === asked || have.startsWith(`${asked}/`);
}

/** The config and layers of an image or artifact manifest (an index has none). */
function partsOf(m: ServedManifest, ref: string): BundleBlob[] {
  if (m.isIndex) return [];
  const parsed = JSON.parse(m.bytes.toString('utf8')) as unknown;
  if (!isObject(parsed)) return [];
  const raw = [parsed['config'], ...(Array.isArray(parsed['layers']) ? (parsed['layers'] as unknown[]) : [])].filter((d) => d !== undefined);
  return raw.map((d, i) => {
    const checked = checkDescriptor(d);
    if (!checked.ok) throw new BundleError(`${ref}: manifest ${m.digest} descriptor ${i} ${checked.problem}`);
    return { digest: checked.descriptor.digest, size: checked.descriptor.size };
  });
}

function lastDecision(records: readonly AuditRecord[], request: ImageRequest, reference: string): AuditRecord | undefined {
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i];
    if (r && r.kind === 'manifest' && r.upstream === request.upstream && r.repository === request.repository && r.reference === reference) return r;
  }
  return undefined;
}

function verdictOf(r: AuditRecord): BundleVerdict {
  return {
    verdict: r.verdict === 'audited' ? 'audited' : 'allowed',
    rule: r.rule,
    mode: r.mode,
    reason: r.reason,
    signers: r.signers ?? [],
    evidence: (r.evidence ?? []).map((e) => ({ ...e, ...(e.signedAt ? { signedAt: e.signedAt.toISOString() } : {}) })),
    trust: r.trust ?? null,
  };
}

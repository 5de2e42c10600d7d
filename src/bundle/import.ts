import type { Logger } from 'pino';
import { siteTrustState } from '../cache/disk/trust-state.js';
import type { TrustStateStore } from '../cache/ports.js';
import type { Config } from '../config/load.js';
import { DEFAULTS } from '../config/defaults.js';
import { errorMessage } from '../errors.js';
import type { AuditLog } from '../policy/audit-log.js';
import { BundleError, type BundleImage, type BundleManifest } from './bundle-manifest.js';
import { collectImage } from './collect.js';
import { decisionTools } from './decision-tools.js';
import { EMPTY_STATE, type ImportedContent, type ImportedState } from './imported.js';
import { DiskImportedStore } from './imported-store.js';
import { mergeState } from './imported-state.js';
import { offlineNames, offlineUpstreams } from './offline-site.js';
import { checkDigest, readBundle, type ReadBundle } from './read-bundle.js';
import type { ProgressStream } from './progress.js';
import type { BundlePublicKey } from './signing.js';
import { StagedContent } from './staged-content.js';
import { refuseTrustRollback } from './trust-rollback.js';
import { OverlayTrustState } from './trust-state-views.js';

export interface BundleCheckOptions {
  path: string;
  /** Pinned keys: the config's bundles.keys and any given on the command line. */
  keys: readonly BundlePublicKey[];
  logger: Logger;
  progress?: ProgressStream | undefined;
  /** Where the decisions are audited besides the result (the site's audit log). */
  audit?: AuditLog | undefined;
  clock?: () => number;
  signal?: AbortSignal | undefined;
}

export interface VerifyOptions extends BundleCheckOptions {
  /** With a config, every image is also re-decided by its policy (offline, on the bundle's own content). */
  config?: Config | undefined;
}

export interface ImportOptions extends BundleCheckOptions {
  config: Config;
  /** Injected for tests: the site's trust state (default `<storage.path>/state/trust`). */
  trustState?: TrustStateStore | undefined;
}

export interface BundleCheckResult {
  digest: string;
  keyId: string;
  manifest: BundleManifest;
  /** Import: whether this bundle was already imported (the import changed nothing). */
  alreadyImported?: boolean;
}

/**
 * `signet bundle verify`: the signature against the pinned keys and every file's digest; with a
 * config, every image re-decided by that config's policy. Nothing is written anywhere.
 */
export async function verifyBundle(o: VerifyOptions): Promise<BundleCheckResult> {
  const memory = new Map<string, Buffer>();
  let held = 0;
  const read = await readBundle({
    path: o.path,
    keys: o.keys,
    phase: 'verify',
    progress: o.progress,
    signal: o.signal,
    accept: (file, stream) => {
      // Small files are kept for the decision (manifests, signature layers, trust metadata); layers are only hashed.
      const keep = o.config && file.size <= DEFAULTS.bundle.smallFileMaxBytes && held + file.size <= DEFAULTS.bundle.smallFilesMaxBytes;
      if (keep) held += file.size;
      return checkDigest(file, stream, keep ? (bytes) => memory.set(file.digest, bytes) : undefined);
    },
  });
  if (o.config) {
    requireOffline(o.config, read.manifest);
    const staged = new StagedContent({ state: stateOf(read.manifest), memory });
    await decide(o.config, read, staged, new OverlayTrustState(siteTrustState(o.config.storage.path)), o);
  }
  return { digest: read.digest, keyId: read.keyId, manifest: read.manifest };
}

/**
 * `signet bundle import`: one import at a time (a lock); the bundle is read once, each file
 * stored under its digest as it passes (hashed; a mismatch is refused and deleted); then every
 * image is re-decided by this site's own policy, pinned roots and trust state, entirely
 * offline, on the staged content; only when all are admitted does the new index replace the old
 * in one rename. A refused or interrupted import leaves the index as it was; a refused one removes
 * the files it stored, an interrupted one leaves them for its re-run to find present.
 */
export async function importBundle(o: ImportOptions): Promise<BundleCheckResult> {
  const store = new DiskImportedStore({ root: o.config.bundles.path, logger: o.logger, ...(o.clock ? { clock: o.clock } : {}) });
  await store.init();
  const lock = await store.lock();
  /** Files this import added to the store: removed again if it is refused (a killed import leaves them for its re-run). */
  const stored: string[] = [];
  try {
    const read = await readBundle({
      path: o.path,
      keys: o.keys,
      phase: 'import',
      progress: o.progress,
      signal: o.signal,
      accept: async (file, stream) => {
        // oci-layout and index.json serve other tools reading the bundle; the store keeps blobs.
        if (!file.path.startsWith('blobs/')) return checkDigest(file, stream);
        if ((await store.put({ digest: file.digest, size: file.size, name: file.path }, stream)) === 'stored') stored.push(file.digest);
      },
    });
    const manifest = read.manifest;
    requireOffline(o.config, manifest);
    const committed = await store.state();
    if (committed.bundles.includes(read.digest)) {
      // Its content is in the index already; merging it again would put back whatever newer
      // bundles have replaced since (tags, Notary trust data).
      o.logger.info({ bundle: read.digest, images: manifest.images.length }, 'bundle already imported: nothing changed');
      stored.length = 0;
      return { digest: read.digest, keyId: read.keyId, manifest, alreadyImported: true };
    }
    if (manifest.base !== undefined && !committed.bundles.includes(manifest.base)) {
      throw new BundleError(
        `this bundle is incremental on bundle ${manifest.base}, which is not imported here: import that bundle first; nothing was imported`,
      );
    }
    await requirePresent(manifest, store);
    await refuseTrustRollback(committed, manifest, store);
    const added = stateOf(manifest);
    const staged = new StagedContent({ state: mergeState(committed, added), base: store });
    await decide(o.config, read, staged, new OverlayTrustState(o.trustState ?? siteTrustState(o.config.storage.path)), o);
    await store.commit(mergeState(committed, { ...added, bundles: [read.digest] }));
    o.logger.info({ bundle: read.digest, images: manifest.images.length }, 'bundle imported');
    stored.length = 0;
    return { digest: read.digest, keyId: read.keyId, manifest, alreadyImported: false };
  } finally {
    await store.discard(stored).catch((err: unknown) => o.logger.warn({ err: errorMessage(err) }, 'files of the refused import could not be removed'));
    await lock.release();
  }
}

/** Every image of the bundle comes from an upstream this config serves offline: the only ones it decides from imported content. */
function requireOffline(config: Config, manifest: BundleManifest): void {
  const offline = offlineNames(config);
  const image = manifest.images.find((i) => !offline.has(i.upstream));
  if (image) {
    throw new BundleError(
      `${image.ref}: upstream ${image.upstream} is not an offline upstream of this config: add upstreams."${image.upstream}": { offline: true } (with the policy rules for it)`,
    );
  }
}

/** What the bundle adds to the imported index. */
export function stateOf(manifest: BundleManifest): ImportedState {
  const repositories: ImportedState['repositories'] = {};
  for (const image of manifest.images) {
    const key = `${image.upstream}/${image.repository}`;
    const repo = (repositories[key] ??= { tags: {}, manifests: {}, blobs: [] });
    if (image.tag !== undefined) repo.tags[image.tag] = image.digest;
    for (const [tag, digest] of Object.entries(image.tags)) repo.tags[tag] = digest;
    for (const m of image.manifests) repo.manifests[m.digest] = m.mediaType;
    repo.blobs.push(...image.blobs.map((b) => b.digest));
  }
  return { ...EMPTY_STATE, repositories, notary: manifest.notary };
}

/** Every file an image needs is in the store: carried by this bundle, or by one imported before (incremental bundles). */
async function requirePresent(manifest: BundleManifest, store: DiskImportedStore): Promise<void> {
  const needs = new Map<string, BundleImage | undefined>();
  for (const image of manifest.images) for (const d of [...image.manifests, ...image.blobs]) needs.set(d.digest, image);
  for (const files of Object.values(manifest.notary)) for (const digest of Object.values(files)) needs.set(digest, undefined);
  for (const [digest, image] of needs) {
    if (await store.has(digest)) continue;
    throw new BundleError(
      `${image ? image.ref : 'the Notary trust data'} needs ${digest}, which neither this bundle nor an imported one holds: ${
        manifest.base ? `import the bundles this one builds on (${manifest.base}) first` : 'the bundle is incomplete; export it again'
      }; nothing was imported`,
    );
  }
}

/**
 * Re-decides every image of the bundle with this site's policy, as a pull through this site
 * would: the tag (or digest) must resolve to the digest the bundle names, every manifest and
 * blob the bundle lists for the image must be part of what the policy admitted, and no decision
 * may be a denial.
 */
async function decide(config: Config, read: ReadBundle, content: ImportedContent, trustState: TrustStateStore, o: BundleCheckOptions): Promise<void> {
  const { upstreams, notary } = offlineUpstreams(config, content, o.logger);
  const tools = decisionTools({
    config,
    upstreams,
    trustState,
    logger: o.logger,
    offlineNotary: notary,
    ...(o.audit ? { audit: o.audit } : {}),
    ...(o.clock ? { clock: o.clock } : {}),
  });
  try {
    for (const image of read.manifest.images) {
      const refused = (why: string): BundleError => new BundleError(`${image.ref} is refused by this site's policy: ${why}; nothing was imported`);
      let collected;
      try {
        collected = await collectImage(tools, {
          upstream: image.upstream,
          repository: image.repository,
          tag: image.tag,
          digest: image.tag === undefined ? image.digest : undefined,
          platforms: image.platforms,
        });
      } catch (err) {
        throw refused(errorMessage(err));
      }
      if (collected.image.digest !== image.digest)
        throw refused(`${image.tag ?? ''} resolves to ${collected.image.digest}, not to ${image.digest} as the bundle says`);
      const admitted = new Set([...collected.image.manifests, ...collected.image.blobs].map((d) => d.digest));
      const stray = [...image.manifests, ...image.blobs].find((d) => !admitted.has(d.digest));
      if (stray) throw refused(`the bundle lists ${stray.digest} for it, which is not part of the admitted image or its signatures`);
      for (const blob of collected.image.blobs) {
        try {
          await tools.policy.blob({ upstream: image.upstream, repository: image.repository, digest: blob.digest, client: undefined });
        } catch (err) {
          throw refused(errorMessage(err));
        }
      }
      o.logger.info({ image: image.ref, digest: image.digest }, 'admitted by this site');
    }
  } finally {
    await tools.close();
  }
}

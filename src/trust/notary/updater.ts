/**
 * The Notary client's update workflow (client/tufclient.go Update, client/client.go
 * bootstrapClient, tuf/builder.go): root → timestamp → snapshot → targets → delegations, each
 * hashed against its parent, signature-checked, version-checked against what was seen before
 * and expiry-checked; a failure re-downloads the root (rotating through `N.root.json` when
 * versions were skipped) and retries once.
 */
import type { Logger } from 'pino';
import { DEFAULTS } from '../../config/defaults.js';
import type { TrustStateStore } from '../../cache/ports.js';
import { SignetError } from '../../errors.js';
import { TrustError, isTrustError } from './errors.js';
import { checkHashes, checkLength, checkNotExpired, checkVersion } from './metadata-checks.js';
import { parseSigned, type FileMeta, type Root, type SignedCommon, type SignedMetadata, type Snapshot, type Targets, type Timestamp } from './metadata.js';
import type { FetchOutcome, MetadataFetcher } from './remote.js';
import { validateRoot, type RootPinning, type TrustedRoot } from './root-trust.js';
import { verifySignatures } from './verify-signature.js';
import { VerifiedNotaryRepo } from './verified-repo.js';

/** Download caps and walk bounds (Notary: notary.MaxDownloadSize, notary.MaxTimestampSize). */
const LIMITS = DEFAULTS.notary;

/** The repository has no trust data at all (root.json 404): the "not signed" of Notary. */
export class NoTrustDataError extends TrustError {
  constructor(gun: string) {
    super('not_found', `no trust data for ${gun}`);
    this.name = 'NoTrustDataError';
  }
}

/** The trust server could not be reached and nothing cached could stand in. */
export class TrustUnavailableError extends TrustError {
  constructor(message: string) {
    super('unavailable', message);
    this.name = 'TrustUnavailableError';
  }
}

export interface UpdateOptions {
  gun: string;
  /** Identifies the trust server in the state store (its origin). */
  server: string;
  fetcher: MetadataFetcher;
  store: TrustStateStore;
  pinning: RootPinning;
  now: Date;
  logger: Logger;
  /**
   * Imported trust data of an offline upstream only (`offlineExpiryGraceDays`): how long past
   * its expiry a timestamp or snapshot is still accepted, in ms. Never applies to root or
   * targets. Each use is logged and named in the verified state (`expiredAccepted`).
   */
  expiryGraceMs?: number;
}

interface Ctx extends UpdateOptions {
  /** Roles accepted past their expiry within `expiryGraceMs`. */
  expiredAccepted: string[];
  versions: Record<string, number>;
  root: TrustedRoot;
  /**
   * The root entry of the newest snapshot seen, even one refused because the trusted root does
   * not match it (builder.go nextRootChecksum): that is how a rotated root is found.
   */
  nextRootMeta?: FileMeta;
}

/** Brings `gun` up to date and returns the verified repository. */
export async function updateRepository(options: UpdateOptions): Promise<VerifiedNotaryRepo> {
  const versions = await options.store.versions(options.server, options.gun);
  const root = await bootstrapRoot(options, versions);
  const ctx: Ctx = { ...options, versions, root, expiredAccepted: [] };
  try {
    try {
      return await updateOnce(ctx);
    } catch (first) {
      // Unreachable, or saved state that cannot be read (fail closed): a fresh root changes nothing.
      if (first instanceof TrustUnavailableError || (first instanceof SignetError && first.code === 'STORAGE_ERROR')) throw first;
      // tufclient.go Update: any failure → download the newest root (rotating), then retry once.
      options.logger.debug({ gun: options.gun, err: (first as Error).message }, 'trust update failed; refreshing root and retrying');
      await refreshRoot(ctx);
      return await updateOnce(ctx);
    }
  } finally {
    // Every version in ctx.versions was verified: a file that verified raises the rollback
    // floor even when a later step of the same update failed (Notary caches each verified file).
    await options.store.saveVersions(options.server, options.gun, ctx.versions);
  }
}

/**
 * client.go bootstrapClient: the cached root is the anchor (loaded even if expired, validated
 * with its own keys); an expired one is replaced by the server's current root, validated
 * against it. Without a cache the server's root is validated against the pinning.
 */
async function bootstrapRoot(o: UpdateOptions, versions: Record<string, number>): Promise<TrustedRoot> {
  const cached = await o.store.read(o.server, o.gun, 'root.json');
  if (cached) {
    const trusted = validateRoot(cached, o.gun, undefined, { keyIds: [], caPems: [], tofu: true }, o.now);
    try {
      checkNotExpired('root', trusted.metadata.signed, o.now);
      return trusted;
    } catch {
      const ctx: Ctx = { ...o, versions, root: trusted, expiredAccepted: [] };
      await refreshRoot(ctx);
      return ctx.root;
    }
  }
  const fetched = await o.fetcher.fetch(o.gun, 'root.json', LIMITS.rootMaxBytes);
  if (fetched.kind === 'not_found') throw new NoTrustDataError(o.gun);
  if (fetched.kind === 'unavailable') throw new TrustUnavailableError(`trust server unreachable and no trust data cached for ${o.gun}: ${fetched.message}`);
  capped('root', fetched.bytes, LIMITS.rootMaxBytes);
  const root = validateRoot(fetched.bytes, o.gun, undefined, o.pinning, o.now);
  checkVersion('root', root.metadata.signed, versions['root'] ?? 1);
  checkNotExpired('root', root.metadata.signed, o.now);
  await o.store.write(o.server, o.gun, 'root.json', root.bytes);
  versions['root'] = Math.max(versions['root'] ?? 0, root.metadata.signed.version);
  return root;
}

/**
 * tufclient.go updateRoot: fetch the newest root (by the checksum the cached snapshot lists
 * when there is one), walk the versions in between (each validated by the one before), and
 * make the newest the trusted root.
 */
async function refreshRoot(ctx: Ctx): Promise<void> {
  // tufclient.go downloadRoot: by checksum only when this round's snapshot named one; otherwise
  // (expired root, a timestamp or snapshot signed by a rotated key) the server's root.json.
  const rootMeta = ctx.nextRootMeta;
  const sha = rootMeta?.hashes.get('sha256');
  let outcome: FetchOutcome = { kind: 'not_found' };
  if (rootMeta && sha) outcome = await ctx.fetcher.fetch(ctx.gun, `root.${sha.toString('hex')}.json`, rootMeta.length);
  if (outcome.kind !== 'ok') outcome = await ctx.fetcher.fetch(ctx.gun, 'root.json', LIMITS.rootMaxBytes);
  if (outcome.kind === 'not_found') throw new NoTrustDataError(ctx.gun);
  if (outcome.kind === 'unavailable') throw new TrustUnavailableError(`cannot download the root of ${ctx.gun}: ${outcome.message}`);
  capped('root', outcome.bytes, rootMeta && sha ? Math.min(rootMeta.length, LIMITS.rootMaxBytes) : LIMITS.rootMaxBytes);
  const newest = parseSigned(outcome.bytes, 'root').signed.version;
  const current = ctx.root.metadata.signed.version;
  checkVersion('root', { version: newest } as Root, current);
  if (newest - current > LIMITS.maxRootRotations) {
    throw new TrustError(
      'too_large',
      `root of ${ctx.gun} jumps from version ${current} to ${newest}, more than the ${LIMITS.maxRootRotations} rotations walked in one update`,
    );
  }
  let trusted = ctx.root;
  // Rotation gap: each intermediate root must be signed by the one before it.
  for (let v = current + 1; v < newest; v++) {
    const step = await ctx.fetcher.fetch(ctx.gun, `${v}.root.json`, LIMITS.rootMaxBytes);
    if (step.kind !== 'ok') throw new TrustError('threshold', `root rotation of ${ctx.gun}: version ${v} of root.json is not available`);
    const next = validateRoot(step.bytes, ctx.gun, trusted, undefined, ctx.now);
    if (next.metadata.signed.version !== v) throw new TrustError('malformed', `${v}.root.json of ${ctx.gun} holds version ${next.metadata.signed.version}`);
    trusted = next;
  }
  const latest =
    newest === current
      ? validateRoot(outcome.bytes, ctx.gun, undefined, { keyIds: [], caPems: [], tofu: true }, ctx.now)
      : validateRoot(outcome.bytes, ctx.gun, trusted, undefined, ctx.now);
  if (newest === current && !latest.bytes.equals(ctx.root.bytes)) {
    // Same version, other bytes: only acceptable if the trusted root signed it too.
    validateRoot(outcome.bytes, ctx.gun, ctx.root, undefined, ctx.now);
  }
  checkNotExpired('root', latest.metadata.signed, ctx.now);
  ctx.root = latest;
  ctx.versions['root'] = Math.max(ctx.versions['root'] ?? 0, newest);
  await ctx.store.write(ctx.server, ctx.gun, 'root.json', latest.bytes);
}

async function updateOnce(ctx: Ctx): Promise<VerifiedNotaryRepo> {
  const root = ctx.root.metadata.signed;
  const timestamp = await loadTimestamp(ctx, root);
  const snapshot = await loadSnapshot(ctx, root, timestamp.signed);
  const targets = new Map<string, SignedMetadata<Targets>>();
  const top = await loadRoleFile(ctx, 'targets', snapshot.signed, (meta) => verifyByRoot(meta, root, 'targets'));
  if (!top) throw new TrustError('malformed', `snapshot of ${ctx.gun} lists no targets`);
  targets.set('targets', top);
  await loadDelegations(ctx, snapshot.signed, targets);
  return new VerifiedNotaryRepo({
    gun: ctx.gun,
    root: ctx.root.metadata,
    timestamp,
    snapshot,
    targets,
    expiryGraceMs: ctx.expiryGraceMs ?? 0,
    expiredAccepted: [...new Set(ctx.expiredAccepted)],
  });
}

/**
 * The expiry check of a timestamp or snapshot, with the offline grace: imported trust data is
 * as old as the bundle, and Notary timestamps last 14 days, so a site may accept them expired
 * for a stated number of days. Never silently: logged, and named in the verified state.
 */
function checkWithinGrace(ctx: Ctx, role: 'timestamp' | 'snapshot', signed: SignedCommon): void {
  const grace = ctx.expiryGraceMs ?? 0;
  if (grace <= 0 || signed.expires.getTime() >= ctx.now.getTime()) {
    checkNotExpired(role, signed, ctx.now);
    return;
  }
  checkNotExpired(role, signed, new Date(ctx.now.getTime() - grace));
  ctx.logger.warn({ gun: ctx.gun, role, expires: signed.expiresText }, 'imported trust metadata is expired: accepted within offlineExpiryGraceDays');
  ctx.expiredAccepted.push(role);
}

function verifyByRoot(meta: SignedMetadata<Root | Timestamp | Snapshot | Targets>, root: Root, role: string): void {
  const r = root.roles.get(role);
  if (!r) throw new TrustError('malformed', `root has no ${role} role`);
  verifySignatures(meta, r, root.keys);
}

/** Timestamp: always fetched; the cached copy only stands in on a network error or 404. */
async function loadTimestamp(ctx: Ctx, root: Root): Promise<SignedMetadata<Timestamp>> {
  const fetched = await ctx.fetcher.fetch(ctx.gun, 'timestamp.json', LIMITS.timestampMaxBytes);
  let bytes: Buffer;
  let fromCache = false;
  if (fetched.kind === 'ok') {
    bytes = fetched.bytes;
    capped('timestamp', bytes, LIMITS.timestampMaxBytes);
  } else {
    const cached = await ctx.store.read(ctx.server, ctx.gun, 'timestamp.json');
    if (!cached) {
      if (fetched.kind === 'not_found') throw new NoTrustDataError(ctx.gun);
      throw new TrustUnavailableError(`trust server unreachable and no timestamp cached for ${ctx.gun}: ${fetched.message}`);
    }
    ctx.logger.warn({ gun: ctx.gun }, 'trust server unavailable: using the cached timestamp');
    bytes = cached;
    fromCache = true;
  }
  const meta = parseSigned(bytes, 'timestamp');
  verifyByRoot(meta, root, 'timestamp');
  checkVersion('timestamp', meta.signed, ctx.versions['timestamp'] ?? 1);
  checkWithinGrace(ctx, 'timestamp', meta.signed);
  ctx.versions['timestamp'] = meta.signed.version;
  if (!fromCache) await ctx.store.write(ctx.server, ctx.gun, 'timestamp.json', bytes);
  return meta;
}

async function loadSnapshot(ctx: Ctx, root: Root, timestamp: Timestamp): Promise<SignedMetadata<Snapshot>> {
  const expected = timestamp.meta.get('snapshot');
  if (!expected) throw new TrustError('malformed', `timestamp of ${ctx.gun} lists no snapshot`);
  const bytes = await cachedOrRemote(ctx, 'snapshot', expected);
  const meta = parseSigned(bytes, 'snapshot');
  verifyByRoot(meta, root, 'snapshot');
  checkVersion('snapshot', meta.signed, ctx.versions['snapshot'] ?? 1);
  checkWithinGrace(ctx, 'snapshot', meta.signed);
  // builder.go validateChecksumsFromSnapshot: the trusted root must be the one the snapshot
  // lists; a mismatch means the root was rotated (the retry fetches it by this checksum).
  const rootMeta = meta.signed.meta.get('root');
  ctx.nextRootMeta = rootMeta;
  if (rootMeta) checkHashes('root', ctx.root.bytes, rootMeta);
  ctx.versions['snapshot'] = meta.signed.version;
  await ctx.store.write(ctx.server, ctx.gun, 'snapshot.json', bytes);
  return meta;
}

/** tufclient.go tryLoadCacheThenRemote: cached bytes that hash right, else the consistent name. */
async function cachedOrRemote(ctx: Ctx, role: string, expected: FileMeta): Promise<Buffer> {
  const cached = await ctx.store.read(ctx.server, ctx.gun, `${role}.json`);
  if (cached && cached.length <= expected.length) {
    try {
      checkHashes(role, cached, expected);
      return cached;
    } catch {
      // stale cache: download
    }
  }
  const sha = expected.hashes.get('sha256');
  const names = sha ? [`${role}.${sha.toString('hex')}.json`, `${role}.json`] : [`${role}.json`];
  let last: FetchOutcome = { kind: 'not_found' };
  for (const name of names) {
    last = await ctx.fetcher.fetch(ctx.gun, name, expected.length);
    if (last.kind === 'ok') {
      checkLength(role, last.bytes.length, expected);
      checkHashes(role, last.bytes, expected);
      return last.bytes;
    }
    if (last.kind === 'unavailable') break;
  }
  if (last.kind === 'unavailable') throw new TrustUnavailableError(`cannot download ${role} of ${ctx.gun}: ${last.message}`);
  throw new TrustError('malformed', `${role} of ${ctx.gun} is listed in its parent but not on the trust server`);
}

/** Loads one targets file listed in the snapshot; undefined when the snapshot does not list it. */
async function loadRoleFile(
  ctx: Ctx,
  role: string,
  snapshot: Snapshot,
  verify: (meta: SignedMetadata<Targets>) => void,
): Promise<SignedMetadata<Targets> | undefined> {
  const expected = snapshot.meta.get(role);
  if (!expected) return undefined;
  const bytes = await cachedOrRemote(ctx, role, expected);
  const meta = parseSigned(bytes, role);
  verify(meta);
  checkVersion(role, meta.signed, ctx.versions[role] ?? 1);
  checkNotExpired(role, meta.signed, ctx.now);
  ctx.versions[role] = meta.signed.version;
  await ctx.store.write(ctx.server, ctx.gun, `${role}.json`, bytes);
  return meta;
}

/**
 * tufclient.go downloadTargets: depth-first pre-order over the children each targets file
 * declares that the snapshot also lists; a child is verified with the keys its parent
 * declares. An expired or under-threshold delegation is dropped with its subtree (warning);
 * any other failure is fatal.
 */
async function loadDelegations(ctx: Ctx, snapshot: Snapshot, loaded: Map<string, SignedMetadata<Targets>>): Promise<void> {
  const top = loaded.get('targets');
  if (!top) return;
  const stack: Array<{ parent: Targets; name: string }> = top.signed.delegations.roles.map((d) => ({ parent: top.signed, name: d.name })).reverse();
  while (stack.length > 0) {
    if (loaded.size > LIMITS.maxDelegations) throw new TrustError('too_large', `${ctx.gun} has more than ${LIMITS.maxDelegations} delegations`);
    const { parent, name } = stack.pop() as { parent: Targets; name: string };
    const role = parent.delegations.roles.find((d) => d.name === name);
    if (!role || !snapshot.meta.has(name)) continue;
    let meta: SignedMetadata<Targets> | undefined;
    try {
      meta = await loadRoleFile(ctx, name, snapshot, (m) => verifySignatures(m, role, parent.delegations.keys));
    } catch (err) {
      if (isTrustError(err, 'expired') || isTrustError(err, 'threshold') || isTrustError(err, 'bad_signature')) {
        ctx.logger.warn({ gun: ctx.gun, role: name, err: (err as Error).message }, 'delegation dropped');
        continue;
      }
      throw err;
    }
    if (!meta) continue;
    loaded.set(name, meta);
    for (const child of [...meta.signed.delegations.roles].reverse()) stack.push({ parent: meta.signed, name: child.name });
  }
}

/** The download caps hold whatever the fetcher did (defence in depth: the fetcher also enforces them). */
function capped(role: string, bytes: Buffer, maxBytes: number): void {
  if (bytes.length > maxBytes) throw new TrustError('too_large', `${role} metadata is ${bytes.length} bytes, over the ${maxBytes}-byte download limit`);
}

import type { Logger } from 'pino';
import { LRUCache } from 'lru-cache';
import { DEFAULTS } from '../../config/defaults.js';
import type { NotaryRequirements, NotaryServerConfig } from '../../config/load.js';
import { SignetError, errorMessage } from '../../errors.js';
import { Inflight } from '../../cache/inflight.js';
import type { TrustStateStore } from '../../cache/ports.js';
import type { UpstreamObserver } from '../../registry/upstream-client.js';
import { DenialCache } from '../denial-cache.js';
import type { TrustHealthItem } from '../health.js';
import { Denial, type Admission, type DenyReason, type PinnedTag, type RepositorySubject, type Subject, type TagSubject, type TrustSource } from '../source.js';
import { TrustError } from './errors.js';
import { notaryHealth, savedRepository } from './health.js';
import { NotaryRemote, type MetadataFetcher } from './remote.js';
import type { RootPinning } from './root-trust.js';
import { updateRepository } from './updater.js';
import { judgeTag } from './tag-verdict.js';
import { TagVerdictMemo } from './verdict-memo.js';
import type { VerifiedNotaryRepo } from './verified-repo.js';

/** What loading one GUN needs: where its trust data lives and which roots to trust. */
export interface NotaryLoadOptions {
  server: NotaryServerConfig;
  roots: RootPinning;
  /** Config path of the requirement, for messages ("policy.rules.2.require.notary"). */
  path: string;
  /** Where the files come from instead of the server (an offline upstream's imported trust data). */
  fetcher?: MetadataFetcher;
  /** The trust-state scope (default: the server's origin); imported data has a scope of its own. */
  scope?: string;
  /** ms an expired timestamp or snapshot is still accepted (imported data only). */
  expiryGraceMs?: number;
}

export interface NotarySourceOptions {
  store: TrustStateStore;
  logger: Logger;
  /** Seconds a verified state is used before the timestamp is fetched again. */
  freshnessSeconds: number;
  /**
   * Seconds a denial is remembered: "no trust data" for this long, any other (metadata that
   * does not verify, a root not pinned, an unreachable server) for at most freshnessSeconds too.
   */
  missingCacheSeconds: number;
  /** Trust server of each upstream (`upstreams.<name>.trust.notary`), used when a rule names none. */
  servers?: ReadonlyMap<string, NotaryServerConfig | undefined>;
  clock?: () => number;
  observer?: UpstreamObserver;
  /** Injected for tests: a fetcher per server. */
  fetcherFor?: (options: NotaryLoadOptions) => MetadataFetcher;
  /**
   * Offline upstreams: the imported trust data of `registry`, or undefined when the registry is
   * not offline. Their GUNs never reach a server: the files come from the imported bundles.
   */
  offline?: (registry: string) => MetadataFetcher | undefined;
}

interface CacheEntry {
  repo: VerifiedNotaryRepo;
  /** When `repo` was last confirmed. */
  checkedAt: number;
}

const GUN_COMPONENT = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/**
 * Docker Content Trust as a trust source. Per GUN, the verified repository is reused for
 * `freshnessSeconds`, then brought up to date (the timestamp is fetched; the rest only when it
 * changed). When the trust server is unreachable the updater falls back to the persisted state,
 * which still has to verify and be unexpired. Notary signs tags, so this source can pin them:
 * the Docker CLI's choice of target (targets/releases, then targets) decides the digest.
 */
export class NotaryTrustSource implements TrustSource<NotaryRequirements> {
  readonly format = 'notary';
  readonly #o: NotarySourceOptions;
  readonly #clock: () => number;
  readonly #cache: LRUCache<string, CacheEntry>;
  /**
   * Denials per trust server and GUN, for missingCacheSeconds: a client repeating a denied pull
   * costs no trust-server request each time. Apart from `#cache`, so that requests for arbitrary
   * names never evict a verified state.
   */
  readonly #denied: DenialCache;
  readonly #inflight = new Inflight<VerifiedNotaryRepo>();
  readonly #remotes: LRUCache<string, NotaryRemote>;
  /**
   * Verdicts per verified repository state: a state object is immutable, so while the source
   * hands out the same one (within its freshness interval) a tag's verdict cannot change.
   */
  readonly #verdicts = new TagVerdictMemo(DEFAULTS.verdictMemoEntries);
  /** When each verified state was last confirmed with its server (Admission.confirmedAt). */
  readonly #confirmed = new WeakMap<VerifiedNotaryRepo, number>();
  /** The health of each verified state, made once: a state object never changes (its key certificates are parsed once). */
  readonly #healthOf = new WeakMap<VerifiedNotaryRepo, TrustHealthItem[]>();
  /** The last report on saved states (savedHealth), and when it was made. */
  #saved: { at: number; items: TrustHealthItem[] } | undefined;

  constructor(options: NotarySourceOptions) {
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
    this.#cache = new LRUCache({ max: DEFAULTS.trustStateMemoryEntries });
    this.#denied = new DenialCache({ max: DEFAULTS.trustDenialMemoryEntries, ttlMs: options.missingCacheSeconds * 1000, clock: this.#clock });
    this.#remotes = new LRUCache({
      max: DEFAULTS.notaryClientsMax,
      dispose: (remote) => void remote.close().catch(() => undefined),
    });
  }

  async close(): Promise<void> {
    const remotes = [...this.#remotes.values()];
    this.#remotes.clear();
    await Promise.all(remotes.map((r) => r.close()));
  }

  async pinTag(subject: TagSubject, requirement: NotaryRequirements): Promise<PinnedTag> {
    const repo = await this.#repository(subject, requirement);
    const key = `${requirement.path} ${subject.tag}`;
    let verdict = this.#verdicts.get(repo, key);
    if (!verdict) {
      try {
        verdict = judgeTag(repo, subject, requirement);
      } catch (err) {
        if (!(err instanceof Denial)) throw err;
        verdict = err;
      }
      this.#verdicts.set(repo, key, verdict);
    }
    if (verdict instanceof Denial) throw verdict;
    const confirmedAt = this.#confirmed.get(repo);
    return confirmedAt === undefined ? verdict : { ...verdict, confirmedAt };
  }

  async verify(subject: Subject, requirement: NotaryRequirements): Promise<Admission> {
    const where = `${subject.registry}/${subject.repository}`;
    if (subject.tag !== undefined) {
      const pinned = await this.pinTag({ registry: subject.registry, repository: subject.repository, tag: subject.tag }, requirement);
      if (pinned.digest !== subject.digest) {
        throw new Denial('digest_not_signed', `tag "${subject.tag}" of ${where} is signed for ${pinned.digest}, not ${subject.digest}`);
      }
      return pinned;
    }
    // A digest passes only as the target of a tag whose verdict (signers included) allows it.
    const repo = await this.#repository(subject, requirement);
    for (const signed of repo.listTargets().filter((t) => t.digest === subject.digest)) {
      const pinned = await this.pinTag({ registry: subject.registry, repository: subject.repository, tag: signed.tag }, requirement).catch((err: unknown) => {
        if (err instanceof Denial) return undefined;
        throw err;
      });
      if (pinned?.digest === subject.digest) return pinned;
    }
    throw new Denial('digest_not_signed', `${subject.digest} is not the signed target of any tag in the trust data of ${repo.name}`);
  }

  /**
   * The tags the verified trust data signs and the requirement admits (signers and threshold
   * included), sorted: what a tag listing of the repository may show. Reads trust data only.
   */
  async signedTags(subject: RepositorySubject, requirement: NotaryRequirements): Promise<string[]> {
    const repo = await this.#repository(subject, requirement);
    const admitted: string[] = [];
    for (const { tag } of repo.listTargets()) {
      const pinned = await this.pinTag({ registry: subject.registry, repository: subject.repository, tag }, requirement).catch((err: unknown) => {
        if (err instanceof Denial) return undefined;
        throw err;
      });
      if (pinned) admitted.push(tag);
    }
    return admitted;
  }

  /**
   * The health of every verified state this source holds (the GUNs pulled since start, up to
   * trustStateMemoryEntries): each role's expiry, each key's certificate validity.
   */
  health(): TrustHealthItem[] {
    return [...this.#held().values()].flatMap(({ server, repo }) => {
      let items = this.#healthOf.get(repo);
      if (!items) this.#healthOf.set(repo, (items = notaryHealth(repo, server)));
      return items;
    });
  }

  /** The verified states held, one per "<server> <GUN>" whatever expiry grace it was loaded under (keys as `load` makes them). */
  #held(): Map<string, { server: string; repo: VerifiedNotaryRepo }> {
    const held = new Map<string, { server: string; repo: VerifiedNotaryRepo }>();
    for (const [key, entry] of this.#cache.entries()) {
      const [server = '', gun = ''] = key.split(' ');
      if (!held.has(`${server} ${gun}`)) held.set(`${server} ${gun}`, { server, repo: entry.repo });
    }
    return held;
  }

  /**
   * The health of the trust states saved on the state backend that this source does not hold
   * verified: what a restarted Signet, or another replica, verified before. Read at most every
   * trustHealthSavedSeconds; a state that cannot be read is left out (the next pull decides).
   */
  async savedHealth(): Promise<TrustHealthItem[]> {
    const now = this.#clock();
    if (this.#saved && now - this.#saved.at < DEFAULTS.trustHealthSavedSeconds * 1000) return this.#saved.items;
    const held = this.#held();
    const items: TrustHealthItem[] = [];
    try {
      for (const { scope, name } of await this.#o.store.names(DEFAULTS.trustStateMemoryEntries)) {
        if (held.has(`${scope} ${name}`)) continue;
        const repo = await savedRepository(this.#o.store, scope, name);
        if (repo) items.push(...notaryHealth(repo, scope).map((item) => ({ ...item, saved: true })));
      }
    } catch (err) {
      this.#o.logger.warn({ err: errorMessage(err) }, 'the saved trust states could not be listed for the console');
    }
    this.#saved = { at: now, items };
    return items;
  }

  /** The verified repository the requirement points at (for `signet trust inspect`). */
  async repository(subject: { registry: string; repository: string }, requirement: NotaryRequirements): Promise<VerifiedNotaryRepo> {
    return this.#repository(subject, requirement);
  }

  #repository(subject: { registry: string; repository: string }, requirement: NotaryRequirements): Promise<VerifiedNotaryRepo> {
    const imported = this.#o.offline?.(subject.registry);
    // Imported trust data is keyed by GUN: for an offline upstream a configured server only lends its GUN template.
    const server = requirement.server ?? this.#o.servers?.get(subject.registry) ?? (imported ? offlineServer(subject.registry) : undefined);
    const where = `${subject.registry}/${subject.repository}`;
    if (!server) {
      throw new Denial(
        'no_trust_config',
        `no trust configuration for ${where}: set upstreams.${subject.registry}.trust.notary.url (or trust.notary.url in a policy rule matching it) ` +
          `and pin its roots in policy.rules[].require.notary.roots; or add a rule {match: "${where}", mode: off} to let it through unverified`,
      );
    }
    const name = server.gun.replaceAll('{registry}', subject.registry).replaceAll('{repository}', subject.repository);
    const offline = imported
      ? { fetcher: imported, scope: `imported:${subject.registry}`, expiryGraceMs: (requirement.offlineExpiryGraceDays ?? 0) * DAY_MS }
      : {};
    return this.load({ name }, { server, roots: requirement.roots, path: requirement.path, ...offline });
  }

  /** Brings the trust data of `request.name` (a GUN) up to date and verifies it; throws a Denial. */
  async load(request: { name: string }, options: NotaryLoadOptions): Promise<VerifiedNotaryRepo> {
    const gun = request.name;
    if (!gun.split('/').every((c) => GUN_COMPONENT.test(c))) {
      throw new Denial('malformed', `"${gun}" is not a valid GUN: check the gun template of the trust server for ${options.path}`);
    }
    const server = options.scope ?? options.server.url.origin;
    const key = `${server} ${gun} ${options.expiryGraceMs ?? 0}`;
    const now = this.#clock();
    // A denial may depend on the rule's root pinning (root_not_pinned): remembered per rule.
    const deniedKey = `${key} ${options.path}`;
    const denied = this.#denied.get(deniedKey);
    if (denied) throw denied;
    const hit = this.#cache.get(key);
    if (hit && now - hit.checkedAt < this.#o.freshnessSeconds * 1000 && hit.repo.validUntil.getTime() >= now) {
      this.#confirmed.set(hit.repo, hit.checkedAt);
      return hit.repo;
    }
    return this.#inflight.run(key, async () => {
      try {
        const repo = await updateRepository({
          gun,
          server,
          fetcher: options.fetcher ?? this.#fetcher(options),
          store: this.#o.store,
          pinning: options.roots,
          now: new Date(this.#clock()),
          logger: this.#o.logger,
          ...(options.expiryGraceMs ? { expiryGraceMs: options.expiryGraceMs } : {}),
        });
        const checkedAt = this.#clock();
        this.#cache.set(key, { repo, checkedAt });
        this.#confirmed.set(repo, checkedAt);
        return repo;
      } catch (err) {
        this.#cache.delete(key);
        const missing = err instanceof TrustError && err.code === 'not_found';
        const denial = missing ? noTrustData(gun, server) : toDenial(err, gun, options);
        // Every denial, not only "no trust data": a root that is not pinned, metadata that does
        // not verify or a server that refuses would otherwise cost a trust-server round trip per
        // repeated pull. A verdict on the trust data itself is not kept longer than a verified
        // state would be (freshnessSeconds 0 re-checks every pull). Internal errors are not kept.
        const seconds = missing ? this.#o.missingCacheSeconds : Math.min(this.#o.missingCacheSeconds, this.#o.freshnessSeconds);
        if (denial instanceof Denial) this.#denied.set(deniedKey, denial, seconds * 1000);
        throw denial;
      }
    });
  }

  #fetcher(options: NotaryLoadOptions): MetadataFetcher {
    if (this.#o.fetcherFor) return this.#o.fetcherFor(options);
    const key = `${options.server.url.href} ${options.server.credentials?.username ?? ''}`;
    let remote = this.#remotes.get(key);
    if (!remote) {
      remote = new NotaryRemote(options.server, { logger: this.#o.logger, ...(this.#o.observer ? { observer: this.#o.observer } : {}) });
      this.#remotes.set(key, remote);
    }
    return remote;
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The trust server an offline upstream stands in for when none is configured: only its GUN template matters. */
function offlineServer(registry: string): NotaryServerConfig {
  return {
    url: new URL(`https://${registry}/`),
    ca: undefined,
    credentials: undefined,
    gun: '{registry}/{repository}',
    allowedHosts: [],
    allowPrivateAddresses: false,
  };
}

function noTrustData(gun: string, server: string): Denial {
  return new Denial('no_trust_data', `no trust data for ${gun} on ${server}: the repository is not signed (docker trust sign / notary publish)`);
}

const REASONS: Record<TrustError['code'], DenyReason> = {
  canonical_json: 'malformed',
  bad_signature: 'bad_signature',
  threshold: 'threshold',
  bad_key: 'bad_signature',
  bad_certificate: 'bad_signature',
  malformed: 'malformed',
  bad_role_name: 'malformed',
  expired: 'expired',
  rollback: 'rollback',
  hash_mismatch: 'hash_mismatch',
  too_large: 'too_large',
  not_found: 'no_trust_data',
  unavailable: 'trust_unavailable',
  not_pinned: 'root_not_pinned',
};

const WHAT: Partial<Record<DenyReason, string>> = {
  expired: 'trust metadata expired',
  rollback: 'rollback detected',
  threshold: 'signature threshold not met',
  bad_signature: 'invalid signature or key',
  hash_mismatch: 'trust metadata does not match its signed hash (mix-and-match or tampering)',
  too_large: 'trust metadata exceeds its size limit',
  malformed: 'malformed trust metadata',
};

/** Maps what went wrong in verification to the denial the client reads. */
function toDenial(err: unknown, gun: string, options: NotaryLoadOptions): SignetError {
  if (err instanceof Denial) return err;
  if (err instanceof TrustError) {
    switch (err.code) {
      case 'unavailable':
        return new Denial('trust_unavailable', `${err.message}; the pull is refused until the trust data can be verified`, { cause: err });
      case 'not_pinned':
        return new Denial(
          'root_not_pinned',
          `root of ${gun} is not pinned: ${err.message}; pin it in ${options.path}.roots (keyIds or caFiles) or allow trust on first use with roots.tofu: true`,
          { cause: err },
        );
      default: {
        const reason = REASONS[err.code];
        return new Denial(reason, `trust data of ${gun} failed verification: ${WHAT[reason] ?? reason}: ${err.message}`, { cause: err });
      }
    }
  }
  // Trust state that cannot be read: fail closed, never reset rollback floors or re-trust a root.
  if (err instanceof SignetError && err.code === 'STORAGE_ERROR') {
    return new Denial('trust_state_unreadable', `the saved trust state of ${gun} cannot be read, so it cannot be verified: ${err.message}`, { cause: err });
  }
  if (err instanceof SignetError) return err as SignetError;
  return new Denial('trust_unavailable', `trust data of ${gun} could not be verified: ${errorMessage(err)}`, { cause: err });
}

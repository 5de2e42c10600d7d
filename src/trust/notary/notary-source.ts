import type { Logger } from 'pino';
import type { NotaryLoadOptions } from '../../policy/enforcer.js';
import { SignetError } from '../../errors.js';
import { Inflight } from '../../cache/inflight.js';
import type { UpstreamObserver } from '../../registry/upstream-client.js';
import type { DenyReason, TrustRequest, TrustSource } from '../trust-source.js';
import { TrustError } from './errors.js';
import { NotaryRemote, type MetadataFetcher } from './remote.js';
import { RootNotPinnedError } from './root-trust.js';
import type { TrustStateStore } from './state-store.js';
import { NoTrustDataError, TrustUnavailableError, updateRepository } from './updater.js';
import type { VerifiedNotaryRepo } from './verified-repo.js';

export interface NotarySourceOptions {
  store: TrustStateStore;
  logger: Logger;
  /** Seconds a verified state is used before the timestamp is fetched again. */
  freshnessSeconds: number;
  /** Seconds a "no trust data" answer is remembered. */
  missingCacheSeconds: number;
  clock?: () => number;
  observer?: UpstreamObserver;
  /** Injected for tests: a fetcher per server URL. */
  fetcherFor?: (options: NotaryLoadOptions) => MetadataFetcher;
}

interface CacheEntry {
  repo: VerifiedNotaryRepo | undefined;
  /** When `repo` (or the absence of trust data) was last confirmed. */
  checkedAt: number;
}

const GUN_COMPONENT = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/**
 * Docker Content Trust as a trust source: per GUN, the verified repository is reused for
 * `freshnessSeconds`, then brought up to date (the timestamp is fetched; the rest only when it
 * changed). When the trust server is unreachable the updater falls back to the persisted state,
 * which still has to verify and be unexpired. Failures become DENIED with a reason.
 */
export class NotaryTrustSource implements TrustSource<NotaryLoadOptions> {
  readonly #o: NotarySourceOptions;
  readonly #clock: () => number;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inflight = new Inflight<VerifiedNotaryRepo>();
  readonly #remotes = new Map<string, MetadataFetcher & { close?: () => Promise<void> }>();

  constructor(options: NotarySourceOptions) {
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#remotes.values()].map((r) => r.close?.()));
  }

  async load(request: TrustRequest, options: NotaryLoadOptions): Promise<VerifiedNotaryRepo> {
    const gun = request.name;
    if (!gun.split('/').every((c) => GUN_COMPONENT.test(c))) {
      throw deny('malformed', `"${gun}" is not a valid GUN: check the gun template of ${options.rulePath}`);
    }
    const server = options.server.url.origin;
    const key = `${server} ${gun}`;
    const now = this.#clock();
    const hit = this.#cache.get(key);
    if (hit && now - hit.checkedAt < (hit.repo ? this.#o.freshnessSeconds : this.#o.missingCacheSeconds) * 1000) {
      if (!hit.repo) throw noTrustData(gun, server);
      if (hit.repo.validUntil.getTime() >= now) return hit.repo;
    }
    return this.#inflight.run(key, async () => {
      try {
        const repo = await updateRepository({
          gun,
          server,
          fetcher: this.#fetcher(options),
          store: this.#o.store,
          pinning: options.roots,
          now: new Date(this.#clock()),
          logger: this.#o.logger,
        });
        this.#cache.set(key, { repo, checkedAt: this.#clock() });
        return repo;
      } catch (err) {
        if (err instanceof NoTrustDataError) {
          this.#cache.set(key, { repo: undefined, checkedAt: this.#clock() });
          throw noTrustData(gun, server);
        }
        this.#cache.delete(key);
        throw toDenial(err, gun, options);
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

function deny(reason: DenyReason, message: string, cause?: unknown): SignetError {
  return new SignetError('DENIED', message, { detail: { reason }, ...(cause === undefined ? {} : { cause }) });
}

function noTrustData(gun: string, server: string): SignetError {
  return deny('no_trust_data', `no trust data for ${gun} on ${server}: the repository is not signed (docker trust sign / notary publish)`);
}

/** Maps what went wrong in verification to the denial the client reads. */
function toDenial(err: unknown, gun: string, options: NotaryLoadOptions): SignetError {
  // TrustError is a SignetError with the verifier's own codes: translate it before the
  // generic case, which passes through denials raised on the way (trust server refusing access).
  if (err instanceof TrustUnavailableError) return deny('trust_unavailable', `${err.message}; the pull is refused until the trust data can be verified`, err);
  if (err instanceof RootNotPinnedError) {
    return deny(
      'root_not_pinned',
      `root of ${gun} is not pinned: ${err.message}; pin it in ${options.rulePath}.require.notary.roots (keyIds or caFiles) or allow trust on first use with roots.tofu: true`,
      err,
    );
  }
  if (err instanceof TrustError) {
    const reasons: Record<TrustError['code'], DenyReason> = {
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
    };
    const what: Record<DenyReason, string> = {
      expired: 'trust metadata expired',
      rollback: 'rollback detected',
      threshold: 'signature threshold not met',
      bad_signature: 'invalid signature or key',
      hash_mismatch: 'trust metadata does not match its signed hash (mix-and-match or tampering)',
      too_large: 'trust metadata exceeds its size limit',
      malformed: 'malformed trust metadata',
    } as Record<DenyReason, string>;
    const reason = reasons[err.code];
    return deny(reason, `trust data of ${gun} failed verification: ${what[reason] ?? reason}: ${err.message}`, err);
  }
  if (err instanceof SignetError) return err as SignetError;
  return deny('trust_unavailable', `trust data of ${gun} could not be verified: ${(err as Error).message}`, err);
}

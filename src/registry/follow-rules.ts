import type { Logger } from 'pino';
import { SignetError } from '../errors.js';
import { AddressRefusedError, type HostGuard, type Refusal } from './host-guard.js';

/** Why a redirect or realm was not followed: the host guard's reasons, and these rules' own. */
export type RefusedReason = Refusal['reason'] | 'plain_http' | 'malformed';

export interface FollowRulesOptions {
  /** Upstream name, for messages. */
  upstream: string;
  /** Config path of the upstream (`upstreams.<name>`), for messages that say which key to set. */
  configPath: string;
  guard: HostGuard;
  /** Whether the upstream has credentials that a token realm would get. */
  hasCredentials: boolean;
  logger: Logger;
  /** Counts refusals (`redirect_host_not_allowed`, `realm_plain_http`, ...). */
  onRefused?: (reason: string) => void;
}

/**
 * Which URLs named by an upstream's answers the upstream client follows: a redirect's Location
 * (RFC 9110 §10.2.2, relative to the URL redirected) and a Bearer challenge's realm (Docker
 * token spec). Both must be http(s) URLs without userinfo on a host the guard allows; a realm
 * gets the upstream's credentials only over HTTPS or on the upstream's own origin. A refusal
 * is an UPSTREAM_ERROR naming the upstream and the config key that would allow it — never the
 * answer of the host refused, which is not asked at all.
 */
export class FollowRules {
  readonly #o: FollowRulesOptions;

  constructor(options: FollowRulesOptions) {
    this.#o = options;
  }

  /** The URL a redirect points to, if it may be followed. */
  redirect(location: string, from: URL, path: string): URL {
    const name = this.#o.upstream;
    let next: URL;
    try {
      next = new URL(location, from);
    } catch {
      throw this.#refused('redirect', 'malformed', undefined, `upstream ${name} redirected ${path} to a Location that is not a URL`);
    }
    if (next.protocol !== 'https:' && next.protocol !== 'http:') {
      throw this.#refused('redirect', 'malformed', undefined, `upstream ${name} redirected to an unsupported URL scheme ${next.protocol}`);
    }
    if (next.username !== '' || next.password !== '') {
      throw this.#refused('redirect', 'malformed', undefined, `upstream ${name} redirected ${path} to a URL with credentials in it`);
    }
    const refusal = this.#o.guard.refusal(next);
    if (refusal) throw this.#refused('redirect', refusal.reason, next, this.#message('redirect', refusal, next, path));
    return next;
  }

  /** The realm of a Bearer challenge, if it may be asked (with the credentials, when there are any). */
  realm(value: string | undefined): URL {
    const name = this.#o.upstream;
    let realm: URL;
    try {
      realm = new URL(value ?? '');
    } catch {
      throw this.#refused('realm', 'malformed', undefined, `upstream ${name} sent a Bearer challenge whose realm is not a URL`);
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw this.#refused('realm', 'malformed', undefined, `upstream ${name} named a token server with an unsupported URL scheme ${realm.protocol}`);
    }
    if (realm.username !== '' || realm.password !== '') {
      throw this.#refused('realm', 'malformed', undefined, `upstream ${name} named a token server URL with credentials in it`);
    }
    const refusal = this.#o.guard.refusal(realm);
    if (refusal) throw this.#refused('realm', refusal.reason, realm, this.#message('realm', refusal, realm, ''));
    if (this.#o.hasCredentials && realm.protocol !== 'https:' && !this.#o.guard.isOwnOrigin(realm)) {
      const key = this.#o.configPath;
      throw this.#refused(
        'realm',
        'plain_http',
        realm,
        `upstream ${name} named a token server at ${realm.origin}, plain HTTP on another origin: Signet sends ${key}.credentials ` +
          `only over HTTPS or to the upstream's own origin; serve the token server over HTTPS (with ${key}.caFile for a private CA)`,
      );
    }
    return realm;
  }

  /**
   * The refusal of a connection to a private address, found when a name resolved
   * (host-guard.ts `lookup`), if `err` (however undici wrapped it) is one.
   */
  connectRefusal(kind: 'redirect' | 'realm', err: unknown, url: URL, path: string): SignetError | undefined {
    for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
      if (e instanceof AddressRefusedError) {
        const refusal: Refusal = { reason: 'private_address', addressClass: e.addressClass };
        return this.#refused(kind, 'private_address', url, this.#message(kind, refusal, url, path));
      }
    }
    return undefined;
  }

  /** Counted, logged, and the client's UPSTREAM_ERROR. */
  #refused(kind: 'redirect' | 'realm', reason: RefusedReason, url: URL | undefined, message: string): SignetError {
    this.#o.onRefused?.(`${kind}_${reason}`);
    this.#o.logger.warn({ kind, reason, target: url?.origin }, `upstream ${kind} refused`);
    return new SignetError('UPSTREAM_ERROR', message, { detail: { upstream: this.#o.upstream, refused: `${kind}_${reason}` } });
  }

  #message(kind: 'redirect' | 'realm', refusal: Refusal, url: URL, path: string): string {
    const name = this.#o.upstream;
    const key = this.#o.configPath;
    const what = kind === 'redirect' ? `redirected ${path} to ${url.host}` : `named a token server at ${url.host}`;
    if (refusal.reason === 'private_address') {
      return (
        `upstream ${name} ${what}, a ${refusal.addressClass ?? 'private'} address: Signet reaches loopback, link-local and private ` +
        `addresses besides the upstream's own only with ${key}.allowPrivateAddresses: true`
      );
    }
    const entry = url.port === '' ? url.hostname : url.host;
    return `upstream ${name} ${what}, which is neither its own origin nor in ${key}.allowedHosts: add "${entry}" there if that host is trusted`;
  }
}

import type { Upstream } from '../registry/upstream-client.js';
import { SignetError } from '../errors.js';
import { assertRepositoryName, printable } from '../registry/names.js';

export interface Target {
  upstream: Upstream;
  /** Repository name at the upstream. */
  repository: string;
  /** The name as the client wrote it in the path (needed to rewrite Link headers). */
  clientName: string;
  /** The client's address, for the audit log. */
  client: string | undefined;
  /** The authenticated user, for the audit log. */
  user?: string | undefined;
}

export interface RouterOptions {
  upstreams: ReadonlyMap<string, Upstream>;
  defaultUpstream: string | undefined;
  officialNamespaces: ReadonlyMap<string, string | undefined>;
}

/**
 * Picks the upstream for a request. Only configured upstreams can ever be chosen, so no
 * client-supplied host name leads to an outbound connection (no open proxy, no SSRF).
 * Order: containerd's `?ns=<registry>`, then a first path segment naming an upstream, then the
 * default upstream (daemon.json `registry-mirrors` requests carry no hint).
 */
export class Router {
  readonly #options: RouterOptions;

  constructor(options: RouterOptions) {
    this.#options = options;
  }

  resolve(name: string, ns: string | undefined, client?: string, user?: string): Target {
    const { upstreams } = this.#options;
    let upstreamName: string | undefined;
    let repository = name;
    if (ns !== undefined) {
      if (!upstreams.has(ns)) {
        throw new SignetError('NAME_UNKNOWN', `registry "${printable(ns)}" (ns query) is not an upstream of this Signet; configured: ${this.#names()}`);
      }
      upstreamName = ns;
    } else {
      const slash = name.indexOf('/');
      const first = slash > 0 ? name.slice(0, slash) : undefined;
      if (first !== undefined && upstreams.has(first)) {
        upstreamName = first;
        repository = name.slice(slash + 1);
      } else {
        upstreamName = this.#options.defaultUpstream;
        if (upstreamName === undefined) {
          throw new SignetError(
            'NAME_UNKNOWN',
            `no default upstream is configured: address an upstream as /v2/<upstream>/<repository> (configured: ${this.#names()}) or set defaultUpstream`,
          );
        }
      }
    }
    assertRepositoryName(repository);
    const official = this.#options.officialNamespaces.get(upstreamName);
    if (official && !repository.includes('/')) repository = `${official}/${repository}`;
    const upstream = upstreams.get(upstreamName);
    if (!upstream) throw new SignetError('NAME_UNKNOWN', `upstream "${upstreamName}" is not configured`);
    return { upstream, repository, clientName: name, client, ...(user === undefined ? {} : { user }) };
  }

  #names(): string {
    return [...this.#options.upstreams.keys()].join(', ') || 'none';
  }
}

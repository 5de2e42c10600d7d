import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import { classifyAddress, type AddressClass } from './address-class.js';

/**
 * Where an upstream client may connect besides the upstream itself. Registries redirect blob
 * downloads to object storage and name a token server in their Bearer challenge (the `realm`);
 * both URLs come from the upstream's answers, so an upstream that is hostile or compromised
 * could point Signet at an internal service (cloud metadata at 169.254.169.254, an admin port
 * on loopback) and have its answer relayed to the client: server-side request forgery.
 *
 * A URL passes when it is on the upstream's own configured origin (always, whatever address
 * it has: the operator chose it), or when its host matches `allowedHosts` and its address is a
 * public one (unless `allowPrivateAddresses`). Host names are checked twice: the name against
 * the patterns before the request, and every address it resolves to at connect time (`lookup`,
 * given to the socket), so a name that resolves to a public address once and to a private one
 * the next time (DNS rebinding) cannot slip through. IP literals never reach `lookup` (Node
 * connects to them directly) and are checked before the request.
 */

/** One `allowedHosts` entry: `host` (the scheme's default port), `host:port`, `*.domain`, `*.domain:port`. */
interface HostPattern {
  /** Normalised host (WHATWG URL `hostname`: lower case, IPv6 in brackets), or the domain after `*.`. */
  host: string;
  wildcard: boolean;
  /** undefined: the default port of the URL's scheme (80 for http, 443 for https). */
  port: number | undefined;
}

export type RefusalReason = 'host_not_allowed' | 'private_address';

export interface Refusal {
  reason: RefusalReason;
  /** For a private address: what kind (loopback, link-local, ...). */
  addressClass?: AddressClass;
}

/** Resolves a host name to every address it has (dns.lookup with `all: true`). */
export type Resolver = (hostname: string, family: number) => Promise<Array<{ address: string; family: number }>>;

export interface HostGuardOptions {
  /** The upstream's configured URL: its origin is always allowed. */
  origin: URL;
  allowedHosts: readonly string[];
  allowPrivateAddresses: boolean;
  /** Injected for tests; dns.lookup by default. */
  resolve?: Resolver;
}

/** The error a refused connection fails with; the upstream client turns it into its own. */
export class AddressRefusedError extends Error {
  readonly code = 'ERR_SIGNET_ADDRESS_REFUSED';
  readonly hostname: string;
  readonly address: string;
  readonly addressClass: AddressClass;

  constructor(hostname: string, address: string, addressClass: AddressClass) {
    super(`${hostname} resolves to ${address}, a ${addressClass} address`);
    this.name = 'AddressRefusedError';
    this.hostname = hostname;
    this.address = address;
    this.addressClass = addressClass;
  }
}

export class HostGuard {
  readonly #origin: URL;
  readonly #patterns: HostPattern[];
  readonly #allowPrivate: boolean;
  readonly #resolve: Resolver;

  constructor(options: HostGuardOptions) {
    this.#origin = options.origin;
    this.#patterns = options.allowedHosts.map(parseHostPattern);
    this.#allowPrivate = options.allowPrivateAddresses;
    this.#resolve = options.resolve ?? ((hostname, family) => dnsLookup(hostname, { all: true, family }));
  }

  /** True for the upstream's own configured origin (scheme, host and port). */
  isOwnOrigin(url: URL): boolean {
    return url.origin === this.#origin.origin;
  }

  /** True when `url`'s host and port match an `allowedHosts` entry. */
  matchesAllowedHost(url: URL): boolean {
    const host = url.hostname.replace(/\.$/, '');
    const port = effectivePort(url);
    return this.#patterns.some(
      (p) => (p.port === undefined ? port === defaultPort(url.protocol) : p.port === port) && (p.wildcard ? host.endsWith(`.${p.host}`) : host === p.host),
    );
  }

  /**
   * Why Signet must not request `url`, or undefined when it may. A host name that passes here
   * is checked again when it resolves (`lookup`).
   */
  refusal(url: URL): Refusal | undefined {
    if (this.isOwnOrigin(url)) return undefined;
    if (!this.matchesAllowedHost(url)) return { reason: 'host_not_allowed' };
    if (this.#allowPrivate) return undefined;
    const literal = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    if (isIP(literal) !== 0) {
      const addressClass = classifyAddress(literal);
      if (addressClass !== 'public') return { reason: 'private_address', addressClass };
    }
    return undefined;
  }

  /**
   * The `lookup` for the sockets of this upstream (net.connect / tls.connect option): only
   * public addresses of names other than the upstream's own host are handed to the socket, so
   * the address checked is the address connected to. Undefined when every address is allowed.
   */
  get lookup(): LookupFunction | undefined {
    if (this.#allowPrivate) return undefined;
    const own = this.#origin.hostname;
    return (hostname, options, callback) => {
      const all = (options as { all?: boolean }).all === true;
      const family = typeof options.family === 'number' ? options.family : 0;
      this.#resolve(hostname, family).then(
        (addresses) => {
          let usable = addresses;
          if (hostname.toLowerCase() !== own) {
            usable = addresses.filter((a) => classifyAddress(a.address) === 'public');
            const first = addresses[0];
            if (usable.length === 0 && first) {
              callback(new AddressRefusedError(hostname, first.address, classifyAddress(first.address)), '', 0);
              return;
            }
          }
          const first = usable[0];
          if (!first) {
            callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
            return;
          }
          if (all) (callback as unknown as (err: null, addresses: Array<{ address: string; family: number }>) => void)(null, usable);
          else callback(null, first.address, first.family);
        },
        (err: unknown) => callback(err as NodeJS.ErrnoException, '', 0),
      );
    };
  }
}

/** Parses one `allowedHosts` entry (already validated by the config schema). */
export function parseHostPattern(pattern: string): HostPattern {
  let rest = pattern.trim();
  const wildcard = rest.startsWith('*.');
  if (wildcard) rest = rest.slice(2);
  let port: number | undefined;
  const m = /^(.*):(\d{1,5})$/.exec(rest);
  if (m && (rest.startsWith('[') ? m[1]?.endsWith(']') : !m[1]?.includes(':'))) {
    rest = m[1] ?? '';
    port = Number(m[2]);
  }
  // The WHATWG URL parser normalises the host as it normalises the URLs compared with it.
  const host = new URL(`http://${rest}`).hostname.replace(/\.$/, '');
  return { host, wildcard, port };
}

function defaultPort(protocol: string): number {
  return protocol === 'https:' ? 443 : 80;
}

function effectivePort(url: URL): number {
  return url.port === '' ? defaultPort(url.protocol) : Number(url.port);
}

/**
 * The revocation checker of Notation verification (notation-core-go revocation.ValidateContext,
 * trust-store-trust-policy.md "Revocation checking"):
 * - the chain must first keep the Notary Project certificate rules of its purpose (code signing
 *   or timestamping), as notation-core-go checks before any request; a chain that does not is
 *   an error (NotationError 'revocation_unknown'), not a result;
 * - each certificate but the root is checked against its issuer, all at once: OCSP when the
 *   certificate names a responder, falling back to its CRLs when OCSP gives no answer (the
 *   fallback is logged as a warning, as notation-go does); CRLs when it names only those;
 *   'nonRevokable' when it names neither. The root is always 'nonRevokable';
 * - endpoints are http: URLs (RFC 5280 4.2.1.13, RFC 6960 A.1: OCSP and CRLs are signed, and
 *   notation-core-go fetches nothing else) whose host is in `allowedHosts`; any other endpoint
 *   is not contacted and counts as a failed server;
 * - verified OCSP answers and fetched CRLs are kept in one LRU until their nextUpdate; identical
 *   requests under way at the same time share one fetch.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { errorMessage } from '../../../errors.js';
import type { CertificateInfo } from '../../x509/index.js';
import { NotationError } from '../errors.js';
import type { RevocationChecker, RevocationResult } from '../types.js';
import { chainProblem, type ChainPurpose } from '../cert-chain.js';
import { bundleProblem, crlCurrent, crlLookup, parseCrl, type CrlBundle, type ParsedCrl } from './crl.js';
import { allowedHostMatcher, crlDistributionPoints, OID_FRESHEST_CRL, ocspServers } from './endpoints.js';
import { buildOcspRequest, readOcspResponse, subjectPublicKeyBits, type OcspAnswer } from './ocsp.js';

/** Fetches one revocation endpoint. Rejects on transport failures, timeouts and bodies over `maxBytes`. */
export type RevocationFetch = (
  url: URL,
  init: { method: 'GET' | 'POST'; body?: Uint8Array; contentType?: string; timeoutMs: number; maxBytes: number },
) => Promise<{ status: number; body: Buffer }>;

export interface RevocationLogger {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface RevocationOptions {
  fetch: RevocationFetch;
  /** `trust.revocation.allowedHosts`: "host", "host:port", "*.domain" */
  allowedHosts: readonly string[];
  /** per request */
  timeoutMs: number;
  /** per response body (OCSP response or CRL) */
  maxResponseBytes: number;
  /** entries of the answer cache (OCSP answers and CRLs together) */
  cacheEntries: number;
  clock: () => number;
  logger: RevocationLogger;
}

type CacheValue = { kind: 'ocsp'; answer: OcspAnswer } | { kind: 'crl'; bundle: CrlBundle };

/** RFC 5280 5.3.1 reason codes. */
const REASONS: Readonly<Record<number, string>> = {
  0: 'unspecified',
  1: 'keyCompromise',
  2: 'cACompromise',
  3: 'affiliationChanged',
  4: 'superseded',
  5: 'cessationOfOperation',
  6: 'certificateHold',
  8: 'removeFromCRL',
  9: 'privilegeWithdrawn',
  10: 'aACompromise',
};

function reasonName(code: number | undefined): string | undefined {
  return code === undefined ? undefined : (REASONS[code] ?? `reason ${code}`);
}

/** One server's outcome: a definitive answer, or why there is none. */
type ServerOutcome = { ok: true; result: RevocationResult } | { ok: false; why: string };

export function createRevocationChecker(options: RevocationOptions): RevocationChecker {
  return new Checker(options);
}

class Checker implements RevocationChecker {
  readonly #options: RevocationOptions;
  readonly #allowed: (url: URL) => boolean;
  readonly #cache: LRUCache<string, CacheValue>;
  readonly #inflight = new Map<string, Promise<unknown>>();

  constructor(options: RevocationOptions) {
    this.#options = options;
    this.#allowed = allowedHostMatcher(options.allowedHosts);
    this.#cache = new LRUCache<string, CacheValue>({
      max: Math.max(1, options.cacheEntries),
      // The injected clock decides expiry (tests move it); lru-cache reads it through `perf`.
      perf: { now: options.clock },
      ttlResolution: 0,
    });
  }

  /**
   * `at` is the time a revocation's invalidityDate is compared with (notation-core-go
   * AuthenticSigningTime): a certificate whose key became invalid after `at` still counts as
   * good for that signature. An invalid Date means there is no such time.
   */
  async check(chain: readonly CertificateInfo[], purpose: ChainPurpose, at: Date): Promise<RevocationResult[]> {
    const problem = chainProblem(chain, purpose);
    if (problem !== undefined) {
      throw new NotationError(
        'revocation_unknown',
        `cannot check revocation: the ${purpose === 'codeSigning' ? 'signing' : 'timestamping'} certificate chain is invalid: ${problem}`,
      );
    }
    const signingTime = Number.isNaN(at.getTime()) ? undefined : at;
    const results = await Promise.all(chain.slice(0, -1).map((cert, i) => this.#checkCertificate(cert, chain[i + 1] as CertificateInfo, signingTime)));
    return [...results, { status: 'nonRevokable' }];
  }

  async #checkCertificate(cert: CertificateInfo, issuer: CertificateInfo, signingTime: Date | undefined): Promise<RevocationResult> {
    let ocspUrls: string[];
    let crlUrls: string[];
    try {
      ocspUrls = ocspServers(cert);
      crlUrls = crlDistributionPoints(cert);
    } catch (err) {
      return { status: 'unknown', why: `cannot read the certificate's revocation endpoints: ${errorMessage(err)}` };
    }
    if (ocspUrls.length > 0) {
      const ocsp = await this.#ocsp(cert, issuer, ocspUrls, signingTime);
      if (ocsp.status !== 'unknown' || crlUrls.length === 0) return ocsp;
      this.#options.logger.warn({ subject: cert.subject.text, why: ocsp.why }, 'OCSP check failed with unknown error; falling back to CRL');
      const crl = await this.#crl(cert, issuer, crlUrls, signingTime);
      return crl.status === 'unknown' ? { status: 'unknown', why: `OCSP: ${ocsp.why}; CRL: ${crl.why}` } : crl;
    }
    if (crlUrls.length > 0) return this.#crl(cert, issuer, crlUrls, signingTime);
    return { status: 'nonRevokable' };
  }

  /**
   * notation-core-go ocsp.CertCheckStatus: servers in order; the first that gives a verified
   * answer (good, revoked or unknown) decides; otherwise the failures make the status unknown.
   */
  async #ocsp(cert: CertificateInfo, issuer: CertificateInfo, urls: readonly string[], signingTime: Date | undefined): Promise<RevocationResult> {
    const failures: string[] = [];
    for (const url of urls) {
      const outcome = await this.#ocspServer(cert, issuer, url, signingTime);
      if (outcome.ok) return outcome.result;
      this.#options.logger.debug({ subject: cert.subject.text, url, why: outcome.why }, 'OCSP server gave no usable answer');
      failures.push(outcome.why);
    }
    return { status: 'unknown', why: failures.join('; ') };
  }

  async #ocspServer(cert: CertificateInfo, issuer: CertificateInfo, url: string, signingTime: Date | undefined): Promise<ServerOutcome> {
    const target = this.#endpoint(url, 'OCSP server');
    if (typeof target === 'string') return { ok: false, why: target };
    const keyHash = createHash('sha256').update(subjectPublicKeyBits(issuer.publicKey.spki)).digest('hex');
    const cacheKey = `ocsp ${target.href} ${keyHash} ${cert.serialNumber.toString(16)}`;
    let answer: OcspAnswer;
    try {
      answer = await this.#shared(cacheKey, () => this.#fetchOcsp(cacheKey, target, cert, issuer));
    } catch (err) {
      return { ok: false, why: `OCSP server ${url}: ${errorMessage(err)}` };
    }
    switch (answer.status) {
      case 'good':
        return { ok: true, result: { status: 'ok', method: 'ocsp' } };
      case 'unknown':
        return { ok: false, why: `OCSP server ${url} does not know the certificate (status unknown)` };
      case 'revoked':
        if (signingTime !== undefined && answer.invalidityDate !== undefined && signingTime.getTime() < answer.invalidityDate.getTime()) {
          return { ok: true, result: { status: 'ok', method: 'ocsp' } };
        }
        return { ok: true, result: { status: 'revoked', method: 'ocsp', revokedAt: answer.revokedAt, reason: reasonName(answer.reason) } };
    }
  }

  async #fetchOcsp(cacheKey: string, url: URL, cert: CertificateInfo, issuer: CertificateInfo): Promise<OcspAnswer> {
    const cached = this.#cache.get(cacheKey);
    const now = this.#options.clock();
    if (cached?.kind === 'ocsp' && now <= cached.answer.nextUpdate.getTime()) return cached.answer;
    // notation-core-go sends short requests with GET; POST (RFC 6960 A.1.1) is what every responder takes.
    const body = await this.#fetch(url, { method: 'POST', body: buildOcspRequest(cert, issuer), contentType: 'application/ocsp-request' });
    const answer = readOcspResponse(body, cert, issuer, this.#options.clock());
    this.#remember(cacheKey, { kind: 'ocsp', answer }, answer.nextUpdate);
    return answer;
  }

  /**
   * notation-core-go crl.CertCheckStatus: every distribution point is read (they may be
   * partitioned CRLs); the first failure makes the status unknown; a revocation found revokes.
   */
  async #crl(cert: CertificateInfo, issuer: CertificateInfo, urls: readonly string[], signingTime: Date | undefined): Promise<RevocationResult> {
    const hasFreshest = cert.extensions.some((e) => e.oid === OID_FRESHEST_CRL);
    for (const url of urls) {
      let bundle: CrlBundle;
      try {
        bundle = await this.#crlBundle(url);
      } catch (err) {
        return this.#crlUnknown(cert, url, `the CRL at ${url} cannot be used: ${errorMessage(err)}`);
      }
      if (hasFreshest && bundle.delta === undefined) {
        return this.#crlUnknown(cert, url, `the certificate names a freshest (delta) CRL that the CRL at ${url} does not: not supported`);
      }
      const problem = bundleProblem(bundle, issuer, this.#options.clock());
      if (problem !== undefined) return this.#crlUnknown(cert, url, `the CRL from ${url} cannot be used: ${problem}`);
      let status;
      try {
        status = crlLookup(bundle, cert.serialNumber, signingTime);
      } catch (err) {
        return this.#crlUnknown(cert, url, `the CRL from ${url}: ${errorMessage(err)}`);
      }
      if (status.status === 'revoked') return { status: 'revoked', method: 'crl', revokedAt: status.revokedAt, reason: reasonName(status.reason) };
    }
    return { status: 'ok', method: 'crl' };
  }

  #crlUnknown(cert: CertificateInfo, url: string, why: string): RevocationResult {
    this.#options.logger.debug({ subject: cert.subject.text, url, why }, 'CRL check gave no usable answer');
    return { status: 'unknown', why };
  }

  /** The base CRL at `url` with the delta CRL it names (notation-core-go HTTPFetcher.Fetch), cached while current. */
  async #crlBundle(url: string): Promise<CrlBundle> {
    const target = this.#endpoint(url, 'CRL distribution point');
    if (typeof target === 'string') throw new Error(target);
    const cacheKey = `crl ${target.href}`;
    return this.#shared(cacheKey, async () => {
      const cached = this.#cache.get(cacheKey);
      const now = this.#options.clock();
      if (cached?.kind === 'crl' && crlCurrent(cached.bundle.base, now) && (cached.bundle.delta === undefined || crlCurrent(cached.bundle.delta, now))) {
        return cached.bundle;
      }
      const base = parseCrl(await this.#fetch(target, { method: 'GET' }));
      const delta = base.freshest.length > 0 ? await this.#deltaCrl(base.freshest) : undefined;
      const bundle: CrlBundle = { base, delta };
      const until = [base.nextUpdate, delta?.nextUpdate].filter((d): d is Date => d !== undefined);
      if (base.nextUpdate !== undefined && (delta === undefined || delta.nextUpdate !== undefined)) {
        this.#remember(cacheKey, { kind: 'crl', bundle }, new Date(Math.min(...until.map((d) => d.getTime()))));
      }
      return bundle;
    });
  }

  /** RFC 5280 5.2.6: the FreshestCRL URLs are alternatives for one delta CRL; the first that works is used. */
  async #deltaCrl(urls: readonly string[]): Promise<ParsedCrl> {
    let last: unknown;
    for (const url of urls) {
      const target = this.#endpoint(url, 'delta CRL distribution point');
      if (typeof target === 'string') {
        last = new Error(target);
        continue;
      }
      try {
        return parseCrl(await this.#fetch(target, { method: 'GET' }));
      } catch (err) {
        last = err;
      }
    }
    throw new Error(`no delta CRL could be fetched: ${errorMessage(last)}`);
  }

  /** The URL when Signet may fetch it, else why not. */
  #endpoint(url: string, what: string): URL | string {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return `${what} ${JSON.stringify(url)} is not a valid URL`;
    }
    if (parsed.protocol !== 'http:') return `${what} ${url}: only http URLs are supported for revocation checks (not ${parsed.protocol.slice(0, -1)})`;
    if (!this.#allowed(parsed)) return `revocation endpoint ${url} is not in trust.revocation.allowedHosts`;
    return parsed;
  }

  async #fetch(url: URL, init: { method: 'GET' | 'POST'; body?: Uint8Array; contentType?: string }): Promise<Buffer> {
    const { timeoutMs, maxResponseBytes } = this.#options;
    const res = await this.#options.fetch(url, { ...init, timeoutMs, maxBytes: maxResponseBytes });
    if (res.status !== 200) throw new Error(`the server answered HTTP ${res.status}`);
    if (res.body.length > maxResponseBytes) throw new Error(`the answer is larger than ${maxResponseBytes} bytes`);
    return res.body;
  }

  #remember(key: string, value: CacheValue, until: Date): void {
    const ttl = until.getTime() - this.#options.clock();
    if (ttl > 0) this.#cache.set(key, value, { ttl });
  }

  /** Runs `work` once for concurrent callers of the same key. */
  #shared<T>(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.#inflight.get(key);
    if (running !== undefined) return running as Promise<T>;
    const promise = work().finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, promise);
    return promise;
  }
}

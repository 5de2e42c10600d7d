import type { Logger } from 'pino';
import { DEFAULTS } from '../../config/defaults.js';
import type { NotaryServerConfig } from '../../config/load.js';
import { errorMessage } from '../../errors.js';
import { Denial } from '../source.js';
import { UpstreamClient, header, type UpstreamObserver } from '../../registry/upstream-client.js';
import { destroyBody, releaseBody } from '../../registry/upstream-body.js';
import { TrustError } from './errors.js';

/** Why a download produced no bytes: the server has no such file, or could not be reached. */
export type FetchOutcome = { kind: 'ok'; bytes: Buffer } | { kind: 'not_found' } | { kind: 'unavailable'; message: string };

export interface MetadataFetcher {
  /** Downloads `<server>/v2/<gun>/_trust/tuf/<file>`, refusing more than `maxBytes`. */
  fetch(gun: string, file: string, maxBytes: number): Promise<FetchOutcome>;
}

/**
 * Notary server client (storage/httpstore.go): metadata files by role name, by consistent
 * name (`<role>.<sha256hex>.json`) or by version (`<N>.root.json`). Auth, retries and timeouts
 * come from the registry client, which speaks the same Docker token flow (scope
 * `repository:<gun>:pull`). `length` is a download cap: a bigger Content-Length or body is
 * refused as `too_large` before or while reading.
 */
export class NotaryRemote implements MetadataFetcher {
  readonly #client: UpstreamClient;

  constructor(server: NotaryServerConfig, options: { logger: Logger; observer?: UpstreamObserver }) {
    this.#client = new UpstreamClient(
      {
        name: `notary ${server.url.host}`,
        url: server.url,
        credentials: server.credentials,
        timeouts: { connectMs: DEFAULTS.notary.connectTimeoutMs, responseMs: DEFAULTS.notary.responseTimeoutMs, idleMs: DEFAULTS.notary.idleTimeoutMs },
        retries: { max: DEFAULTS.notary.retries, baseDelayMs: DEFAULTS.notary.retryBaseDelayMs, maxDelayMs: DEFAULTS.notary.retryMaxDelayMs },
        maxRedirects: 0,
        ca: server.ca,
        allowedHosts: server.allowedHosts,
        allowPrivateAddresses: server.allowPrivateAddresses,
        officialNamespace: undefined,
        trust: { notary: undefined },
      },
      { logger: options.logger, configPath: server.path ?? 'the trust server config', ...(options.observer ? { observer: options.observer } : {}) },
    );
  }

  async close(): Promise<void> {
    await this.#client.close();
  }

  async fetch(gun: string, file: string, maxBytes: number): Promise<FetchOutcome> {
    let res;
    try {
      res = await this.#client.request({ method: 'GET', path: `/v2/${gun}/_trust/tuf/${file}`, repository: gun });
    } catch (err) {
      return { kind: 'unavailable', message: errorMessage(err) };
    }
    // Error bodies are dropped, not drained: a hostile server's endless body costs nothing.
    if (res.status === 404) {
      releaseBody(res.body, res.headers);
      return { kind: 'not_found' };
    }
    if (res.status !== 200) {
      releaseBody(res.body, res.headers);
      if (res.status === 401 || res.status === 403) {
        throw new Denial(
          'trust_unavailable',
          `trust server ${this.#client.baseUrl.origin} refused access to ${gun} (HTTP ${res.status}): check the trust server credentials`,
        );
      }
      return { kind: 'unavailable', message: `trust server answered HTTP ${res.status} for ${file}` };
    }
    const announced = Number(header(res.headers, 'content-length'));
    if (Number.isFinite(announced) && announced > maxBytes) {
      destroyBody(res.body);
      throw new TrustError('too_large', `${file} of ${gun} is ${announced} bytes, over the ${maxBytes}-byte limit`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        const buf = chunk as Buffer;
        size += buf.length;
        if (size > maxBytes) {
          destroyBody(res.body);
          throw new TrustError('too_large', `${file} of ${gun} is more than ${maxBytes} bytes`);
        }
        chunks.push(buf);
      }
    } catch (err) {
      if (err instanceof TrustError) throw err;
      return { kind: 'unavailable', message: `download of ${file} failed: ${errorMessage(err)}` };
    }
    return { kind: 'ok', bytes: Buffer.concat(chunks) };
  }
}

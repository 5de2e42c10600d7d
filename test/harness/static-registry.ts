import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sha256Digest } from './streams.js';

/**
 * A read-only registry that serves fixed manifests, for the few cases the real one cannot
 * produce: distribution 2.8.2 refuses to store a manifest over 4 MiB (PUT: "http: request body
 * too large") and even to read one planted in its storage ("storage: read exceeds limit"), so an
 * upstream that offers an oversized manifest has to be this stand-in.
 */

export interface StaticManifest {
  repo: string;
  tag: string;
  bytes: Buffer;
  mediaType: string;
}

export interface StaticRegistry {
  readonly url: string;
  readonly host: string;
  /** Requests received so far. */
  requests(): Array<{ method: string; path: string }>;
  stop(): Promise<void>;
}

export async function startStaticRegistry(manifests: StaticManifest[]): Promise<StaticRegistry> {
  const log: Array<{ method: string; path: string }> = [];
  const byRef = new Map<string, StaticManifest>();
  for (const m of manifests) {
    byRef.set(`${m.repo}:${m.tag}`, m);
    byRef.set(`${m.repo}@${sha256Digest(m.bytes)}`, m);
  }
  const error = (res: ServerResponse, status: number, code: string, message: string): void => {
    const body = JSON.stringify({ errors: [{ code, message }] });
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    log.push({ method: req.method ?? '', path });
    res.setHeader('docker-distribution-api-version', 'registry/2.0');
    if (req.method !== 'GET' && req.method !== 'HEAD') return error(res, 405, 'UNSUPPORTED', 'read-only');
    if (path === '/v2/') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
      res.end(req.method === 'HEAD' ? undefined : '{}');
      return;
    }
    const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    const found = m ? byRef.get(`${m[1]}${m[2]?.includes(':') ? '@' : ':'}${m[2]}`) : undefined;
    if (!found) return error(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
    res.writeHead(200, {
      'content-type': found.mediaType,
      'content-length': found.bytes.length,
      'docker-content-digest': sha256Digest(found.bytes),
    });
    res.end(req.method === 'HEAD' ? undefined : found.bytes);
  };
  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests: () => [...log],
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

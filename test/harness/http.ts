import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';

/**
 * HTTP the way hostile or unusual clients send it: request paths exactly as given (fetch and
 * the URL class would normalise `..` away), raw bytes over a socket (for oversized headers),
 * and requests that tell a complete body from one cut short (fetch only throws).
 */

export interface RawReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request with `path` sent verbatim. */
export function rawRequest(origin: string, method: string, path: string, headers: Record<string, string> = {}): Promise<RawReply> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', reject);
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.once('error', reject);
    req.end();
  });
}

export interface CutAwareReply extends RawReply {
  /** The whole message (Content-Length or the chunked terminator) arrived. */
  complete: boolean;
  /** The response stream's error, when the connection broke mid-body. */
  error: Error | undefined;
}

export interface CutAwareOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Called with the number of body bytes received so far, after every chunk. */
  onData?: (received: number) => void;
}

/**
 * One request on a fresh connection; resolves once the response is over, however it ended,
 * with what arrived. Rejects only when no response arrived at all.
 */
export function cutAwareRequest(url: string, options: CutAwareOptions = {}): Promise<CutAwareReply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let received = 0;
      let error: Error | undefined;
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
        options.onData?.(received);
      });
      res.on('error', (err) => {
        error = err;
      });
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete, error }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Writes `head` (a request head without the final CRLF CRLF) to a raw socket and parses what
 * arrives until the server closes the connection (the server may close before it has read all
 * we sent: whatever arrived counts).
 */
export function rawSocketRequest(origin: string, head: string): Promise<RawReply> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {
      // ECONNRESET/EPIPE after an early answer: judged by what was received
    });
    socket.once('close', () => {
      const data = Buffer.concat(chunks);
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) {
        reject(new Error(`no HTTP answer (received ${data.length} bytes: ${JSON.stringify(data.toString('latin1').slice(0, 200))})`));
        return;
      }
      const lines = data.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
      const headers: IncomingHttpHeaders = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status, headers, body: data.subarray(end + 4) });
    });
    socket.once('connect', () => {
      // No half-close: Node's HTTP server aborts a request whose client has ended its side.
      // `Connection: close` makes the server close once it has answered.
      socket.write(`${head}\r\nConnection: close\r\n\r\n`);
    });
  });
}

export interface OciError {
  code: string;
  message: string;
}

/**
 * Asserts an OCI error answer: one of `statuses`, a JSON body `{"errors":[{code,message}]}`
 * whose first code is one of `codes` (any code when omitted). Returns the first error.
 */
export function assertOciError(
  reply: { status: number; headers: IncomingHttpHeaders | Headers; body: Buffer | string },
  statuses: number | number[],
  codes?: string[],
): OciError {
  const allowed = Array.isArray(statuses) ? statuses : [statuses];
  const text = Buffer.isBuffer(reply.body) ? reply.body.toString('utf8') : reply.body;
  assert.ok(allowed.includes(reply.status), `expected HTTP ${allowed.join('/')}, got ${reply.status}: ${text.slice(0, 500)}`);
  const type = reply.headers instanceof Headers ? reply.headers.get('content-type') : reply.headers['content-type'];
  assert.match(String(type), /json/, `error content-type is ${String(type)}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    assert.fail(`error body is not JSON: ${text.slice(0, 500)}`);
  }
  const errors = (parsed as { errors?: unknown }).errors;
  assert.ok(Array.isArray(errors) && errors.length > 0, `no errors[] in ${text}`);
  const first = errors[0] as { code?: unknown; message?: unknown };
  assert.equal(typeof first.code, 'string', `errors[0].code in ${text}`);
  assert.equal(typeof first.message, 'string', `errors[0].message in ${text}`);
  const error = { code: first.code as string, message: first.message as string };
  if (codes) assert.ok(codes.includes(error.code), `expected code ${codes.join('/')}, got ${error.code}: ${error.message}`);
  assert.ok(error.message.length > 0, 'empty error message');
  return error;
}

/** The first error of a `403 DENIED` body with Signet's `detail.reason`. */
export function denialOf(body: Buffer | string): { code: string; message: string; reason: string | undefined } {
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : body;
  const first = (JSON.parse(text) as { errors: Array<{ code: string; message: string; detail?: { reason?: string } }> }).errors[0];
  assert.ok(first, text);
  return { code: first.code, message: first.message, reason: first.detail?.reason };
}

/** GET of a registry path with the manifest media types accepted; the whole body. */
export async function getWithManifestAccept(origin: string, path: string, accept: string): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(`${origin}${path}`, { headers: { accept } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

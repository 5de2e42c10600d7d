import { createHash, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  HashAlgorithm,
  PublicKeyDetails,
  TrustedRoot,
  type CertificateAuthority,
  type TimeRange,
  type TransparencyLogInstance,
} from '@sigstore/protobuf-specs';
// The package index also loads its nock-based helpers, and requiring nock patches node:http for the
// whole process; the services are imported from their own modules and served over a real socket.
import { fulcioHandler, initializeCTLog } from '@sigstore/mock/dist/fulcio/index.js';
import { initializeTLog, rekorHandler } from '@sigstore/mock/dist/rekor/index.js';
import { initializeTSA, tsaHandler } from '@sigstore/mock/dist/timestamp/index.js';
import type { HandlerFn } from '@sigstore/mock/dist/shared.types.js';
import { startFulcioAuthority, type ValidityWindow } from './cosign-fulcio.js';

/**
 * Sigstore's public services, mocked, in the test process: @sigstore/mock's Fulcio handler (over
 * the Fulcio-shaped CA of cosign-fulcio.ts), CT log, Rekor (v1 API: SET and a checkpointed
 * inclusion proof) and RFC 3161 TSA, served over HTTP on loopback so @sigstore/sign's own
 * clients talk to them. Start once per test file and sign as many images as needed;
 * `mockTrustedRoot` gives the `trusted_root.json` that trusts exactly these services.
 */

/** One entry as Rekor's v1 API returns it (`POST /api/v1/log/entries`). */
export interface RekorLogEntry {
  body: string;
  integratedTime: number;
  logID: string;
  logIndex: number;
  verification: { signedEntryTimestamp: string; inclusionProof?: unknown };
}

export interface MockRekor {
  /** Base URL (a RekorWitness's `rekorBaseURL`). */
  readonly url: string;
  /** DER SubjectPublicKeyInfo of the log key (ECDSA P-256). */
  readonly publicKey: Buffer;
  /** sha256 of publicKey: the log ID. */
  readonly logId: Buffer;
  /** Logs a proposed entry (e.g. a hashedrekord) in process. */
  log(proposedEntry: object): Promise<RekorLogEntry>;
}

export interface MockTsa {
  /** The timestamp endpoint (a TSAWitness's `tsaBaseURL`: a URL with a path is used as is). */
  readonly url: string;
  /** DER: the signing certificate, then its root. */
  readonly chain: Buffer[];
}

export interface MockSigstore {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly rekor: MockRekor;
  readonly tsa: MockTsa;
  readonly fulcio: {
    /** DER: intermediate, then root. */
    readonly chain: Buffer[];
    /** The whole chain's validity. */
    readonly validity: ValidityWindow;
    /** Base URL of a Fulcio issuing leaves valid over `window` (default: now, for 10 minutes). */
    url(window?: ValidityWindow): string;
  };
  readonly ctlog: { readonly publicKey: Buffer; readonly logId: Buffer };
  stop(): Promise<void>;
}

const MAX_REQUEST_BYTES = 1024 * 1024;

function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * What Rekor stores for a proposed entry. The mock logs the proposal as sent; Rekor canonicalises a
 * `dsse` 0.0.1 proposal into envelope and payload hashes plus the signatures with their verifiers
 * (rekor pkg/types/dsse/v0.0.1 Canonicalize), and that stored form is what verifiers compare a
 * bundle with. Other kinds (hashedrekord) are stored as proposed.
 */
function asRekorStores(proposed: unknown): unknown {
  const entry = proposed as { apiVersion?: string; kind?: string; spec?: { proposedContent?: { envelope?: string; verifiers?: string[] } } };
  const content = entry.spec?.proposedContent;
  if (entry.kind !== 'dsse' || !content?.envelope) return proposed;
  const envelope = JSON.parse(content.envelope) as { payload: string; signatures: Array<{ sig: string }> };
  const verifiers = content.verifiers ?? [];
  return {
    apiVersion: entry.apiVersion,
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256Hex(content.envelope) },
      payloadHash: { algorithm: 'sha256', value: sha256Hex(Buffer.from(envelope.payload, 'base64')) },
      signatures: envelope.signatures.map((sig, i) => ({ signature: sig.sig, verifier: verifiers[i] ?? verifiers[0] ?? '' })),
    },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function p256(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/**
 * The mock TSA stamps `new Date()`, which asn1js writes as a GeneralizedTime with trailing zeros of
 * the milliseconds dropped ("...05.5Z"); @sigstore/core reads only three fractional digits, so one
 * token in ten would not parse. Real TSAs (sigstore's, in Go) stamp whole seconds: so does this one.
 */
function wholeSecondGenTime(tsa: object): void {
  const clocked = tsa as { getCurrentTime?: unknown };
  if (typeof clocked.getCurrentTime !== 'function') throw new Error('@sigstore/mock TSA changed: no getCurrentTime to set');
  clocked.getCurrentTime = () => new Date(Math.floor(Date.now() / 1000) * 1000);
}

/** Starts the mock services on a loopback port. */
export async function startMockSigstore(): Promise<MockSigstore> {
  const routes = new Map<string, HandlerFn>();
  const server: Server = createServer((req, res) => {
    const handler = req.method === 'POST' ? routes.get(req.url ?? '') : undefined;
    if (!handler) {
      req.resume();
      res.writeHead(404).end();
      return;
    }
    readBody(req)
      .then(handler)
      .then(({ statusCode, response, contentType }) => {
        res.writeHead(statusCode, { 'content-type': contentType ?? 'text/plain' });
        res.end(typeof response === 'string' ? response : Buffer.from(response.buffer, response.byteOffset, response.byteLength));
      })
      .catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const ctlogKeys = p256();
    const ctLog = await initializeCTLog(ctlogKeys);
    const authority = await startFulcioAuthority(ctLog);
    const fulcioUrl = (window?: ValidityWindow): string => {
      const id = window ? randomUUID() : 'now';
      const base = `/fulcio/${id}`;
      const path = `${base}/api/v2/signingCert`;
      if (!routes.has(path)) routes.set(path, fulcioHandler(authority.withLeafWindow(window)).fn);
      return `${url}${base}`;
    };

    const rekorKeys = p256();
    // The checkpoint's origin is this URL's host; verifiers match it against the log's baseUrl.
    const tlog = await initializeTLog(url, rekorKeys);
    const rekor = rekorHandler(tlog).fn;
    routes.set('/rekor/api/v1/log/entries', async (body) => rekor(JSON.stringify(asRekorStores(JSON.parse(body)))));
    const rekorDer = rekorKeys.publicKey.export({ format: 'der', type: 'spki' });

    const tsaKeys = p256();
    const tsa = await initializeTSA(tsaKeys);
    wholeSecondGenTime(tsa);
    routes.set('/tsa/api/v1/timestamp', tsaHandler(tsa).fn);
    const view = (v: ArrayBufferView<ArrayBuffer>): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

    return {
      url,
      rekor: {
        url: `${url}/rekor`,
        publicKey: rekorDer,
        logId: createHash('sha256').update(rekorDer).digest(),
        log: async (proposedEntry) => {
          // The declared type comes from @sigstore/rekor-types, a dev dependency of the mock only.
          const logged: unknown = await tlog.log(asRekorStores(proposedEntry) as object);
          const entry = Object.values(logged as Record<string, unknown>)[0];
          if (!entry) throw new Error('mock Rekor returned no entry');
          return entry as RekorLogEntry;
        },
      },
      tsa: { url: `${url}/tsa/api/v1/timestamp`, chain: [view(tsa.intCertificate), view(tsa.rootCertificate)] },
      fulcio: { chain: authority.chain, validity: authority.validity, url: fulcioUrl },
      ctlog: { publicKey: ctLog.publicKey, logId: view(ctLog.logID) },
      stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  } catch (err) {
    server.close();
    throw err;
  }
}

export type TrustedRootPart = 'ca' | 'tlog' | 'ctlog' | 'tsa';

export interface TrustedRootOptions {
  /** `validFor` of each part; default: from the Fulcio chain's notBefore (a day ago), open-ended. */
  validFor?: Partial<Record<TrustedRootPart, { start: Date; end?: Date }>>;
  /** Parts to leave out (e.g. `['tlog']`: a root that trusts no transparency log). */
  omit?: TrustedRootPart[];
}

/**
 * The `trusted_root.json` content (protobuf-specs TrustedRoot, JSON form as sigstore's TUF
 * repository serves it) trusting `sigstore`'s Fulcio chain, Rekor key, CT log key and TSA chain.
 */
export function mockTrustedRoot(sigstore: MockSigstore, opts: TrustedRootOptions = {}): unknown {
  const omit = new Set(opts.omit ?? []);
  const range = (part: TrustedRootPart): TimeRange => {
    const r = opts.validFor?.[part] ?? { start: sigstore.fulcio.validity.notBefore };
    return { start: r.start, end: r.end };
  };
  const ca = (part: TrustedRootPart, commonName: string, uri: string, chain: Buffer[]): CertificateAuthority => ({
    subject: { organization: 'sigstore.mock', commonName },
    uri,
    certChain: { certificates: chain.map((rawBytes) => ({ rawBytes })) },
    validFor: range(part),
    operator: 'sigstore.mock',
  });
  const log = (part: TrustedRootPart, baseUrl: string, publicKey: Buffer, logId: Buffer): TransparencyLogInstance => ({
    baseUrl,
    hashAlgorithm: HashAlgorithm.SHA2_256,
    publicKey: { rawBytes: publicKey, keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256, validFor: range(part) },
    logId: { keyId: logId },
    checkpointKeyId: undefined,
    operator: 'sigstore.mock',
  });
  return TrustedRoot.toJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: omit.has('tlog') ? [] : [log('tlog', sigstore.rekor.url, sigstore.rekor.publicKey, sigstore.rekor.logId)],
    certificateAuthorities: omit.has('ca') ? [] : [ca('ca', 'sigstore', `${sigstore.url}/fulcio`, sigstore.fulcio.chain)],
    ctlogs: omit.has('ctlog') ? [] : [log('ctlog', `${sigstore.url}/ctlog`, sigstore.ctlog.publicKey, sigstore.ctlog.logId)],
    timestampAuthorities: omit.has('tsa') ? [] : [ca('tsa', 'tsa', sigstore.tsa.url, sigstore.tsa.chain)],
  });
}

/** Writes mockTrustedRoot(...) to `dir`/trusted_root.json (for Signet's `cosign.trustedRoot`); returns the path. */
export async function writeTrustedRoot(sigstore: MockSigstore, dir: string, opts: TrustedRootOptions & { name?: string } = {}): Promise<string> {
  const path = join(dir, opts.name ?? 'trusted_root.json');
  await writeFile(path, `${JSON.stringify(mockTrustedRoot(sigstore, opts), null, 2)}\n`);
  return path;
}

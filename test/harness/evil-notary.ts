import { createHash, createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { basename, join } from 'node:path';
import { canonicalize } from '../../src/trust/notary/canonical-json.js';
import { canonicalKeyId } from '../../src/trust/notary/certificates.js';
import { TrustError } from '../../src/trust/notary/errors.js';
import { keyId, type PublicKeyRecord } from '../../src/trust/notary/keys.js';
import type { FetchOutcome, MetadataFetcher } from '../../src/trust/notary/remote.js';
import { DEFAULT_NOTARY_PASSPHRASES, fetchTufRole, type NotaryPassphrases, type NotaryServerRef } from './notary-cli.js';

/**
 * An "evil" Notary server and the tools to feed it: real metadata captured from a real
 * notary-server (captureRepo), replayed and mixed file by file (repoFiles), re-signed where an
 * attack needs a key the test holds (RepoForger: the notary CLI's own root, targets and snapshot
 * keys, decrypted from its trust dir, plus a timestamp key of the test's, since notary-server
 * never lets a client hold the timestamp key), and served either in-process (ReplayFetcher, a
 * MetadataFetcher) or over HTTP (startEvilNotary, for Signet as a child process).
 *
 * File names are what follows `/v2/<gun>/_trust/tuf/`: `root.json`, `<role>.<sha256hex>.json`,
 * `<N>.root.json`, `targets/releases.json`, ...
 */

/** A file that is too big to hold: `bytes` spaces, with or without a Content-Length. */
export interface OversizeFile {
  readonly oversize: number;
  /** Announce the size in Content-Length (otherwise the body is chunked). */
  readonly announce: boolean;
}

export type ServedFile = Buffer | OversizeFile;
export type TufFiles = Map<string, ServedFile>;

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function isOversize(file: ServedFile): file is OversizeFile {
  return !Buffer.isBuffer(file);
}

// ---------------------------------------------------------------------------------------------
// Real metadata from a real server

export interface CapturedRepo {
  /** Role → the bytes served as `<role>.json` (root, targets, snapshot, timestamp, delegations). */
  readonly parts: Readonly<Record<string, Buffer>>;
  /** Every file a real server serves for this state: plain, consistent and `<N>.root.json` names. */
  readonly files: TufFiles;
  /** Role → `signed.version`. */
  readonly versions: Readonly<Record<string, number>>;
}

interface RawMeta {
  signed: { version: number; meta?: Record<string, { hashes: { sha256: string }; length: number }> };
}

function rawMeta(bytes: Buffer): RawMeta {
  return JSON.parse(bytes.toString('utf8')) as RawMeta;
}

export function versionOf(bytes: Buffer): number {
  return rawMeta(bytes).signed.version;
}

async function get(server: NotaryServerRef, gun: string, role: string): Promise<Buffer> {
  const reply = await fetchTufRole(server, gun, role);
  if (reply.status !== 200) throw new Error(`GET ${role}.json of ${gun}: HTTP ${reply.status}`);
  return reply.body;
}

/**
 * Downloads the current state of `gun` from a real notary-server: timestamp, the snapshot it
 * lists, every role the snapshot lists, each checked against the listed hash (a state caught
 * in the middle of a publish is an error), and every `<N>.root.json` the server still has.
 */
export async function captureRepo(server: NotaryServerRef, gun: string): Promise<CapturedRepo> {
  const parts: Record<string, Buffer> = {};
  parts['timestamp'] = await get(server, gun, 'timestamp');
  const snapshotMeta = rawMeta(parts['timestamp']).signed.meta?.['snapshot'];
  if (!snapshotMeta) throw new Error(`timestamp of ${gun} lists no snapshot`);
  parts['snapshot'] = await get(server, gun, `snapshot.${Buffer.from(snapshotMeta.hashes.sha256, 'base64').toString('hex')}`);
  for (const [role, meta] of Object.entries(rawMeta(parts['snapshot']).signed.meta ?? {})) {
    const hex = Buffer.from(meta.hashes.sha256, 'base64').toString('hex');
    const bytes = await get(server, gun, `${role}.${hex}`);
    if (sha256Hex(bytes) !== hex) throw new Error(`${role} of ${gun} does not match its snapshot hash`);
    parts[role] = bytes;
  }
  const files = repoFiles(parts);
  const rootVersion = versionOf(parts['root'] as Buffer);
  for (let v = 1; v <= rootVersion; v++) {
    const reply = await fetchTufRole(server, gun, `${v}.root`);
    if (reply.status === 200) files.set(`${v}.root.json`, reply.body);
  }
  const versions: Record<string, number> = {};
  for (const [role, bytes] of Object.entries(parts)) versions[role] = versionOf(bytes);
  return { parts, files, versions };
}

/** The files a server would serve for these role files: `<role>.json` and `<role>.<sha256hex>.json`. */
export function repoFiles(parts: Readonly<Record<string, Buffer>>): TufFiles {
  const files: TufFiles = new Map();
  for (const [role, bytes] of Object.entries(parts)) {
    files.set(`${role}.json`, bytes);
    files.set(`${role}.${sha256Hex(bytes)}.json`, bytes);
  }
  return files;
}

// ---------------------------------------------------------------------------------------------
// Signing like Notary

export interface SigningKey {
  readonly keyid: string;
  readonly method: 'ecdsa' | 'eddsa';
  sign(message: Buffer): Buffer;
}

/** A key the test generated, with the public record to put into metadata. */
export interface FreshKey extends SigningKey {
  readonly record: PublicKeyRecord;
  /** The record as JSON metadata carries it. */
  readonly json: { keytype: string; keyval: { private: null; public: string } };
}

/** Signs with `key` the way the notary client does (ECDSA raw r‖s over SHA-256, or ed25519). */
export function signingKey(key: KeyObject, keyid: string): SigningKey {
  if (key.asymmetricKeyType === 'ed25519') return { keyid, method: 'eddsa', sign: (m) => sign(null, m, key) };
  if (key.asymmetricKeyType === 'ec') return { keyid, method: 'ecdsa', sign: (m) => sign('sha256', m, { key, dsaEncoding: 'ieee-p1363' }) };
  throw new Error(`signingKey: unsupported key type ${String(key.asymmetricKeyType)}`);
}

export function freshKey(kind: 'ecdsa' | 'ed25519'): FreshKey {
  const { publicKey, privateKey } = kind === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const record: PublicKeyRecord = kind === 'ed25519' ? { keytype: 'ed25519', public: spki.subarray(spki.length - 32) } : { keytype: 'ecdsa', public: spki };
  const id = keyId(record);
  return { ...signingKey(privateKey, id), record, json: { keytype: record.keytype, keyval: { private: null, public: record.public.toString('base64') } } };
}

export type JsonRecord = Record<string, unknown>;

/** `{"signed":…,"signatures":[…]}` with each key's signature over canonicalize(signed). */
export function signMetadata(signed: JsonRecord, keys: readonly SigningKey[]): Buffer {
  const message = canonicalize(signed);
  const signatures = keys.map((k) => ({ keyid: k.keyid, method: k.method, sig: k.sign(message).toString('base64') }));
  return Buffer.from(JSON.stringify({ signed, signatures }));
}

/** The parsed `signed` object of a metadata file (a fresh copy, free to mutate). */
export function signedOf(file: Buffer): JsonRecord {
  return (JSON.parse(file.toString('utf8')) as { signed: JsonRecord }).signed;
}

/** Parses `file`, lets `mutate` change its `signed` part, and signs the result with `keys`. */
export function resign(file: Buffer, mutate: (signed: JsonRecord) => void, keys: readonly SigningKey[]): Buffer {
  const signed = signedOf(file);
  mutate(signed);
  return signMetadata(signed, keys);
}

/** Replaces the first occurrence of `from` in the raw bytes (no re-signing); throws if absent. */
export function tamper(file: Buffer, from: string, to: string): Buffer {
  const text = file.toString('utf8');
  if (!text.includes(from)) throw new Error(`tamper: ${JSON.stringify(from)} not found`);
  return Buffer.from(text.replace(from, to));
}

/** Keeps only the signatures whose key ID `keep` accepts (the `signed` bytes stay as they are). */
export function dropSignatures(file: Buffer, keep: (keyid: string) => boolean): Buffer {
  const parsed = JSON.parse(file.toString('utf8')) as { signed: unknown; signatures: Array<{ keyid: string }> };
  return Buffer.from(JSON.stringify({ signed: parsed.signed, signatures: parsed.signatures.filter((s) => keep(s.keyid)) }));
}

/** The private keys of a notary client's trust dir (`private/<id>.key`, PKCS#8 encrypted with the role's passphrase). */
export interface NotaryPrivateKey {
  readonly role: string;
  /** The file's name: the key ID for ecdsa keys, the canonical ID for x509 root keys. */
  readonly id: string;
  readonly key: KeyObject;
}

export async function loadNotaryPrivateKeys(trustDir: string, passphrases: NotaryPassphrases = DEFAULT_NOTARY_PASSPHRASES): Promise<NotaryPrivateKey[]> {
  const dir = join(trustDir, 'private');
  const out: NotaryPrivateKey[] = [];
  for (const entry of await readdir(dir, { recursive: true })) {
    const name = entry;
    if (!name.endsWith('.key')) continue;
    const pem = await readFile(join(dir, name), 'utf8');
    const role = /^role: (.+)$/m.exec(pem)?.[1]?.trim() ?? '';
    // OpenSSL wants a bare PEM: drop notary's "role:"/"gun:" headers.
    const bare = pem.replace(/^[a-z]+: .*\r?\n/gm, '').replace(/-----\r?\n\r?\n/, '-----\n');
    const passphrase =
      role === 'root' ? passphrases.root : role === 'targets' ? passphrases.targets : role === 'snapshot' ? passphrases.snapshot : passphrases.delegation;
    out.push({ role, id: basename(name, '.key'), key: createPrivateKey({ key: bare, format: 'pem', passphrase }) });
  }
  return out;
}

/** A delegation key made with openssl (unencrypted PKCS#8, as notary-cli.ts generateDelegationKey writes it). */
export async function delegationSigningKey(keyPath: string, keyid: string): Promise<SigningKey> {
  return signingKey(createPrivateKey(await readFile(keyPath)), keyid);
}

interface RootJson {
  keys: Record<string, { keytype: string; keyval: { public: string } }>;
  roles: Record<string, { keyids: string[]; threshold: number }>;
  version: number;
}

/**
 * Re-signs repositories of one GUN as if the test also held the trust server's keys: a root
 * that names a timestamp key of the test's (signed with the notary client's real root key, so
 * its certificate is the real one), snapshots signed with the client's real snapshot key (the
 * repository must have been made with a client-managed snapshot key: `notary init` without
 * `serverManagedSnapshot`), timestamps with the test's key. Targets and delegation files stay
 * the notary client's own, byte for byte, unless a test changes them.
 */
export class RepoForger {
  readonly timestampKey: FreshKey;
  readonly rootKeys: readonly SigningKey[];
  readonly snapshotKey: SigningKey;
  readonly targetsKey: SigningKey;

  private constructor(keys: { root: SigningKey[]; snapshot: SigningKey; targets: SigningKey }) {
    this.timestampKey = freshKey('ed25519');
    this.rootKeys = keys.root;
    this.snapshotKey = keys.snapshot;
    this.targetsKey = keys.targets;
  }

  /** Finds the keys `realRoot` names among the notary client's private keys in `trustDir`. */
  static async fromTrustDir(trustDir: string, realRoot: Buffer, passphrases?: NotaryPassphrases): Promise<RepoForger> {
    const keys = await loadNotaryPrivateKeys(trustDir, passphrases);
    const root = signedOf(realRoot) as unknown as RootJson;
    const find = (role: string): SigningKey[] => {
      const found: SigningKey[] = [];
      for (const id of root.roles[role]?.keyids ?? []) {
        const k = root.keys[id];
        if (!k) continue;
        const record: PublicKeyRecord = { keytype: k.keytype, public: Buffer.from(k.keyval.public, 'base64') };
        const fileId = k.keytype.endsWith('-x509') ? canonicalKeyId(record) : id;
        const priv = keys.find((p) => p.id === fileId);
        if (priv) found.push(signingKey(priv.key, id));
      }
      if (found.length === 0) throw new Error(`RepoForger: no private key of role ${role} in ${trustDir} (is the snapshot key client-managed?)`);
      return found;
    };
    const [snapshot] = find('snapshot');
    const [targets] = find('targets');
    if (!snapshot || !targets) throw new Error('RepoForger: missing keys');
    return new RepoForger({ root: find('root'), snapshot, targets });
  }

  /** `realRoot` with the timestamp role moved to the test's key, re-signed by the real root key(s). */
  root(realRoot: Buffer, mutate: (signed: JsonRecord) => void = () => undefined): Buffer {
    return resign(
      realRoot,
      (signed) => {
        const s = signed as unknown as RootJson & { keys: Record<string, unknown> };
        const oldTimestampKeys = new Set(s.roles['timestamp']?.keyids ?? []);
        s.keys = Object.fromEntries(Object.entries(s.keys).filter(([id]) => !oldTimestampKeys.has(id)));
        s.keys[this.timestampKey.keyid] = this.timestampKey.json;
        s.roles['timestamp'] = { keyids: [this.timestampKey.keyid], threshold: 1 };
        mutate(signed);
      },
      this.rootKeys,
    );
  }

  /** A snapshot listing exactly `files` (role → bytes), signed with the real snapshot key. */
  snapshot(files: Readonly<Record<string, Buffer>>, opts: { version: number; expires: Date }): Buffer {
    const meta: Record<string, unknown> = {};
    for (const [role, bytes] of Object.entries(files)) meta[role] = fileMeta(bytes);
    return signMetadata({ _type: 'Snapshot', expires: opts.expires.toISOString(), meta, version: opts.version }, [this.snapshotKey]);
  }

  /** A timestamp listing `snapshot`, signed with the test's timestamp key. */
  timestamp(snapshot: Buffer, opts: { version: number; expires: Date }, keys: readonly SigningKey[] = [this.timestampKey]): Buffer {
    return signMetadata({ _type: 'Timestamp', expires: opts.expires.toISOString(), meta: { snapshot: fileMeta(snapshot) }, version: opts.version }, keys);
  }

  /**
   * A whole repository: `roles` (root, targets, delegations) as given, a snapshot listing them
   * (unless `snapshot` is given) and a timestamp listing that snapshot (unless given).
   */
  publish(
    roles: Readonly<Record<string, Buffer>>,
    opts: { version: number; expires: Date; timestampExpires?: Date; snapshot?: Buffer; timestamp?: Buffer },
  ): { parts: Record<string, Buffer>; files: TufFiles } {
    const snapshot = opts.snapshot ?? this.snapshot(roles, opts);
    const timestamp = opts.timestamp ?? this.timestamp(snapshot, { version: opts.version, expires: opts.timestampExpires ?? opts.expires });
    const parts = { ...roles, snapshot, timestamp };
    return { parts, files: repoFiles(parts) };
  }
}

/** Snapshot/timestamp `meta` entry of Notary: base64 sha256 and sha512, and the length. */
export function fileMeta(bytes: Buffer): { hashes: { sha256: string; sha512: string }; length: number } {
  return {
    hashes: { sha256: createHash('sha256').update(bytes).digest('base64'), sha512: createHash('sha512').update(bytes).digest('base64') },
    length: bytes.length,
  };
}

// ---------------------------------------------------------------------------------------------
// Serving: in-process

export interface FetchCall {
  readonly gun: string;
  readonly file: string;
  readonly maxBytes: number;
}

/**
 * A MetadataFetcher over a chosen set of files. By default it keeps the MetadataFetcher
 * contract the way NotaryRemote does (more than `maxBytes` → TrustError('too_large')); with
 * `enforceCap: false` it hands over whatever it has, to test the updater's own checks.
 */
export class ReplayFetcher implements MetadataFetcher {
  files: TufFiles;
  /** When set, every fetch answers `unavailable` (trust server down). */
  down = false;
  enforceCap: boolean;
  readonly calls: FetchCall[] = [];

  constructor(files: TufFiles = new Map(), opts: { enforceCap?: boolean } = {}) {
    this.files = new Map(files);
    this.enforceCap = opts.enforceCap ?? true;
  }

  /** Replaces the served set (a copy) and forgets the calls seen so far. */
  serve(files: TufFiles): this {
    this.files = new Map(files);
    this.calls.length = 0;
    return this;
  }

  /** File names fetched since the last serve()/reset(), in order. */
  fetched(): string[] {
    return this.calls.map((c) => c.file);
  }

  reset(): void {
    this.calls.length = 0;
  }

  async fetch(gun: string, file: string, maxBytes: number): Promise<FetchOutcome> {
    this.calls.push({ gun, file, maxBytes });
    if (this.down) return { kind: 'unavailable', message: 'connect ECONNREFUSED 127.0.0.1 (ReplayFetcher is down)' };
    const served = this.files.get(file);
    if (served === undefined) return { kind: 'not_found' };
    const size = isOversize(served) ? served.oversize : served.length;
    if (this.enforceCap && size > maxBytes) throw new TrustError('too_large', `${file} of ${gun} is ${size} bytes, over the ${maxBytes}-byte limit`);
    if (isOversize(served)) return { kind: 'ok', bytes: Buffer.alloc(served.oversize, 0x20) };
    return { kind: 'ok', bytes: served };
  }
}

// ---------------------------------------------------------------------------------------------
// Serving: over HTTP

export interface EvilNotaryRequest {
  readonly gun: string;
  readonly file: string;
}

export interface EvilNotary {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly host: string;
  /** Serves `files` for `gun` from now on (replacing what was served before). */
  serve(gun: string, files: TufFiles): void;
  /** The metadata requests seen (optionally only those of `gun`), in order. */
  requests(gun?: string): EvilNotaryRequest[];
  /** Each OversizeFile response: bytes written, and whether the whole file was (the client read to the end). */
  oversizeResponses(): Array<EvilNotaryRequest & { written: number; complete: boolean }>;
  clearRequests(): void;
  stop(): Promise<void>;
}

const TUF_PATH = /^\/v2\/(.+)\/_trust\/tuf\/(.+)$/;
const CHUNK = Buffer.alloc(64 * 1024, 0x20);

/**
 * A tiny notary-server look-alike on 127.0.0.1 (port chosen by the OS): GET
 * `/v2/<gun>/_trust/tuf/<file>` answers the bytes chosen with serve(), 404 otherwise; an
 * OversizeFile is streamed (with or without Content-Length) until done or the client hangs up.
 */
export async function startEvilNotary(): Promise<EvilNotary> {
  const repos = new Map<string, TufFiles>();
  const seen: EvilNotaryRequest[] = [];
  const oversized: Array<EvilNotaryRequest & { written: number; complete: boolean }> = [];
  const sockets = new Set<Socket>();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    const m = TUF_PATH.exec(path);
    if (req.method !== 'GET' || !m) {
      res.writeHead(req.url === '/_notary_server/health' ? 200 : 404, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    const [, gun = '', file = ''] = m;
    seen.push({ gun, file });
    const served = repos.get(gun)?.get(file);
    if (served === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"METADATA_NOT_FOUND"}]}');
      return;
    }
    if (!isOversize(served)) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': served.length }).end(served);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', ...(served.announce ? { 'content-length': served.oversize } : {}) });
    const record = { gun, file, written: 0, complete: false };
    oversized.push(record);
    let left = served.oversize;
    const pump = (): void => {
      while (left > 0 && !res.destroyed) {
        const n = Math.min(left, CHUNK.length);
        left -= n;
        record.written += n;
        if (!res.write(CHUNK.subarray(0, n))) {
          res.once('drain', pump);
          return;
        }
      }
      if (!res.destroyed) res.end(() => (record.complete = true));
    };
    res.on('error', () => undefined);
    pump();
  };

  const server = createServer(handle);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    serve: (gun, files) => {
      repos.set(gun, new Map(files));
    },
    requests: (gun) => seen.filter((r) => gun === undefined || r.gun === gun),
    oversizeResponses: () => oversized.map((r) => ({ ...r })),
    clearRequests: () => {
      seen.length = 0;
      oversized.length = 0;
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

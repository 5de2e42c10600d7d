/**
 * Notation trust stores: named collections of trusted root certificates, laid out as
 * `<truststore>/x509/{ca,signingAuthority,tsa}/<name>/<files>` (notaryproject/specifications
 * specs/trust-store-trust-policy.md, "Trust Store"), read the way notation-go reads one named
 * store (verifier/truststore/truststore.go GetCertificates; notation-core-go x509/cert.go
 * ReadCertificateFile):
 * - the named store must be a directory, not a symlink, and hold at least one certificate;
 * - every entry of it is read, whatever its extension; a sub-directory or a symlink in it is an
 *   error (notation-go is stricter than the specification's "ignored" here, and Signet follows it);
 * - a file is PEM when Go's pem.Decode finds a block in it (then every block is parsed as a
 *   certificate, whatever its label), otherwise concatenated DER certificates; an empty file is
 *   an error;
 * - every certificate is a CA certificate or self-signed (ValidateCertificates); a `tsa` store
 *   holds root CA certificates only (isRootCACertificate).
 * notation-go reads a store when a signature needs it; Signet reads them when its configuration
 * loads, so that a broken store is a configuration error rather than a denial.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { DEFAULTS } from '../../config/defaults.js';
import { SignetError } from '../../errors.js';
import { KEY_USAGE, decodePemBlocks, parseCertificate, type CertificateInfo } from '../x509/index.js';
import type { TrustStoreSet, TrustStoreType } from './types.js';

const TYPES: readonly TrustStoreType[] = ['ca', 'signingAuthority', 'tsa'];
/** A named store is a directory name (notation-go internal/file IsValidFileName). */
const STORE_NAME = /^[a-zA-Z0-9_.-]+$/;

/** A named store a trust policy references. */
export interface TrustStoreReference {
  readonly type: TrustStoreType;
  readonly name: string;
}

/** One PEM file of a store given inline in Signet's configuration, already read. */
export interface InlineTrustStoreFile {
  readonly path: string;
  readonly pem: string;
}

/**
 * Reads the trust stores under `dir` (a notation `truststore` directory holding `x509/`).
 * With `references` (the stores a trust policy names), exactly those are read, as notation-go
 * would read them, and one that is missing is an error; other entries are not looked at, as by
 * notation. Without, every store of `x509/ca`, `x509/signingAuthority` and `x509/tsa` is read
 * (other entries of `x509/` are ignored). Throws SignetError('CONFIG_INVALID') naming the path
 * and what to fix.
 */
export function loadTrustStoreDirectory(dir: string, where: string, references?: Iterable<TrustStoreReference>): TrustStoreSet {
  const fail: Fail = failer(where);
  const root = statOrUndefined(dir, fail);
  if (root === undefined) fail(`trust store directory ${dir} does not exist: create it, or point the configuration at notation's truststore directory`);
  if (!root.isDirectory()) fail(`${dir} is not a directory: point the configuration at a trust store directory (the one holding x509/)`);

  const loader = new Loader(fail);
  const x509 = join(dir, 'x509');
  if (references !== undefined) {
    for (const { type, name } of references) {
      if (!TYPES.includes(type)) fail(`unsupported trust store type ${JSON.stringify(type)}: use ${TYPES.join(', ')}`);
      if (!STORE_NAME.test(name)) fail(`unsupported trust store name ${JSON.stringify(name)}: a store name is made of [a-zA-Z0-9_.-]`);
      if (!loader.has(type, name)) loader.add(type, name, readStoreDirectory(join(x509, type, name), type, name, loader, fail));
    }
    return loader.result();
  }
  const x509Stat = statOrUndefined(x509, fail);
  if (x509Stat === undefined) return loader.result();
  if (!x509Stat.isDirectory()) fail(`${x509} is not a directory: it must hold the ca, signingAuthority and tsa store directories`);
  for (const type of TYPES) {
    const typeDir = join(x509, type);
    const typeStat = statOrUndefined(typeDir, fail);
    if (typeStat === undefined) continue;
    if (!typeStat.isDirectory()) fail(`${typeDir} is not a directory: it must hold one directory per named ${type} store`);
    for (const name of sortedEntries(typeDir, fail)) {
      const storeDir = join(typeDir, name);
      if (!STORE_NAME.test(name)) fail(`${storeDir}: ${JSON.stringify(name)} is not a valid trust store name ([a-zA-Z0-9_.-]): rename or remove it`);
      loader.add(type, name, readStoreDirectory(storeDir, type, name, loader, fail));
    }
  }
  return loader.result();
}

/**
 * The same stores given inline: type → store name → the PEM files of that store, already read.
 * Every store is validated as a directory store is (notation-go reads a DER file too; inline
 * files are text, so they must be PEM). Throws SignetError('CONFIG_INVALID').
 */
export function trustStoreFromInline(
  stores: Partial<Record<TrustStoreType, Readonly<Record<string, readonly InlineTrustStoreFile[]>>>>,
  where: string,
): TrustStoreSet {
  const fail: Fail = failer(where);
  const loader = new Loader(fail);
  for (const [type, named] of Object.entries(stores) as Array<[string, unknown]>) {
    if (!(TYPES as readonly string[]).includes(type)) fail(`${type}: unsupported trust store type: use ${TYPES.join(', ')}`);
    if (named === undefined) continue;
    if (typeof named !== 'object' || named === null || Array.isArray(named)) fail(`${type}: must map store names to lists of PEM files`);
    for (const [name, files] of Object.entries(named as Record<string, unknown>)) {
      const at = `${type}.${name}`;
      if (!STORE_NAME.test(name)) fail(`${at}: ${JSON.stringify(name)} is not a valid trust store name: use [a-zA-Z0-9_.-] only`);
      if (!Array.isArray(files)) fail(`${at}: must be a list of PEM files`);
      const certificates: CertificateInfo[] = [];
      for (const [i, file] of (files as unknown[]).entries()) {
        const { path, pem } = (file ?? {}) as Partial<InlineTrustStoreFile>;
        if (typeof path !== 'string' || typeof pem !== 'string') fail(`${at}[${i}]: must be a PEM file ({path, pem})`);
        const label = `${at}[${i}] (${path})`;
        if (Buffer.byteLength(pem) > DEFAULTS.notationTrustStoreFileMaxBytes)
          fail(`${label}: larger than ${DEFAULTS.notationTrustStoreFileMaxBytes} bytes: keep only the root certificates the store needs`);
        const blocks = pemBlocks(pem, loader, label);
        if (blocks === undefined || blocks.length === 0)
          fail(`${label}: no PEM certificate in it: give the store's root certificates as PEM ("-----BEGIN CERTIFICATE-----")`);
        const parsed = blocks.map((bytes, j) => parseOne(bytes, `${label}: certificate ${j + 1}`, fail));
        validate(parsed, type as TrustStoreType, label, fail);
        certificates.push(...parsed);
      }
      if (certificates.length === 0) fail(`${at}: the store has no certificates: list its root certificate files, or remove the store`);
      loader.add(type as TrustStoreType, name, certificates);
    }
  }
  return loader.result();
}

// ---------------------------------------------------------------------------------------------

type Fail = (message: string, cause?: unknown) => never;

function failer(where: string): Fail {
  return (message, cause) => {
    throw new SignetError('CONFIG_INVALID', `${where}: ${message}`, cause === undefined ? {} : { cause });
  };
}

/** Collects stores, counting certificates against the limit. */
class Loader {
  readonly #stores = new Map<string, { type: TrustStoreType; name: string; certificates: readonly CertificateInfo[] }>();
  readonly #fail: Fail;
  count = 0;

  constructor(fail: Fail) {
    this.#fail = fail;
  }

  /** How many more certificates may be read. */
  get left(): number {
    return DEFAULTS.notationTrustStoreMaxCertificates - this.count;
  }

  take(n: number, label: string): void {
    this.count += n;
    if (this.count > DEFAULTS.notationTrustStoreMaxCertificates) {
      this.#fail(
        `${label}: more than ${DEFAULTS.notationTrustStoreMaxCertificates} certificates in the trust stores: keep only the root certificates the trust policy needs`,
      );
    }
  }

  has(type: TrustStoreType, name: string): boolean {
    return this.#stores.has(`${type}:${name}`);
  }

  add(type: TrustStoreType, name: string, certificates: readonly CertificateInfo[]): void {
    this.#stores.set(`${type}:${name}`, { type, name, certificates: Object.freeze([...certificates]) });
  }

  result(): TrustStoreSet {
    const stores = new Map(this.#stores);
    return Object.freeze({
      get: (type: TrustStoreType, name: string) => stores.get(`${type}:${name}`)?.certificates,
      names: () => [...stores.values()].map(({ type, name, certificates }) => ({ type, name, count: certificates.length })),
    });
  }
}

/** truststore.go GetCertificates for one named store directory. */
function readStoreDirectory(path: string, type: TrustStoreType, name: string, loader: Loader, fail: Fail): CertificateInfo[] {
  let stat: Stats;
  try {
    stat = lstatSync(path);
  } catch (err) {
    if (isNotFound(err)) fail(`the ${type} trust store ${JSON.stringify(name)} does not exist: create ${path} with its root certificates`, err);
    return fail(`cannot access trust store ${path}: ${(err as Error).message}`, err);
  }
  if (stat.isSymbolicLink() || !stat.isDirectory()) {
    fail(`${path} is not a regular directory (symlinks are not supported): make the trust store a directory holding certificate files`);
  }
  const certificates: CertificateInfo[] = [];
  for (const entry of sortedEntries(path, fail)) {
    const file = join(path, entry);
    const entryStat = lstatOrFail(file, fail);
    if (entryStat.isDirectory() || entryStat.isSymbolicLink()) {
      fail(`${file} is not a regular file (directories and symlinks are not supported in a trust store): move it out of ${path}, or copy the certificate in`);
    }
    if (!entryStat.isFile()) fail(`${file} is not a regular file: a trust store holds certificate files only`);
    const bytes = readLimited(file, fail);
    const parsed = parseFile(bytes, file, loader, fail);
    validate(parsed, type, file, fail);
    certificates.push(...parsed);
  }
  if (certificates.length === 0)
    fail(`no certificates in the ${type} trust store ${JSON.stringify(name)} (${path}): add its root certificates (PEM or DER files)`);
  return certificates;
}

/** notation-core-go parseCertificates: PEM when a PEM block is found, else concatenated DER. */
function parseFile(bytes: Buffer, file: string, loader: Loader, fail: Fail): CertificateInfo[] {
  const blocks = pemBlocks(bytes, loader, file);
  if (blocks !== undefined && blocks.length > 0) return blocks.map((der, i) => parseOne(der, `${file}: PEM block ${i + 1}`, fail));
  if (bytes.length === 0) fail(`${file} is empty: remove it, or put the store's root certificates in it`);
  const elements: Buffer[] = [];
  for (let offset = 0; offset < bytes.length;) {
    const end = derElementEnd(bytes, offset);
    if (end === undefined) fail(`${file} is neither PEM nor DER certificates: a trust store file holds certificates only`);
    elements.push(bytes.subarray(offset, end));
    loader.take(1, file);
    offset = end;
  }
  return elements.map((der, i) => parseOne(der, `${file}: DER certificate ${i + 1}`, fail));
}

/** Decoded PEM blocks, counted against the certificate limit; undefined when there are none. */
function pemBlocks(text: Buffer | string, loader: Loader, label: string): Buffer[] | undefined {
  const { blocks, truncated } = decodePemBlocks(text, Math.max(loader.left, 0));
  if (truncated) loader.take(loader.left + 1, label);
  if (blocks.length === 0) return undefined;
  loader.take(blocks.length, label);
  return blocks.map((b) => b.bytes);
}

/** The end offset of the DER SEQUENCE at `offset` (tag 0x30, definite length), or undefined. */
function derElementEnd(bytes: Buffer, offset: number): number | undefined {
  if (bytes[offset] !== 0x30) return undefined;
  const first = bytes[offset + 1];
  if (first === undefined) return undefined;
  let length = first;
  let header = 2;
  if (first >= 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4 || offset + 2 + n > bytes.length) return undefined;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (bytes[offset + 2 + i] as number);
    header += n;
  }
  const end = offset + header + length;
  return end <= bytes.length ? end : undefined;
}

function parseOne(der: Uint8Array, label: string, fail: Fail): CertificateInfo {
  try {
    return parseCertificate(der);
  } catch (err) {
    return fail(`${label} is not a certificate notation can read (${(err as Error).message}): a trust store file holds X.509 certificates only`, err);
  }
}

/** truststore.go ValidateCertificates, and isRootCACertificate for `tsa` stores. */
function validate(certificates: readonly CertificateInfo[], type: TrustStoreType, label: string, fail: Fail): void {
  for (const cert of certificates) {
    if (!cert.isCA && !goChecksSignature(cert, cert, true)) {
      fail(
        `${label}: certificate ${subject(cert)} is neither a CA certificate nor a self-signed signing certificate: put the root CA certificate in the trust store instead`,
      );
    }
    if (type === 'tsa') {
      const problem = rootCaProblem(cert);
      if (problem !== undefined)
        fail(`${label}: certificate ${subject(cert)} is not a root CA certificate (${problem}): a tsa store holds the TSA's root CA certificates only`);
    }
  }
}

/** Go's CheckSignatureFrom(cert) and RawSubject == RawIssuer (truststore.go isRootCACertificate). */
function rootCaProblem(cert: CertificateInfo): string | undefined {
  // RFC 5280 4.2.1.9, as Go checks the parent: a v3 certificate needs basicConstraints cA=true.
  if ((cert.version === 3 && cert.basicConstraints === undefined) || (cert.basicConstraints !== undefined && !cert.basicConstraints.ca)) {
    return 'basicConstraints does not say cA=true';
  }
  if (cert.keyUsage !== undefined && cert.keyUsage !== 0 && (cert.keyUsage & KEY_USAGE.keyCertSign) === 0) return 'its keyUsage lacks keyCertSign';
  if (!goChecksSignature(cert, cert, false)) return 'its signature does not verify with its own key with an algorithm Go accepts (no MD5 or SHA-1)';
  if (!cert.subject.der.equals(cert.issuer.der)) return 'its issuer and subject differ';
  return undefined;
}

/** Signature algorithms Go's checkSignature verifies (x509.go signatureAlgorithmDetails, less DSA and MD2/MD5). */
const GO_SIGNATURE_ALGORITHMS = new Set([
  'sha1WithRSAEncryption',
  'sha1WithRSASignature',
  'sha256WithRSAEncryption',
  'sha384WithRSAEncryption',
  'sha512WithRSAEncryption',
  'RSASSA-PSS',
  'ecdsa-with-SHA1',
  'ecdsa-with-SHA256',
  'ecdsa-with-SHA384',
  'ecdsa-with-SHA512',
  'Ed25519',
]);

/**
 * Go's checkSignature of `cert` with `signer`'s key: an algorithm Go verifies, on an RSA, ECDSA
 * or Ed25519 key (the key types Go parses), SHA-1 only where the caller allows it
 * (Certificate.CheckSignature does, CheckSignatureFrom does not).
 */
function goChecksSignature(cert: CertificateInfo, signer: CertificateInfo, allowSha1: boolean): boolean {
  if (!GO_SIGNATURE_ALGORITHMS.has(cert.signatureAlgorithm.name)) return false;
  if (cert.signatureAlgorithm.sha1 && !allowSha1) return false;
  if (!['rsa', 'ecdsa', 'ed25519'].includes(signer.publicKey.algorithm)) return false;
  return cert.verifySignature(signer.publicKey.key);
}

function subject(cert: CertificateInfo): string {
  return JSON.stringify(cert.subject.text);
}

function statOrUndefined(path: string, fail: Fail): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    return fail(`cannot access ${path}: ${(err as Error).message}`, err);
  }
}

function lstatOrFail(path: string, fail: Fail): Stats {
  try {
    return lstatSync(path);
  } catch (err) {
    return fail(`cannot access ${path}: ${(err as Error).message}`, err);
  }
}

/** Directory entries sorted by name bytes, as Go's os.ReadDir returns them. */
function sortedEntries(dir: string, fail: Fail): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    return fail(`cannot read directory ${dir}: ${(err as Error).message}`, err);
  }
  return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** Reads a regular file (never through a symlink) of at most DEFAULTS.notationTrustStoreFileMaxBytes. */
function readLimited(file: string, fail: Fail): Buffer {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    return fail(`cannot read ${file}: ${(err as Error).message}`, err);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) fail(`${file} is not a regular file: a trust store holds certificate files only`);
    if (stat.size > DEFAULTS.notationTrustStoreFileMaxBytes)
      fail(`${file} is larger than ${DEFAULTS.notationTrustStoreFileMaxBytes} bytes: keep only the root certificates the store needs`);
    const buffer = Buffer.alloc(DEFAULTS.notationTrustStoreFileMaxBytes + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > DEFAULTS.notationTrustStoreFileMaxBytes)
        fail(`${file} is larger than ${DEFAULTS.notationTrustStoreFileMaxBytes} bytes: keep only the root certificates the store needs`);
    }
    return buffer.subarray(0, length);
  } catch (err) {
    if (err instanceof SignetError) throw err;
    return fail(`cannot read ${file}: ${(err as Error).message}`, err);
  } finally {
    closeSync(fd);
  }
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

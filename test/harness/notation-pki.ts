import { createPrivateKey, createPublicKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startProcess, runOk, type LongRunning, type RunResult } from './process.js';
import { makeTempDir, removeDir } from './tmp.js';

/**
 * The X.509 material Notation (Notary Project) signatures need, made with the `openssl` CLI
 * the way an operator would: `openssl ca` directories (index.txt, serial, crlnumber) for a root
 * CA, an optional intermediate, leaf signing certificates, a delegated OCSP responder and a
 * timestamping authority (`openssl ts`). Every certificate is issued by `openssl ca` because
 * OpenSSL 3.0 `x509` has no `-not_before/-not_after`; `ca -startdate/-enddate` sets any
 * validity, `ca -revoke` and `ca -gencrl` give CRLs, and the same index.txt feeds
 * `openssl ocsp`. Requirements the certificates meet by default follow
 * notaryproject/specifications signature-specification.md "Certificate Requirements".
 */

export type NotationKeyType = 'rsa2048' | 'rsa3072' | 'rsa4096' | 'ec256' | 'ec384' | 'ec521' | 'rsa1024';
/** The hash the issuer signs a certificate (or CRL) with; sha1 makes a SHA-1-signed certificate. */
export type CertHash = 'sha1' | 'sha256' | 'sha384' | 'sha512';
export type TimestampHash = 'sha256' | 'sha384' | 'sha512';

/** The DN a leaf gets unless told otherwise (Notation's `x509.subject` syntax). */
export const DEFAULT_LEAF_SUBJECT = 'C=US, ST=WA, L=Seattle, O=Signet Test, CN=signer';

export interface CertOptions {
  /** Default ec256 for CAs and the OCSP signer, rsa2048 for leaves and the TSA. */
  keyType?: NotationKeyType;
  /** Notation-style DN (`C=US, ST=WA, O=acme, CN=name`); order kept as written. */
  subject?: string;
  /** Default: one day before now. */
  notBefore?: Date;
  /** Default: one year after now. */
  notAfter?: Date;
  /** The hash of the issuer's signature over this certificate. Default sha256. */
  hash?: CertHash;
  /** authorityInfoAccess OCSP URI. */
  ocspUrl?: string;
  /** crlDistributionPoints URI. */
  crlUrl?: string;
  /** More lines for the certificate's openssl extension section (`name = value`), for odd cases. */
  extraExtensions?: readonly string[];
}

export interface LeafOptions extends CertOptions {
  /** Default codeSigning; `none` leaves the extension out; a list gives openssl EKU names or OIDs. */
  extendedKeyUsage?: 'codeSigning' | 'serverAuth' | 'none' | readonly string[];
  /** Default false (notation's leaves carry a non-critical EKU). */
  extendedKeyUsageCritical?: boolean;
  /** openssl keyUsage names; default digitalSignature; `none` leaves the extension out. */
  keyUsage?: readonly string[] | 'none';
  /** Default true. */
  keyUsageCritical?: boolean;
}

export interface CaOptions extends CertOptions {
  /** basicConstraints pathlen. */
  pathLen?: number;
  /** Default true (Notation requires a critical basicConstraints with cA=true). */
  basicConstraintsCritical?: boolean;
  /** Default keyCertSign, cRLSign. */
  keyUsage?: readonly string[];
}

/** Reasons `openssl ca -crl_reason` knows. */
export type RevocationReason =
  'unspecified' | 'keyCompromise' | 'CACompromise' | 'affiliationChanged' | 'superseded' | 'cessationOfOperation' | 'certificateHold' | 'removeFromCRL';

export interface PkiCertificate {
  /** File stem inside the issuing CA's directory. */
  readonly name: string;
  /** The DN as given (Notation syntax). */
  readonly subject: string;
  readonly keyType: NotationKeyType;
  /** Serial as index.txt and `openssl x509 -serial` write it: upper-case hex. */
  readonly serial: string;
  readonly certPem: string;
  readonly certDer: Buffer;
  readonly certFile: string;
  /** PKCS#8 PEM. */
  readonly keyPem: string;
  readonly keyFile: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The CA that issued it; undefined for a self-signed root. */
  readonly issuer: CertificateAuthority | undefined;
}

export interface Crl {
  readonly pem: string;
  readonly der: Buffer;
}

export interface CertificateAuthority extends PkiCertificate {
  /** The `openssl ca` directory: index.txt, serial, crlnumber, issued certificates. */
  readonly dir: string;
  readonly configFile: string;
  readonly indexFile: string;
  issueLeaf(options?: LeafOptions): Promise<PkiCertificate>;
  issueIntermediate(options?: CaOptions): Promise<CertificateAuthority>;
  /** A certificate with critical EKU timeStamping only (RFC 3161 2.3), for `createTsa`. */
  issueTimestamping(options?: LeafOptions): Promise<PkiCertificate>;
  /** The delegated OCSP responder certificate (EKU OCSPSigning) of this CA, made once. */
  ocspSigner(): Promise<PkiCertificate>;
  /** Marks `cert` revoked in index.txt (`openssl ca -revoke`); `at` sets the revocation time (faketime). */
  revoke(cert: PkiCertificate, options?: { reason?: RevocationReason; at?: Date }): Promise<void>;
  /** A CRL over index.txt (`openssl ca -gencrl`). */
  crl(options?: { lastUpdate?: Date; nextUpdate?: Date; hash?: CertHash }): Promise<Crl>;
}

export interface NotationPki {
  readonly dir: string;
  readonly root: CertificateAuthority;
  readonly intermediate: CertificateAuthority | undefined;
  /** The CA leaves come from: the intermediate when there is one, else the root. */
  readonly issuer: CertificateAuthority;
  /** A leaf signing certificate issued by `issuer`. */
  leaf(options?: LeafOptions): Promise<PkiCertificate>;
  dispose(): Promise<void>;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The certificate followed by its issuers, root last, as DER (what `x5c` / label 33 carry). */
export function certificateChain(cert: PkiCertificate): Buffer[] {
  return chainOf(cert).map((c) => c.certDer);
}

/** The same chain as concatenated PEM (leaf first). */
export function certificateChainPem(cert: PkiCertificate): string {
  return chainOf(cert)
    .map((c) => c.certPem)
    .join('');
}

function chainOf(cert: PkiCertificate): PkiCertificate[] {
  const chain: PkiCertificate[] = [];
  for (let c: PkiCertificate | undefined = cert; c; c = c.issuer) chain.push(c);
  return chain;
}

/** openssl's `-subj` form of a Notation-style DN: `C=US, O=a/b` → `/C=US/O=a\/b`. */
export function opensslSubject(dn: string): string {
  const parts = dn.split(/,\s*(?=[A-Za-z][A-Za-z0-9.]*=)/).map((p) => p.trim());
  if (parts.some((p) => !/^[A-Za-z][A-Za-z0-9.]*=/.test(p))) throw new Error(`not a DN: ${dn}`);
  return parts.map((p) => `/${p.replace(/[\\/]/g, (c) => `\\${c}`)}`).join('');
}

/** YYYYMMDDHHMMSSZ, which `openssl ca -startdate/-enddate/-crl_*` take. */
function opensslTime(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace(/[-T:]/g, '')}Z`;
}

/** `faketime` start-time argument (interpreted in TZ, which the caller sets to UTC). */
function faketimeArg(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

/** Runs openssl, under faketime when `at` is given (for what openssl stamps with "now"). */
async function openssl(args: readonly string[], opts: { at?: Date; cwd?: string } = {}): Promise<RunResult> {
  if (opts.at === undefined) return runOk('openssl', args, { cwd: opts.cwd, timeoutMs: 120_000 });
  return runOk('faketime', [faketimeArg(opts.at), 'openssl', ...args], {
    cwd: opts.cwd,
    env: { ...process.env, TZ: 'UTC' },
    timeoutMs: 120_000,
  });
}

function keygenArgs(keyType: NotationKeyType): string[] {
  switch (keyType) {
    case 'rsa1024':
    case 'rsa2048':
    case 'rsa3072':
    case 'rsa4096':
      return ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${keyType.slice(3)}`];
    case 'ec256':
      return ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-pkeyopt', 'ec_param_enc:named_curve'];
    case 'ec384':
      return ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-pkeyopt', 'ec_param_enc:named_curve'];
    case 'ec521':
      return ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521', '-pkeyopt', 'ec_param_enc:named_curve'];
  }
}

function caConfig(dir: string): string {
  // policy_any with -preserveDN: the subject is the request's, in its order.
  return [
    '[ ca ]',
    'default_ca = CA_default',
    '[ CA_default ]',
    `dir = ${dir}`,
    'database = $dir/index.txt',
    'new_certs_dir = $dir/newcerts',
    'certificate = $dir/ca.pem',
    'private_key = $dir/ca.key',
    'serial = $dir/serial',
    'crlnumber = $dir/crlnumber',
    'default_md = sha256',
    'default_days = 365',
    'default_crl_days = 1',
    'policy = policy_any',
    'unique_subject = no',
    'email_in_dn = no',
    'copy_extensions = none',
    '[ policy_any ]',
    'commonName = optional',
    '[ req ]',
    'distinguished_name = req_dn',
    'prompt = no',
    '[ req_dn ]',
    'CN = unused',
    '[ crl_ext ]',
    'authorityKeyIdentifier = keyid:always',
    '',
  ].join('\n');
}

function accessExtensions(options: CertOptions): string[] {
  return [
    ...(options.ocspUrl ? [`authorityInfoAccess = OCSP;URI:${options.ocspUrl}`] : []),
    ...(options.crlUrl ? [`crlDistributionPoints = URI:${options.crlUrl}`] : []),
    ...(options.extraExtensions ?? []),
  ];
}

function leafExtensions(options: LeafOptions, defaults: { eku: readonly string[]; ekuCritical: boolean }): string[] {
  const eku =
    options.extendedKeyUsage === 'none'
      ? []
      : options.extendedKeyUsage === 'codeSigning' || options.extendedKeyUsage === 'serverAuth'
        ? [options.extendedKeyUsage]
        : (options.extendedKeyUsage ?? defaults.eku);
  const keyUsage = options.keyUsage === 'none' ? [] : (options.keyUsage ?? ['digitalSignature']);
  return [
    ...(keyUsage.length > 0 ? [`keyUsage = ${options.keyUsageCritical === false ? '' : 'critical,'}${keyUsage.join(',')}`] : []),
    ...(eku.length > 0 ? [`extendedKeyUsage = ${(options.extendedKeyUsageCritical ?? defaults.ekuCritical) ? 'critical,' : ''}${eku.join(',')}`] : []),
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
    ...accessExtensions(options),
  ];
}

function caExtensions(options: CaOptions, selfSigned: boolean): string[] {
  const bc = `basicConstraints = ${options.basicConstraintsCritical === false ? '' : 'critical,'}CA:true${options.pathLen === undefined ? '' : `,pathlen:${options.pathLen}`}`;
  return [
    bc,
    `keyUsage = critical,${(options.keyUsage ?? ['keyCertSign', 'cRLSign']).join(',')}`,
    'subjectKeyIdentifier = hash',
    ...(selfSigned ? [] : ['authorityKeyIdentifier = keyid']),
    ...accessExtensions(options),
  ];
}

async function loadKey(keyFile: string): Promise<{ keyPem: string; privateKey: KeyObject; publicKey: KeyObject }> {
  const keyPem = await readFile(keyFile, 'utf8');
  const privateKey = createPrivateKey(keyPem);
  return { keyPem, privateKey, publicKey: createPublicKey(privateKey) };
}

function shortId(): string {
  return randomBytes(4).toString('hex');
}

/** One `openssl ca` directory; operations on it run one at a time (index.txt and serial are files). */
class OpensslCa implements CertificateAuthority {
  readonly configFile: string;
  readonly indexFile: string;
  #queue: Promise<unknown> = Promise.resolve();
  #ocspSigner: Promise<PkiCertificate> | undefined;
  #count = 0;

  private constructor(
    readonly dir: string,
    readonly cert: PkiCertificate,
  ) {
    this.configFile = join(dir, 'ca.cnf');
    this.indexFile = join(dir, 'index.txt');
  }

  get name(): string {
    return this.cert.name;
  }
  get subject(): string {
    return this.cert.subject;
  }
  get keyType(): NotationKeyType {
    return this.cert.keyType;
  }
  get serial(): string {
    return this.cert.serial;
  }
  get certPem(): string {
    return this.cert.certPem;
  }
  get certDer(): Buffer {
    return this.cert.certDer;
  }
  get certFile(): string {
    return this.cert.certFile;
  }
  get keyPem(): string {
    return this.cert.keyPem;
  }
  get keyFile(): string {
    return this.cert.keyFile;
  }
  get privateKey(): KeyObject {
    return this.cert.privateKey;
  }
  get publicKey(): KeyObject {
    return this.cert.publicKey;
  }
  get issuer(): CertificateAuthority | undefined {
    return this.cert.issuer;
  }

  /** Prepares an empty `openssl ca` directory. */
  private static async prepare(dir: string): Promise<void> {
    await mkdir(join(dir, 'newcerts'), { recursive: true });
    await writeFile(join(dir, 'index.txt'), '');
    await writeFile(join(dir, 'index.txt.attr'), 'unique_subject = no\n');
    // A random starting serial: certificates of different PKIs in one test never share one.
    const serial = randomBytes(8);
    serial[0] = ((serial[0] ?? 0) & 0x3f) | 0x10;
    await writeFile(join(dir, 'serial'), `${serial.toString('hex').toUpperCase()}\n`);
    await writeFile(join(dir, 'crlnumber'), '1000\n');
    await writeFile(join(dir, 'ca.cnf'), caConfig(dir));
  }

  /** A self-signed root in `dir` (`openssl ca -selfsign`, so its validity can be anything). */
  static async root(dir: string, options: CaOptions): Promise<OpensslCa> {
    await OpensslCa.prepare(dir);
    const keyType = options.keyType ?? 'ec256';
    const subject = options.subject ?? `C=US, ST=WA, L=Seattle, O=Signet Test, CN=Signet Test Root CA ${shortId()}`;
    const keyFile = join(dir, 'ca.key');
    await openssl(['genpkey', ...keygenArgs(keyType), '-out', keyFile]);
    const csr = join(dir, 'ca.csr');
    await openssl(['req', '-new', '-config', join(dir, 'ca.cnf'), '-key', keyFile, '-subj', opensslSubject(subject), '-out', csr]);
    const certFile = join(dir, 'ca.pem');
    await signRequest(dir, csr, certFile, caExtensions(options, true), options, ['-selfsign', '-keyfile', keyFile]);
    const cert = await loadIssued('ca', subject, keyType, certFile, keyFile, undefined);
    return new OpensslCa(dir, cert);
  }

  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(task, task);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Makes a key and CSR in this CA's dir and signs it with `extensions`. */
  private issue(prefix: string, subject: string, keyType: NotationKeyType, extensions: string[], options: CertOptions): Promise<PkiCertificate> {
    return this.serialize(async () => {
      const name = `${prefix}-${++this.#count}`;
      const keyFile = join(this.dir, `${name}.key`);
      const csr = join(this.dir, `${name}.csr`);
      const certFile = join(this.dir, `${name}.pem`);
      await openssl(['genpkey', ...keygenArgs(keyType), '-out', keyFile]);
      await openssl(['req', '-new', '-config', this.configFile, '-key', keyFile, '-subj', opensslSubject(subject), '-out', csr]);
      await signRequest(this.dir, csr, certFile, extensions, options, []);
      return loadIssued(name, subject, keyType, certFile, keyFile, this);
    });
  }

  issueLeaf(options: LeafOptions = {}): Promise<PkiCertificate> {
    return this.issue(
      'leaf',
      options.subject ?? DEFAULT_LEAF_SUBJECT,
      options.keyType ?? 'rsa2048',
      leafExtensions(options, { eku: ['codeSigning'], ekuCritical: false }),
      options,
    );
  }

  async issueIntermediate(options: CaOptions = {}): Promise<CertificateAuthority> {
    const subject = options.subject ?? `C=US, ST=WA, L=Seattle, O=Signet Test, CN=Signet Test Intermediate CA ${shortId()}`;
    const keyType = options.keyType ?? 'ec256';
    const issued = await this.issue('ca', subject, keyType, caExtensions(options, false), options);
    const dir = join(this.dir, issued.name);
    await OpensslCa.prepare(dir);
    // The sub-CA's own directory holds its cert and key under the names its config expects.
    await writeFile(join(dir, 'ca.pem'), issued.certPem);
    await writeFile(join(dir, 'ca.key'), issued.keyPem, { mode: 0o600 });
    return new OpensslCa(dir, { ...issued, certFile: join(dir, 'ca.pem'), keyFile: join(dir, 'ca.key') });
  }

  issueTimestamping(options: LeafOptions = {}): Promise<PkiCertificate> {
    return this.issue(
      'tsa',
      options.subject ?? `C=US, ST=WA, L=Seattle, O=Signet Test, CN=Signet Test TSA ${shortId()}`,
      options.keyType ?? 'rsa2048',
      leafExtensions(options, { eku: ['timeStamping'], ekuCritical: true }),
      options,
    );
  }

  ocspSigner(): Promise<PkiCertificate> {
    this.#ocspSigner ??= this.issue(
      'ocsp',
      `C=US, ST=WA, L=Seattle, O=Signet Test, CN=Signet Test OCSP responder ${shortId()}`,
      'ec256',
      [...leafExtensions({}, { eku: ['OCSPSigning'], ekuCritical: false }), 'noCheck = ignored'],
      {},
    );
    return this.#ocspSigner;
  }

  revoke(cert: PkiCertificate, options: { reason?: RevocationReason; at?: Date } = {}): Promise<void> {
    return this.serialize(async () => {
      await openssl(['ca', '-batch', '-config', this.configFile, '-revoke', cert.certFile, '-crl_reason', options.reason ?? 'keyCompromise'], {
        ...(options.at ? { at: options.at } : {}),
      });
    });
  }

  crl(options: { lastUpdate?: Date; nextUpdate?: Date; hash?: CertHash } = {}): Promise<Crl> {
    return this.serialize(async () => {
      const out = join(this.dir, `crl-${++this.#count}.pem`);
      const lastUpdate = options.lastUpdate ?? new Date(Date.now() - 60_000);
      const nextUpdate = options.nextUpdate ?? new Date(lastUpdate.getTime() + DAY_MS);
      await openssl([
        'ca',
        '-batch',
        '-config',
        this.configFile,
        '-gencrl',
        '-crlexts',
        'crl_ext',
        '-md',
        options.hash ?? 'sha256',
        '-crl_lastupdate',
        opensslTime(lastUpdate),
        '-crl_nextupdate',
        opensslTime(nextUpdate),
        '-out',
        out,
      ]);
      await openssl(['crl', '-in', out, '-outform', 'DER', '-out', `${out}.der`]);
      return { pem: await readFile(out, 'utf8'), der: await readFile(`${out}.der`) };
    });
  }
}

/** `openssl ca` over a CSR with an extension section made of `extensions`. */
async function signRequest(dir: string, csr: string, out: string, extensions: string[], options: CertOptions, extra: string[]): Promise<void> {
  const extFile = `${out}.ext.cnf`;
  await writeFile(extFile, ['[ ext ]', ...extensions, ''].join('\n'));
  const notBefore = options.notBefore ?? new Date(Date.now() - DAY_MS);
  const notAfter = options.notAfter ?? new Date(Date.now() + 365 * DAY_MS);
  await openssl([
    'ca',
    '-batch',
    '-config',
    join(dir, 'ca.cnf'),
    ...extra,
    '-in',
    csr,
    '-out',
    out,
    '-notext',
    '-preserveDN',
    '-md',
    options.hash ?? 'sha256',
    '-startdate',
    opensslTime(notBefore),
    '-enddate',
    opensslTime(notAfter),
    '-extfile',
    extFile,
    '-extensions',
    'ext',
  ]);
}

async function loadIssued(
  name: string,
  subject: string,
  keyType: NotationKeyType,
  certFile: string,
  keyFile: string,
  issuer: CertificateAuthority | undefined,
): Promise<PkiCertificate> {
  const certPem = await readFile(certFile, 'utf8');
  const x509 = new X509Certificate(certPem);
  return {
    name,
    subject,
    keyType,
    serial: x509.serialNumber.toUpperCase(),
    certPem,
    certDer: x509.raw,
    certFile,
    keyFile,
    issuer,
    ...(await loadKey(keyFile)),
  };
}

/** A root CA, optionally an intermediate under it, in a fresh temp dir. */
export async function createNotationPki(options: { root?: CaOptions; intermediate?: boolean | CaOptions } = {}): Promise<NotationPki> {
  const dir = await makeTempDir('notation-pki');
  try {
    const root = await OpensslCa.root(join(dir, 'root'), options.root ?? {});
    const intermediate =
      options.intermediate === undefined || options.intermediate === false
        ? undefined
        : await root.issueIntermediate(options.intermediate === true ? {} : options.intermediate);
    const issuer = intermediate ?? root;
    return {
      dir,
      root,
      intermediate,
      issuer,
      leaf: (leafOptions) => issuer.issueLeaf(leafOptions),
      dispose: () => removeDir(dir),
    };
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Timestamping authority (RFC 3161) with `openssl ts`

export interface Tsa {
  readonly dir: string;
  readonly root: CertificateAuthority;
  /** The TSA signing certificate (critical EKU timeStamping). */
  readonly cert: PkiCertificate;
  /** TSA certificate then root, DER. */
  readonly chain: Buffer[];
  readonly configFile: string;
  /**
   * An RFC 3161 TimeStampToken (DER ContentInfo, what `-token_out` writes and what Notation's
   * `io.cncf.notary.timestampSignature` holds) over `content`: a query with a nonce and certReq
   * (as tspclient-go sends) hashed with `hash` (default sha256), answered with genTime `genTime`
   * (default now; set with faketime).
   */
  timestamp(content: Buffer, options?: { hash?: TimestampHash; genTime?: Date }): Promise<Buffer>;
  dispose(): Promise<void>;
}

export interface TsaOptions {
  root?: CaOptions;
  /** The TSA certificate; EKU default critical timeStamping. */
  cert?: LeafOptions;
  /** The policy OID the TSA stamps. */
  policy?: string;
}

export async function createTsa(options: TsaOptions = {}): Promise<Tsa> {
  const dir = await makeTempDir('notation-tsa');
  try {
    const root = await OpensslCa.root(join(dir, 'root'), {
      subject: `C=US, ST=WA, L=Seattle, O=Signet Test, CN=Signet Test TSA Root ${shortId()}`,
      ...options.root,
    });
    const cert = await root.issueTimestamping(options.cert ?? {});
    const configFile = join(dir, 'tsa.cnf');
    await writeFile(join(dir, 'tsaserial'), `${randomBytes(4).toString('hex').toUpperCase()}\n`);
    // ess_cert_id_alg sha256: the token carries ESS signing-certificate-v2 (RFC 5035), which
    // tspclient-go requires; openssl writes the v1 attribute only for sha1.
    await writeFile(
      configFile,
      [
        '[ tsa ]',
        'default_tsa = tsa_config',
        '[ tsa_config ]',
        `dir = ${dir}`,
        'serial = $dir/tsaserial',
        'crypto_device = builtin',
        `signer_cert = ${cert.certFile}`,
        `signer_key = ${cert.keyFile}`,
        'signer_digest = sha256',
        `default_policy = ${options.policy ?? '1.3.6.1.4.1.59999.1.1'}`,
        'other_policies = 1.3.6.1.4.1.59999.1.2',
        'digests = sha256, sha384, sha512',
        'accuracy = secs:1',
        'ordering = yes',
        'tsa_name = no',
        'ess_cert_id_chain = no',
        'ess_cert_id_alg = sha256',
        '',
      ].join('\n'),
    );
    let count = 0;
    let queue: Promise<unknown> = Promise.resolve();
    const stamp = async (content: Buffer, opts: { hash?: TimestampHash; genTime?: Date }): Promise<Buffer> => {
      const base = join(dir, `ts-${++count}`);
      await writeFile(`${base}.data`, content);
      await openssl(['ts', '-query', '-data', `${base}.data`, `-${opts.hash ?? 'sha256'}`, '-cert', '-out', `${base}.tsq`]);
      await openssl(['ts', '-reply', '-config', configFile, '-queryfile', `${base}.tsq`, '-token_out', '-out', `${base}.tst`], {
        ...(opts.genTime ? { at: opts.genTime } : {}),
      });
      return readFile(`${base}.tst`);
    };
    return {
      dir,
      root,
      cert,
      chain: [cert.certDer, root.certDer],
      configFile,
      timestamp: (content, opts = {}) => {
        const next = queue.then(() => stamp(content, opts));
        queue = next.catch(() => undefined);
        return next;
      },
      dispose: () => removeDir(dir),
    };
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Revocation endpoints

export interface OcspResponder {
  /** http://127.0.0.1:PORT (what a certificate's `ocspUrl` should name). */
  readonly url: string;
  readonly port: number;
  /**
   * `openssl ocsp` reads index.txt once at start (3.0 does not notice later changes): call
   * this after `revoke()` on a running responder. Restarts it on the same port.
   */
  reload(): Promise<void>;
  log(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * `openssl ocsp` answering for the certificates `ca` issued, from its index.txt, signed by the
 * CA's delegated responder certificate (or by the CA itself with `signer: 'ca'`), nextUpdate one
 * day on. `port`: a port named in the certificates' `ocspUrl` (take one with freePort()).
 */
export async function startOcspResponder(
  ca: CertificateAuthority,
  port: number,
  options: { signer?: 'delegated' | 'ca'; ndays?: number } = {},
): Promise<OcspResponder> {
  const signer = options.signer === 'ca' ? ca : await ca.ocspSigner();
  const dir = await makeTempDir('ocsp');
  const logFile = join(dir, 'ocsp.log');
  const args = [
    'ocsp',
    '-index',
    ca.indexFile,
    '-port',
    String(port),
    '-rsigner',
    signer.certFile,
    '-rkey',
    signer.keyFile,
    '-CA',
    ca.certFile,
    '-ndays',
    String(options.ndays ?? 1),
  ];
  const start = async (): Promise<LongRunning> => {
    await writeFile(logFile, '');
    return startProcess('openssl', args, {
      logFile,
      graceMs: 2_000,
      readyTimeoutMs: 30_000,
      // openssl prints this once it listens (it binds [::]:PORT, which covers 127.0.0.1).
      ready: async () => (await readFile(logFile, 'utf8')).includes('waiting for OCSP client connections'),
    });
  };
  let proc: LongRunning;
  try {
    proc = await start();
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    reload: async () => {
      await proc.stop();
      proc = await start();
    },
    log: () => proc.log(),
    stop: async () => {
      await proc.stop();
      await removeDir(dir);
    },
  };
}

export interface CrlServer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** Serves `body` at `path` (content type application/pkix-crl unless given). */
  set(path: string, body: Buffer, contentType?: string): void;
  /** Removes a path (it then answers 404). */
  remove(path: string): void;
  /** Paths requested so far, in order. */
  requests(): string[];
  stop(): Promise<void>;
}

/** A static node:http server for CRLs (and any other bytes a test wants at a URL). */
export async function serveCrl(options: { port?: number } = {}): Promise<CrlServer> {
  const files = new Map<string, { body: Buffer; contentType: string }>();
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    seen.push(path);
    const file = files.get(path);
    if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': file.contentType, 'content-length': String(file.body.length) });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: options.port ?? 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    set: (path, body, contentType = 'application/pkix-crl') => void files.set(path, { body, contentType }),
    remove: (path) => void files.delete(path),
    requests: () => [...seen],
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Trust stores

export type NotationTrustStoreType = 'ca' | 'signingAuthority' | 'tsa';

/**
 * Writes certificates as a Notation trust store `<root>/x509/<type>/<name>/cert-N.pem` (one PEM
 * per file); returns the store's directory.
 */
export async function writeTrustStore(
  root: string,
  type: NotationTrustStoreType,
  name: string,
  certs: ReadonlyArray<{ certPem: string } | Buffer>,
): Promise<string> {
  const dir = join(root, 'x509', type, name);
  await mkdir(dir, { recursive: true });
  let i = 0;
  for (const cert of certs) {
    const pem = Buffer.isBuffer(cert) ? new X509Certificate(cert).toString() : cert.certPem;
    await writeFile(join(dir, `cert-${++i}.pem`), pem);
  }
  return dir;
}

/**
 * Throw-away certificates made by the openssl CLI in a temporary directory, for the X.509 unit
 * tests: keys of every supported kind, self-signed and issued certificates with chosen
 * extensions and digests, and (through `openssl ca`) certificates with dates in the past.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type KeyKind = 'rsa2048' | 'p256' | 'p384' | 'ed25519';

const KEY_ARGS: Readonly<Record<KeyKind, readonly string[]>> = {
  rsa2048: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  p256: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  p384: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  ed25519: ['-algorithm', 'ED25519'],
};

export interface CertOptions {
  /** extension lines for an [ext] section, e.g. "basicConstraints=critical,CA:TRUE" */
  readonly ext?: readonly string[];
  /** openssl digest flag without the dash; omitted for Ed25519 keys */
  readonly digest?: string;
  readonly days?: number;
  readonly serial?: string;
}

export class OpenSsl {
  readonly dir = mkdtempSync(join(tmpdir(), 'signet-x509-'));
  #serial = 1;

  run(...args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  }

  read(name: string): Buffer {
    return readFileSync(join(this.dir, name));
  }

  /** Writes `<name>.key` and returns its path inside the directory. */
  key(name: string, kind: KeyKind): string {
    this.run('genpkey', ...KEY_ARGS[kind], '-out', `${name}.key`);
    return `${name}.key`;
  }

  /** A self-signed certificate `<name>.pem` for `<key>` with subject `/CN=<cn>`. */
  selfSigned(name: string, key: string, cn: string, options: CertOptions = {}): Buffer {
    const ext = this.#extFile(name, options.ext ?? []);
    this.run(
      'req',
      '-x509',
      '-new',
      '-key',
      key,
      '-subj',
      subject(cn),
      '-days',
      String(options.days ?? 30),
      '-set_serial',
      options.serial ?? String(this.#serial++),
      ...this.#digest(options),
      '-config',
      ext,
      '-extensions',
      'ext',
      '-out',
      `${name}.pem`,
    );
    return this.read(`${name}.pem`);
  }

  /** A certificate `<name>.pem` for `<key>`, subject `/CN=<cn>`, issued by `<ca>.pem`/`<ca>.key`. */
  issue(name: string, key: string, cn: string, ca: string, options: CertOptions = {}): Buffer {
    this.run('req', '-new', '-key', key, '-subj', subject(cn), '-out', `${name}.csr`);
    const ext = this.#extFile(name, options.ext ?? []);
    this.run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-set_serial',
      options.serial ?? String(this.#serial++),
      '-days',
      String(options.days ?? 30),
      ...this.#digest(options),
      '-extfile',
      ext,
      '-extensions',
      'ext',
      '-out',
      `${name}.pem`,
    );
    return this.read(`${name}.pem`);
  }

  /** A self-signed certificate valid only between two past dates (YYYYMMDDHHMMSSZ), via `openssl ca`. */
  expired(name: string, key: string, cn: string, start: string, end: string): Buffer {
    writeFileSync(join(this.dir, `${name}.index`), '');
    writeFileSync(join(this.dir, `${name}.serial`), '01\n');
    writeFileSync(
      join(this.dir, `${name}.ca.cnf`),
      [
        '[ca]',
        'default_ca = here',
        '[here]',
        `database = ${name}.index`,
        'new_certs_dir = .',
        `serial = ${name}.serial`,
        'default_md = sha256',
        'policy = any',
        'unique_subject = no',
        '[any]',
        'commonName = supplied',
        '[ext]',
        'basicConstraints = critical,CA:FALSE',
        '',
      ].join('\n'),
    );
    this.run('req', '-new', '-key', key, '-subj', subject(cn), '-out', `${name}.csr`);
    this.run(
      'ca',
      '-batch',
      '-config',
      `${name}.ca.cnf`,
      '-selfsign',
      '-keyfile',
      key,
      '-in',
      `${name}.csr`,
      '-startdate',
      start,
      '-enddate',
      end,
      '-extensions',
      'ext',
      '-notext',
      '-out',
      `${name}.pem`,
    );
    return this.read(`${name}.pem`);
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  #digest(options: CertOptions): string[] {
    return options.digest === undefined ? [] : [`-${options.digest}`];
  }

  #extFile(name: string, lines: readonly string[]): string {
    const file = `${name}.ext.cnf`;
    // `req` needs a [req] section with distinguished_name even when -subj gives the name.
    writeFileSync(join(this.dir, file), ['[req]', 'distinguished_name = dn', '[dn]', '[ext]', ...lines, ''].join('\n'));
    return file;
  }
}

/** An openssl -subj argument for a CN that may contain '/'. */
function subject(cn: string): string {
  return `/CN=${cn.replace(/[/\\]/g, (c) => `\\${c}`)}`;
}

/** The DER of the first PEM block. */
export function pemToDer(pem: Buffer | string): Buffer {
  const body = pem
    .toString()
    .replace(/-----[^-]+-----/g, '')
    .replace(/\s+/g, '');
  return Buffer.from(body, 'base64');
}

import { open, rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { pino, type Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import { DEFAULT_CONFIG_PATH, loadConfigFile, type Config } from '../config/load.js';
import { SignetError, errorMessage } from '../errors.js';
import { JsonAuditLog } from '../policy/audit-log.js';
import { formatBytes } from '../bundle/progress.js';
import { exportBundle } from '../bundle/export.js';
import { importBundle, verifyBundle, type BundleCheckResult } from '../bundle/import.js';
import { parseImageArgument, readImageList } from '../bundle/image-list.js';
import { generateBundleKeyPair, readBundlePrivateKey, readBundlePublicKey, type BundlePublicKey } from '../bundle/signing.js';
import type { ImageRequest } from '../bundle/collect.js';
import { readSmallFile } from '../bundle/small-file.js';

/** 0 done, 1 refused (a denial, a bundle that does not verify, bad input), 2 could not run. */
export const BUNDLE_EXIT = { ok: 0, refused: 1, error: 2 } as const;

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

const IO: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** `signet bundle <keygen|export|verify|import> ...` */
export async function bundleCommand(args: string[], io: Io = IO): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'keygen':
        return await keygen(rest, io);
      case 'export':
        return await exportCommand(rest, io);
      case 'verify':
        return await verifyCommand(rest, io);
      case 'import':
        return await importCommand(rest, io);
      default:
        io.err(`signet: unknown bundle command "${sub ?? ''}": use keygen, export, verify or import\n`);
        return BUNDLE_EXIT.refused;
    }
  } catch (err) {
    io.err(`signet: ${errorMessage(err)}\n`);
    return isRefusal(err) ? BUNDLE_EXIT.refused : BUNDLE_EXIT.error;
  }
}

/** Codes of a failure to run (storage, an unreachable upstream, a bug); every other code refuses the input. */
const FAILURES: ReadonlySet<string> = new Set(['STORAGE_ERROR', 'INTERNAL', 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'UPSTREAM_ERROR']);

/** A refusal is an answer about the input (bundle, image, policy, flags); anything else is a failure to run. */
function isRefusal(err: unknown): boolean {
  if (!(err instanceof SignetError)) {
    const code: unknown = err instanceof TypeError ? (err as { code?: unknown }).code : undefined;
    return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
  }
  return !FAILURES.has(err.code as string);
}

async function keygen(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: { output: { type: 'string', short: 'o' } }, strict: true });
  if (!values.output) throw new SignetError('CONFIG_INVALID', 'bundle keygen needs --output PREFIX (writes PREFIX.key and PREFIX.pub)');
  const pair = await generateBundleKeyPair();
  const privatePath = `${values.output}.key`;
  const publicPath = `${values.output}.pub`;
  // 'wx': never overwrite a key; the private key is readable by its owner only.
  await writeNew(privatePath, pair.privatePem, 0o600);
  try {
    await writeNew(publicPath, pair.publicPem, 0o644);
  } catch (err) {
    await rm(privatePath, { force: true });
    throw err;
  }
  io.out(`wrote ${privatePath} (keep it on the exporting machine) and ${publicPath} (pin it on the importing side: bundles.keys)\nkey id ${pair.keyId}\n`);
  return BUNDLE_EXIT.ok;
}

async function exportCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      key: { type: 'string', short: 'k' },
      output: { type: 'string', short: 'o' },
      images: { type: 'string' },
      platform: { type: 'string', multiple: true },
      since: { type: 'string' },
      zstd: { type: 'boolean' },
    },
  });
  if (!values.key) throw new SignetError('CONFIG_INVALID', 'bundle export needs --key PRIVATE (made by "signet bundle keygen")');
  if (!values.output) throw new SignetError('CONFIG_INVALID', 'bundle export needs --output BUNDLE');
  const config = await loadConfigFile(values.config ?? DEFAULT_CONFIG_PATH);
  const key = readBundlePrivateKey(await readKeyFile(values.key), values.key);
  const platforms = values.platform ?? [];
  const images: ImageRequest[] = [];
  if (values.images) images.push(...(await readImageList(config, values.images, platforms)));
  for (const text of positionals) images.push(parseImageArgument(config, text, platforms));
  if (images.length === 0) throw new SignetError('CONFIG_INVALID', 'name the images to export (IMAGE... or --images LIST)');
  const audit = fileAudit(config);
  let result;
  try {
    result = await exportBundle({ config, key, output: values.output, images, zstd: values.zstd, since: values.since, audit, logger: cliLogger(config) });
  } finally {
    await audit?.flush();
  }
  for (const image of result.images) io.out(`${image.ref} ${image.digest} (${image.verdict.rule}: ${image.verdict.reason})\n`);
  io.out(
    `wrote ${result.path}: ${result.images.length} image(s), ${result.files} files, ${formatBytes(result.bytes)}${
      result.leftToBase > 0 ? `, ${result.leftToBase} blob(s) left to the base bundle` : ''
    }\nbundle ${result.digest} signed by ${key.keyId}\n`,
  );
  return BUNDLE_EXIT.ok;
}

async function verifyCommand(args: string[], io: Io): Promise<number> {
  const { values, path } = bundleFileArgs(args, 'verify');
  const config = values.config === undefined ? undefined : await loadConfigFile(values.config);
  const keys = await pinnedKeys(config, values.key ?? []);
  const result = await verifyBundle({ path, keys, config, logger: cliLogger(config) });
  report(
    result,
    io,
    config ? 'verified, and every image is admitted by this config' : 'verified (signature and every file; give --config to re-decide the images too)',
  );
  return BUNDLE_EXIT.ok;
}

async function importCommand(args: string[], io: Io): Promise<number> {
  const { values, path } = bundleFileArgs(args, 'import');
  const config = await loadConfigFile(values.config ?? DEFAULT_CONFIG_PATH);
  const keys = await pinnedKeys(config, values.key ?? []);
  const audit = fileAudit(config);
  try {
    const result = await importBundle({ path, keys, config, audit, logger: cliLogger(config) });
    report(result, io, result.alreadyImported ? 'already imported: nothing changed' : `imported into ${config.bundles.path}`);
  } finally {
    await audit?.flush();
  }
  return BUNDLE_EXIT.ok;
}

/** The site's audit file for the command's decisions; an audit log on stdout belongs to the server, not to this command. */
function fileAudit(config: Config): JsonAuditLog | undefined {
  if (config.policy.auditLog === '-') return undefined;
  return new JsonAuditLog(config.policy.auditLog, { maxBytes: config.policy.auditLogMaxBytes, files: config.policy.auditLogFiles, repeatSeconds: 0 });
}

function report(result: BundleCheckResult, io: Io, what: string): void {
  for (const image of result.manifest.images) io.out(`${image.ref} ${image.digest}\n`);
  io.out(`bundle ${result.digest} (signed by ${result.keyId}, created ${result.manifest.created}): ${what}\n`);
}

/** `BUNDLE [--key PUBLIC]... [--config FILE]`, as verify and import take them. */
function bundleFileArgs(args: string[], command: string): { values: { config?: string | undefined; key?: string[] | undefined }; path: string } {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: { config: { type: 'string', short: 'c' }, key: { type: 'string', short: 'k', multiple: true } },
  });
  const [path, extra] = positionals;
  if (path === undefined || extra !== undefined) throw new SignetError('CONFIG_INVALID', `bundle ${command} takes one bundle file`);
  return { values, path };
}

async function pinnedKeys(config: Config | undefined, files: readonly string[]): Promise<BundlePublicKey[]> {
  const keys = (config?.bundles.keys ?? []).map((k) => readBundlePublicKey(k.pem, k.path));
  for (const file of files) keys.push(readBundlePublicKey(await readKeyFile(file), file));
  return keys;
}

async function readKeyFile(path: string): Promise<string> {
  const bytes = await readSmallFile(path, DEFAULTS.bundle.keyMaxBytes, {
    tooLarge: (size) => new SignetError('CONFIG_INVALID', `${path} is ${size} bytes: not a key file`),
    unreadable: (err) => new SignetError('CONFIG_INVALID', `cannot read the key ${path}: ${errorMessage(err)}`, { cause: err }),
  });
  return bytes.toString('utf8');
}

async function writeNew(path: string, text: string, mode: number): Promise<void> {
  try {
    const handle = await open(path, 'wx', mode);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    const exists = err instanceof Error && 'code' in err && err.code === 'EEXIST';
    throw new SignetError(
      'CONFIG_INVALID',
      exists ? `${path} exists: keys are never overwritten; choose another --output` : `cannot write ${path}: ${errorMessage(err)}`,
      { cause: err },
    );
  }
}

/** Logs go to stderr (stdout carries the command's result), at warn unless the config asks for more. */
function cliLogger(config: Config | undefined): Logger {
  const level = config?.log.level === 'debug' || config?.log.level === 'trace' ? config.log.level : 'warn';
  return pino({ level, base: undefined }, pino.destination(2));
}

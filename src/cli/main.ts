#!/usr/bin/env -S node --max-semi-space-size=8
// --max-semi-space-size=8 (MiB; also in `npm start` and the image's entry point): under load
// V8 grows its young generation to some 130 MB by default, which held Signet at 310-330 MB of
// resident memory under a signed-tag load it serves as fast at 170 MB with this cap
// (docs/BENCHMARKS.md). It must be a command-line flag: V8 sizes the heap at start.
// First, so that an unsupported Node.js is refused before any other module is evaluated.
import './runtime.js';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { DEFAULT_CONFIG_PATH, loadConfigFile } from '../config/load.js';
import { errorMessage } from '../errors.js';
import { EXIT } from './exit-codes.js';
import type { Output } from './trust-commands.js';

const USAGE = `Usage: signet <command> [options]

Commands:
  serve [--config FILE]               run the proxy (default config: the embedded config/default.yaml)
  verify-config FILE                  validate a config file and exit (0 valid, 1 invalid)
  check IMAGE [--config FILE] [--json]
                                      the verdict Signet gives a pull of IMAGE (registry/repo:tag),
                                      with reasons and signers; exit 0 allowed, 1 denied, 2 error
  trust inspect IMAGE [--config FILE] [--json]
                                      Notary: signed tags, digests, signers, keys and expiries of IMAGE's
                                      repository; cosign: every signature of IMAGE's digest and whether it counts
  bundle keygen --output PREFIX      write an Ed25519 bundle key pair: PREFIX.key (private, 0600) and PREFIX.pub
  bundle export --key PRIVATE --output BUNDLE [--config FILE] [--images LIST] [--platform OS/ARCH]...
                [--since OLD-BUNDLE] [--zstd] [IMAGE...]
                                      decide IMAGE(s) with the policy and write the admitted ones, their
                                      signatures and trust data to a signed bundle (an OCI layout in a tar)
  bundle verify BUNDLE [--key PUBLIC]... [--config FILE]
                                      check the bundle's signature and every file; with --config also
                                      re-decide every image with that config's policy (nothing is written)
  bundle import BUNDLE [--key PUBLIC]... [--config FILE]
                                      verify, re-decide with this site's policy and import all or nothing,
                                      for the upstreams marked offline: true

Options:
  -c, --config FILE                   config file (default: the embedded config/default.yaml)
  -h, --help                          show this help`;

const IO: Output = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** Thin: flags → library calls. Exit codes: 0 ok, 1 invalid input, 2 runtime error. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 1;
  }
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'verify-config':
      return verifyConfig(rest);
    case 'check':
      return trustCommand(rest, 'check');
    case 'bundle':
      // Each command loads only its own modules: a bundle command's memory is the bundle's, not the server's.
      return (await import('./bundle-commands.js')).bundleCommand(rest);
    case 'trust':
      if (rest[0] === 'inspect') return trustCommand(rest.slice(1), 'inspect');
      process.stderr.write(`signet: unknown trust command "${rest[0] ?? ''}": use "signet trust inspect IMAGE"\n`);
      return 1;
    default:
      process.stderr.write(`signet: unknown command "${command}"\n${USAGE}\n`);
      return 1;
  }
}

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, strict: true });
  const path = values.config ?? DEFAULT_CONFIG_PATH;
  let config;
  try {
    config = await loadConfigFile(path);
  } catch (err) {
    process.stderr.write(`signet: ${errorMessage(err)}\n`);
    return 1;
  }
  const logger = pino({ level: config.log.level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
  logger.info({ node: process.version }, 'signet starting');
  const { Signet } = await import('../server/signet.js');
  const { openStorage } = await import('../server/storage.js');
  let signet: InstanceType<typeof Signet>;
  try {
    // Shared backends (S3, Redis) are reached before anything listens: without them Signet does not start.
    let evicted: (namespace: string) => void = () => undefined;
    const storage = await openStorage(config, logger, (namespace) => evicted(namespace));
    signet = new Signet({ config, logger, storage });
    const metrics = signet.metrics;
    evicted = (namespace) => metrics.evictions.inc({ namespace });
    await signet.start();
  } catch (err) {
    logger.fatal({ err: errorMessage(err) }, 'cannot start');
    return 2;
  }
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string): void => {
      logger.info({ signal }, 'shutting down');
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      signet.stop().then(resolve, resolve);
    };
    const onTerm = (): void => shutdown('SIGTERM');
    const onInt = (): void => shutdown('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
  return 0;
}

async function trustCommand(args: string[], which: 'check' | 'inspect'): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } } });
  } catch (err) {
    process.stderr.write(`signet: ${errorMessage(err)}\n`);
    return EXIT.error;
  }
  const image = parsed.positionals[0];
  if (!image || parsed.positionals.length > 1) {
    process.stderr.write(`signet: ${which === 'check' ? 'check' : 'trust inspect'} needs exactly one IMAGE, e.g. docker.io/library/alpine:3.20\n`);
    return EXIT.error;
  }
  let config;
  try {
    config = await loadConfigFile(parsed.values.config ?? DEFAULT_CONFIG_PATH);
  } catch (err) {
    process.stderr.write(`signet: ${errorMessage(err)}\n`);
    return EXIT.error;
  }
  const json = parsed.values.json ?? false;
  const { checkImage, inspectTrust } = await import('./trust-commands.js');
  return which === 'check' ? checkImage(config, image, json, IO) : inspectTrust(config, image, json, IO);
}

async function verifyConfig(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, strict: true });
  const path = positionals[0];
  if (!path) {
    process.stderr.write('signet: verify-config needs a FILE\n');
    return 1;
  }
  try {
    const config = await loadConfigFile(path);
    // Keys, trusted roots, trust policies and trust stores must also be usable as trust material, as `serve` will need them.
    const { createSigstoreVerifier } = await import('../trust/cosign/sigstore-verifier.js');
    const { prepareNotation } = await import('../trust/notation/prepare.js');
    const cosign = createSigstoreVerifier();
    for (const rule of config.policy.rules) {
      for (const entry of rule.require.entries) {
        if (entry.format === 'cosign') cosign.prepare(entry.requirement);
        if (entry.format === 'notation') prepareNotation(entry.requirement);
      }
    }
    process.stdout.write(`${path}: valid (${config.upstreams.size} upstream(s), default ${config.defaultUpstream ?? 'none'})\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${errorMessage(err)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`signet: ${errorMessage(err)}\n`);
    process.exitCode = 2;
  },
);

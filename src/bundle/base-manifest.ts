import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DEFAULTS } from '../config/defaults.js';
import { errorMessage } from '../errors.js';
import { BUNDLE_MANIFEST_FILE, BundleError, parseBundleManifest, type BundleManifest } from './bundle-manifest.js';
import { readSmallFile } from './small-file.js';
import { readBundleTar } from './tar-io.js';

/** A bundle manifest as read, with the digest of its exact bytes (what the bundle signature covers and an incremental bundle names). */
export interface ReadManifest {
  manifest: BundleManifest;
  bytes: Buffer;
  digest: string;
}

/**
 * The manifest of the bundle an incremental export builds on: `path` is either that bundle
 * (its first entry is read, nothing more) or its `signet-bundle.json` kept on its own.
 */
export async function readBaseManifest(path: string): Promise<ReadManifest> {
  const bytes = (await looksLikeJson(path))
    ? await readSmallFile(path, DEFAULTS.bundle.manifestMaxBytes, {
        tooLarge: () => new BundleError(`${path} is over the limit of ${DEFAULTS.bundle.manifestMaxBytes} bytes: it is not a bundle manifest`),
        unreadable: (err) => new BundleError(`cannot read ${path}: ${errorMessage(err)}`, { cause: err }),
      })
    : await firstEntry(path);
  let manifest: BundleManifest;
  try {
    manifest = parseBundleManifest(bytes);
  } catch (err) {
    throw new BundleError(`--since ${path}: ${errorMessage(err)}`, { cause: err });
  }
  return { manifest, bytes, digest: sha256Digest(bytes) };
}

/** `sha256:<hex>` of `bytes`: how a bundle names its manifest and files. */
export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Reads an entry whole, refusing more than `maxBytes`. */
export async function readEntry(stream: Readable, name: string, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      stream.destroy();
      throw new BundleError(`${name} is over the limit of ${maxBytes} bytes: this is not a bundle Signet wrote`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function firstEntry(path: string): Promise<Buffer> {
  for await (const entry of readBundleTar(path)) {
    if (entry.name !== BUNDLE_MANIFEST_FILE) {
      entry.stream.resume();
      throw new BundleError(`${path} does not start with ${BUNDLE_MANIFEST_FILE}: it is not a Signet bundle`);
    }
    return readEntry(entry.stream, BUNDLE_MANIFEST_FILE, DEFAULTS.bundle.manifestMaxBytes);
  }
  throw new BundleError(`${path} is an empty archive: it is not a Signet bundle`);
}

async function looksLikeJson(path: string): Promise<boolean> {
  const handle = await openOrExplain(path);
  try {
    const first = Buffer.alloc(1);
    const { bytesRead } = await handle.read(first, 0, 1, 0);
    return bytesRead === 1 && first[0] === 0x7b; // '{'
  } finally {
    await handle.close();
  }
}

async function openOrExplain(path: string): ReturnType<typeof open> {
  try {
    return await open(path, 'r');
  } catch (err) {
    throw new BundleError(`cannot read ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { DEFAULTS } from '../config/defaults.js';
import { printable } from '../registry/names.js';
import { BUNDLE_MANIFEST_FILE, BUNDLE_SIGNATURE_FILE, BundleError, parseBundleManifest, type BundleFile } from './bundle-manifest.js';
import { readEntry, sha256Digest, type ReadManifest } from './base-manifest.js';
import { Progress, type ProgressStream } from './progress.js';
import { verifyBundleSignature, type BundlePublicKey } from './signing.js';
import { bundleFileSize, readBundleTar } from './tar-io.js';

export interface ReadBundleOptions {
  path: string;
  /** The pinned public keys; the bundle must be signed by one of them. */
  keys: readonly BundlePublicKey[];
  /**
   * Takes each listed file's bytes (the tar entry's stream, exactly `file.size` long); must read
   * it to its end and reject unless the bytes hash to `file.digest`.
   */
  accept(file: BundleFile, stream: Readable): Promise<void>;
  /** `verify` or `import`: the progress label. */
  phase: string;
  progress?: ProgressStream | undefined;
  signal?: AbortSignal | undefined;
}

export interface ReadBundle extends ReadManifest {
  /** The pinned key that signed it. */
  keyId: string;
}

/**
 * Reads a bundle once, front to back, checking as it goes: the manifest and its signature come
 * first and the signature is verified against the pinned keys before anything else of the bundle
 * is believed; then every file must be one the signed manifest lists, of the listed size, with
 * the listed digest (`accept` hashes it), and every listed file must be present.
 */
export async function readBundle(o: ReadBundleOptions): Promise<ReadBundle> {
  const progress = new Progress({ phase: o.phase, total: await bundleFileSize(o.path).catch(() => 0), stream: o.progress });
  let manifestBytes: Buffer | undefined;
  let signed: (ReadManifest & { keyId: string }) | undefined;
  let listed: Map<string, BundleFile> | undefined;
  const seen = new Set<string>();
  let index = 0;
  for await (const entry of readBundleTar(o.path, { signal: o.signal, onBytes: (n) => progress.advance(n, undefined) })) {
    const at = index++;
    if (at === 0) {
      if (entry.name !== BUNDLE_MANIFEST_FILE) throw notABundle(o.path, `its first file is ${printable(entry.name)}, not ${BUNDLE_MANIFEST_FILE}`);
      manifestBytes = await readEntry(entry.stream, BUNDLE_MANIFEST_FILE, DEFAULTS.bundle.manifestMaxBytes);
      continue;
    }
    if (at === 1) {
      if (entry.name !== BUNDLE_SIGNATURE_FILE || !manifestBytes)
        throw notABundle(o.path, `its second file is ${printable(entry.name)}, not ${BUNDLE_SIGNATURE_FILE}: the bundle is not signed`);
      const signature = await readEntry(entry.stream, BUNDLE_SIGNATURE_FILE, DEFAULTS.bundle.signatureMaxBytes);
      const { keyId } = await verifyBundleSignature(manifestBytes, signature, o.keys);
      // Parsed only once the signature is known to be the pinned exporter's.
      const manifest = parseBundleManifest(manifestBytes);
      signed = { manifest, bytes: manifestBytes, digest: sha256Digest(manifestBytes), keyId };
      listed = new Map(manifest.files.map((f) => [f.path, f]));
      continue;
    }
    const file = listed?.get(entry.name);
    if (!file) {
      entry.stream.resume();
      throw new BundleError(
        `the bundle holds ${printable(entry.name)}, which its signed manifest does not list: the bundle was altered after it was signed; nothing was imported`,
      );
    }
    if (seen.has(file.path)) {
      entry.stream.resume();
      throw new BundleError(`the bundle holds ${file.path} twice: the bundle was altered after it was signed; nothing was imported`);
    }
    seen.add(file.path);
    if (entry.size !== file.size) {
      entry.stream.resume();
      throw new BundleError(
        `${file.path} is ${entry.size} bytes in the bundle but ${file.size} in its signed manifest: the bundle is corrupt or was altered; nothing was imported`,
      );
    }
    await o.accept(file, entry.stream);
  }
  if (!signed) throw notABundle(o.path, index === 0 ? 'it holds no files' : `it has no ${BUNDLE_SIGNATURE_FILE}`);
  const absent = signed.manifest.files.filter((f) => !seen.has(f.path));
  if (absent.length > 0) {
    const names = absent
      .slice(0, 3)
      .map((f) => f.path)
      .join(', ');
    throw new BundleError(
      `the signed manifest lists ${absent.length} file(s) the bundle does not hold (${names}${absent.length > 3 ? ', ...' : ''}): the bundle is incomplete; copy it again; nothing was imported`,
    );
  }
  progress.done();
  return signed;
}

/** Reads a stream to its end and rejects unless it hashes to `file.digest`. */
export async function checkDigest(file: BundleFile, stream: Readable, keep?: (bytes: Buffer) => void): Promise<void> {
  const hash = createHash('sha256');
  const chunks: Buffer[] | undefined = keep ? [] : undefined;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    chunks?.push(chunk);
  }
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== file.digest) {
    throw new BundleError(
      `${file.path} does not match its digest ${file.digest} (its bytes hash to ${got}): the bundle is corrupt or was tampered with; nothing was imported`,
    );
  }
  if (keep && chunks) keep(Buffer.concat(chunks));
}

function notABundle(path: string, why: string): BundleError {
  return new BundleError(`${path} is not a Signet bundle: ${why}`);
}

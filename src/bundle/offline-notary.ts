import { createHash } from 'node:crypto';
import { SignetError } from '../errors.js';
import type { FetchOutcome, MetadataFetcher } from '../trust/notary/remote.js';
import { TrustError } from '../trust/notary/errors.js';
import type { ImportedContent } from './imported.js';
import { signedVersion } from './tuf-version.js';

export interface ImportedNotaryFetcherOptions {
  content: ImportedContent;
}

/** `<N>.root.json` (Notary storage/httpstore.go GetSized by version; tufclient.go root rotation). */
const VERSIONED_ROOT = /^([1-9]\d{0,14})\.root\.json$/;
/** `<role>.<sha256 hex>.json`: a consistent name (TUF consistent snapshots, as Notary names them). */
const CONSISTENT = /^(.+)\.([a-f0-9]{64})\.json$/;

/**
 * The Notary trust data of an offline upstream, answered from imported bundles the way a Notary
 * server answers the updater (src/trust/notary/updater.ts): `<role>.json` is the role's file as
 * imported; a consistent name `<role>.<sha256>.json` is that file only if its bytes hash to the
 * name (a server keeps every version; an import keeps the latest, so another hash is absent);
 * `<N>.root.json` is the imported root only if it is version N. Nothing here is trusted: the
 * updater verifies every file exactly as if a server had sent it. A file over `maxBytes` is
 * refused as `too_large`, as remote.ts refuses it.
 */
export class ImportedNotaryFetcher implements MetadataFetcher {
  readonly #content: ImportedContent;

  constructor(options: ImportedNotaryFetcherOptions) {
    this.#content = options.content;
  }

  async fetch(gun: string, file: string, maxBytes: number): Promise<FetchOutcome> {
    const state = await this.#content.state();
    const files = Object.hasOwn(state.notary, gun) ? state.notary[gun] : undefined;
    if (!files) return { kind: 'not_found' };
    const stored = (name: string): string | undefined => (Object.hasOwn(files, name) ? files[name] : undefined);

    const versioned = VERSIONED_ROOT.exec(file);
    if (versioned?.[1]) {
      const version = Number(versioned[1]);
      // A bundle may carry the intermediate roots of a rotation under their versioned names;
      // otherwise the current root stands in for its own version.
      for (const name of [file, 'root.json']) {
        const digest = stored(name);
        if (digest === undefined) continue;
        const bytes = await this.#read(gun, file, digest, maxBytes);
        if (signedVersion(bytes) === version) return { kind: 'ok', bytes };
      }
      return { kind: 'not_found' };
    }

    const direct = stored(file);
    if (direct !== undefined) return { kind: 'ok', bytes: await this.#read(gun, file, direct, maxBytes) };

    const consistent = CONSISTENT.exec(file);
    if (consistent?.[1] && consistent[2]) {
      const digest = stored(`${consistent[1]}.json`);
      if (digest === undefined) return { kind: 'not_found' };
      const bytes = await this.#read(gun, file, digest, maxBytes);
      const hex = createHash('sha256').update(bytes).digest('hex');
      return hex === consistent[2] ? { kind: 'ok', bytes } : { kind: 'not_found' };
    }
    return { kind: 'not_found' };
  }

  /** The stored bytes, at most `maxBytes` (checked before reading); a listed file that is gone is a broken store. */
  async #read(gun: string, file: string, digest: string, maxBytes: number): Promise<Buffer> {
    const size = (await this.#content.stat(digest))?.size;
    if (size !== undefined && size > maxBytes) {
      throw new TrustError('too_large', `${file} of ${gun} is ${size} bytes, over the ${maxBytes}-byte limit`);
    }
    let bytes: Buffer | undefined;
    try {
      bytes = await this.#content.read(digest, maxBytes);
    } catch (err) {
      // Over the limit after all (the port refuses with BUNDLE_INVALID): the updater's vocabulary.
      if (err instanceof SignetError && err.code === 'BUNDLE_INVALID') {
        throw new TrustError('too_large', `${file} of ${gun} is more than ${maxBytes} bytes`, { cause: err });
      }
      throw err;
    }
    if (bytes === undefined) {
      throw new SignetError(
        'STORAGE_ERROR',
        `the imported trust data of ${gun} lists ${file} as ${digest}, which is missing from the imported content: import the bundle that carried it again`,
      );
    }
    return bytes;
  }
}

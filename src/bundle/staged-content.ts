import { Readable } from 'node:stream';
import { checkRange } from '../cache/content-range.js';
import { BundleError } from './bundle-manifest.js';
import type { ImportedContent, ImportedRange, ImportedState } from './imported.js';

export interface StagedContentOptions {
  /** The state to answer with: the committed index merged with the bundle being decided. */
  state: ImportedState;
  /** Where files not held in memory are read: the store (import), or nothing (verify without a store). */
  base?: ImportedContent | undefined;
  /** Files of the bundle held in memory (verify: manifests, trust metadata, small blobs). */
  memory?: ReadonlyMap<string, Buffer> | undefined;
}

/**
 * A bundle's content as it would be once imported, for deciding it before anything becomes
 * visible: the offline registry and Notary fetcher of the decision read this view, while the
 * serving store's state.json is untouched until the import commits.
 */
export class StagedContent implements ImportedContent {
  readonly #state: ImportedState;
  readonly #base: ImportedContent | undefined;
  readonly #memory: ReadonlyMap<string, Buffer>;

  constructor(options: StagedContentOptions) {
    this.#state = options.state;
    this.#base = options.base;
    this.#memory = options.memory ?? new Map<string, Buffer>();
  }

  state(): Promise<ImportedState> {
    return Promise.resolve(this.#state);
  }

  async stat(digest: string): Promise<{ size: number } | undefined> {
    const held = this.#memory.get(digest);
    if (held) return { size: held.length };
    return this.#base?.stat(digest);
  }

  async open(digest: string, range?: ImportedRange): Promise<Readable | undefined> {
    const held = this.#memory.get(digest);
    if (!held) return this.#base?.open(digest, range);
    const bounds = checkRange(digest, held.length, range);
    return Readable.from([held.subarray(bounds.start ?? 0, bounds.end === undefined ? held.length : bounds.end + 1)]);
  }

  async read(digest: string, maxBytes: number): Promise<Buffer | undefined> {
    const held = this.#memory.get(digest);
    if (!held) return this.#base?.read(digest, maxBytes);
    if (held.length > maxBytes) throw new BundleError(`${digest} is ${held.length} bytes, over the limit of ${maxBytes}: the bundle cannot be used`);
    return held;
  }
}

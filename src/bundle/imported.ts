import type { Readable } from 'node:stream';
import { SignetError, errorMessage } from '../errors.js';

/**
 * What one repository of an offline upstream holds after imports: the tags that name its images
 * (signature tags included), every manifest (images, index children, signature artifacts) and
 * every other blob (configs, layers, signature layers).
 */
export interface ImportedRepository {
  /** Tag → manifest digest. */
  tags: Record<string, string>;
  /** Manifest digest → media type (from the verified bytes). */
  manifests: Record<string, string>;
  /** Digests of the repository's other blobs, sorted. */
  blobs: string[];
}

/**
 * The index of everything imported, replaced as a whole by each import (one atomic rename), so an
 * import is visible all at once or not at all. Bytes live in the store's content-addressed blobs.
 */
export interface ImportedState {
  version: 1;
  /** Digests of the signed bundle manifests imported, oldest first (the bases of incremental bundles). */
  bundles: string[];
  /** `<upstream>/<repository>` → what it holds. */
  repositories: Record<string, ImportedRepository>;
  /** Notary GUN → metadata file (`root.json`, `targets.json`, `targets/releases.json`, ...) → digest of its bytes. */
  notary: Record<string, Record<string, string>>;
}

export const EMPTY_STATE: ImportedState = { version: 1, bundles: [], repositories: {}, notary: {} };

/** An inclusive byte range (HTTP Range semantics). */
export interface ImportedRange {
  start: number;
  end: number;
}

/**
 * The read side of imported content: what an offline upstream and its imported trust data are
 * answered from. The disk store implements it for serving; an import's staged view (the
 * committed state plus the bundle being decided) implements it too.
 */
export interface ImportedContent {
  /** The current index (a serving store re-reads it when an import replaced it). */
  state(): Promise<ImportedState>;
  /** Size of a stored file, or undefined when absent. */
  stat(digest: string): Promise<{ size: number } | undefined>;
  /** A stream of a stored file (or part of it); undefined when absent. */
  open(digest: string, range?: ImportedRange): Promise<Readable | undefined>;
  /** A small stored file whole; undefined when absent; throws BUNDLE_INVALID when over `maxBytes`. */
  read(digest: string, maxBytes: number): Promise<Buffer | undefined>;
}

/** A file of the imported store that cannot be read or written: the store is broken, never "absent" (fail closed). */
export function storageError(what: string, err: unknown): SignetError {
  return new SignetError('STORAGE_ERROR', `${what}: ${errorMessage(err)}`, { cause: err });
}

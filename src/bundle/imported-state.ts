import { z } from 'zod';
import { isTag } from '../registry/names.js';
import type { ImportedRepository, ImportedState } from './imported.js';

/** The store holds sha256 content only: bundles name their files by sha256 (bundle-manifest.ts). */
const SHA256 = /^sha256:([a-f0-9]{64})$/;

/**
 * The index after importing `add` on top of `base`: repositories and their tags, manifests and
 * blobs are unioned (a tag in `add` wins: the newer bundle says what it means now); the Notary
 * files of a GUN in `add` replace that GUN's files as a set (newer trust data supersedes the
 * older, and a role it no longer has must not linger); bundles are appended, oldest first,
 * without duplicates. Pure; keys and blob lists come out sorted, so equal inputs give equal bytes.
 */
export function mergeState(base: ImportedState, add: ImportedState): ImportedState {
  const repositories = new Map<string, ImportedRepository>();
  for (const [key, repo] of Object.entries(base.repositories)) repositories.set(key, repo);
  for (const [key, repo] of Object.entries(add.repositories)) {
    const old = repositories.get(key);
    repositories.set(
      key,
      old
        ? {
            // Spreading defines own properties: a key such as "__proto__" stays a plain key.
            tags: { ...old.tags, ...repo.tags },
            manifests: { ...old.manifests, ...repo.manifests },
            blobs: [...old.blobs, ...repo.blobs],
          }
        : repo,
    );
  }
  const notary = new Map<string, Record<string, string>>();
  for (const [gun, files] of Object.entries(base.notary)) notary.set(gun, files);
  for (const [gun, files] of Object.entries(add.notary)) notary.set(gun, files);
  const bundles = [...new Set([...base.bundles, ...add.bundles])];
  return normaliseState({ version: 1, bundles, repositories: Object.fromEntries(repositories), notary: Object.fromEntries(notary) });
}

/** Sorted keys and sorted, duplicate-free blob lists; bundles keep their (oldest first) order. */
export function normaliseState(state: ImportedState): ImportedState {
  const repositories = sortedEntries(state.repositories).map(([key, repo]): [string, ImportedRepository] => [
    key,
    {
      tags: Object.fromEntries(sortedEntries(repo.tags)),
      manifests: Object.fromEntries(sortedEntries(repo.manifests)),
      blobs: [...new Set(repo.blobs)].sort(compare),
    },
  ]);
  const notary = sortedEntries(state.notary).map(([gun, files]): [string, Record<string, string>] => [gun, Object.fromEntries(sortedEntries(files))]);
  return { version: 1, bundles: [...new Set(state.bundles)], repositories: Object.fromEntries(repositories), notary: Object.fromEntries(notary) };
}

/** Own entries only, sorted by key (code points: the same order everywhere). */
function sortedEntries<T>(record: Record<string, T>): Array<[string, T]> {
  return Object.entries(record).sort(([a], [b]) => compare(a, b));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const digest = z.string().regex(SHA256, 'a digest is sha256:<64 lowercase hex>');
/** `<upstream>/<repository>`: an upstream name, then an OCI repository name. */
const repositoryKey = z
  .string()
  .regex(/^[^/\s]+\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/, 'a repository key is <upstream>/<repository>');
const tag = z.string().refine(isTag, 'a tag is 1-128 characters of [A-Za-z0-9_.-], not starting with . or -');
/** Notary role file names: `root.json`, `targets/releases.json`, ... (no empty, `.` or `..` parts). */
const notaryFile = z
  .string()
  .max(512)
  .regex(/^(?:[A-Za-z0-9_.-]+\/)*[A-Za-z0-9_.-]+\.json$/, 'a Notary file is <role>.json')
  .refine((f) => f.split('/').every((p) => p !== '.' && p !== '..'), 'a Notary file name has no . or .. parts');

const REPOSITORY_SCHEMA = z.strictObject({
  tags: z.record(tag, digest),
  manifests: z.record(digest, z.string().min(1).max(255)),
  blobs: z.array(digest),
});

/** state.json as it must be (it is read as unknown input: the store fails closed on anything else). */
export const IMPORTED_STATE_SCHEMA = z.strictObject({
  version: z.literal(1),
  bundles: z.array(digest),
  repositories: z.record(repositoryKey, REPOSITORY_SCHEMA),
  notary: z.record(z.string().min(1).max(1024), z.record(notaryFile, digest)),
});

import { DEFAULTS } from '../config/defaults.js';
import { BundleError, type BundleManifest } from './bundle-manifest.js';
import type { ImportedContent, ImportedState } from './imported.js';
import { signedVersion } from './tuf-version.js';

/**
 * Refuses a bundle whose Notary trust data is older than what this site imported before for the
 * same GUN: an import replaces a GUN's files as a whole, so an older bundle would otherwise roll
 * the repository's trust data back (TUF: a role's version never goes down). The serving path's
 * rollback floors only exist once a pull verified the newer data; this check does not wait for
 * that. Versions are read from the files as imported (they were verified when imported; the
 * bundle's own files are verified by the decision that follows).
 */
export async function refuseTrustRollback(committed: ImportedState, manifest: BundleManifest, content: ImportedContent): Promise<void> {
  for (const [gun, files] of Object.entries(manifest.notary)) {
    const before = Object.hasOwn(committed.notary, gun) ? committed.notary[gun] : undefined;
    if (!before) continue;
    for (const [file, digest] of Object.entries(files)) {
      const old = Object.hasOwn(before, file) ? before[file] : undefined;
      if (old === undefined || old === digest) continue;
      const [was, now] = await Promise.all([versionOf(content, old), versionOf(content, digest)]);
      if (was !== undefined && now !== undefined && now < was) {
        throw new BundleError(
          `the bundle's trust data for ${gun} is older than what is imported here (${file}: version ${now}, imported version ${was}): importing it would roll the repository's trust data back; export a current bundle; nothing was imported`,
        );
      }
    }
  }
}

/** `signed.version` of a TUF metadata file, or undefined when the file is absent or not one. */
async function versionOf(content: ImportedContent, digest: string): Promise<number | undefined> {
  const bytes = await content.read(digest, DEFAULTS.bundle.smallFileMaxBytes);
  return bytes ? signedVersion(bytes) : undefined;
}

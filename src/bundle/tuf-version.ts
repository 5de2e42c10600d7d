import { isObject } from '../registry/descriptors.js';

/**
 * `signed.version` of TUF metadata bytes, read leniently: undefined when the bytes are not such
 * metadata. For choosing among files (which root is version N, which copy is newer), never for
 * trusting one: the Notary updater validates every file it is given.
 */
export function signedVersion(bytes: Buffer): number | undefined {
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    const signed = isObject(parsed) ? parsed['signed'] : undefined;
    const version = isObject(signed) ? signed['version'] : undefined;
    return typeof version === 'number' && Number.isSafeInteger(version) ? version : undefined;
  } catch {
    return undefined;
  }
}

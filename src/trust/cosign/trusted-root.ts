import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify';
import { SignetError, errorMessage } from '../../errors.js';
import { isObject } from '../../registry/descriptors.js';

/**
 * The operator's pinned `trusted_root.json` (Sigstore's TrustedRoot, protobuf-specs
 * sigstore_trustroot.proto, in its JSON form): Fulcio CA chains, Rekor and CT log keys, timestamp
 * authorities, each with its validity window. Nothing is fetched: the file is the trust.
 *
 * protobuf-specs' `TrustedRoot.fromJSON` accepts anything (a string becomes an empty root, a
 * missing field a default), so the shape is checked first, as sigstore-go does when it loads a
 * root (pkg/root/trusted_root.go NewTrustedRootFromProtobuf, ParseTransparencyLogs): the v0.1
 * media type, every log key with a validity start, every list a list.
 */

/** The only trusted-root media type sigstore-go loads (TrustedRootMediaType01). */
export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';

const LISTS = ['tlogs', 'certificateAuthorities', 'ctlogs', 'timestampAuthorities'] as const;

/** A trusted_root.json as configured: its path (for messages) and its parsed JSON (unknown until checked here). */
export interface TrustedRootSource {
  path: string;
  json: unknown;
}

/**
 * @sigstore/verify's trust material for `source`; keys for key-based signatures are looked up
 * elsewhere (the verifier supplies the pinned key it tries), so this material's key finder finds
 * none. Throws SignetError('CONFIG_INVALID') naming the file and `where` (its config path).
 */
export function trustMaterialFromRoot(source: TrustedRootSource, where: string): TrustMaterial {
  const invalid = (why: string, cause?: unknown): SignetError =>
    new SignetError('CONFIG_INVALID', `${where}: ${source.path} is not a usable trusted_root.json: ${why}`, cause === undefined ? {} : { cause });
  const json = source.json;
  if (!isObject(json)) throw invalid('not a JSON object');
  if (json['mediaType'] !== TRUSTED_ROOT_MEDIA_TYPE) throw invalid(`mediaType must be "${TRUSTED_ROOT_MEDIA_TYPE}"`);
  for (const list of LISTS) {
    const value = json[list];
    if (value !== undefined && !Array.isArray(value)) throw invalid(`${list} must be a list`);
  }
  for (const list of ['tlogs', 'ctlogs'] as const) {
    const logs = (json[list] ?? []) as unknown[];
    logs.forEach((log, i) => {
      // sigstore-go ParseTransparencyLogs: "tlog missing public key validity period start time".
      const start = isObject(log) && isObject(log['publicKey']) && isObject(log['publicKey']['validFor']) ? log['publicKey']['validFor']['start'] : undefined;
      if (typeof start !== 'string') throw invalid(`${list}[${i}].publicKey.validFor.start is missing: a log key's validity must start somewhere`);
    });
  }
  let material: TrustMaterial;
  try {
    const root = TrustedRoot.fromJSON(json);
    material = toTrustMaterial(root, noPinnedKeys);
  } catch (err) {
    throw invalid(errorMessage(err), err);
  }
  const windows = [
    ...material.tlogs.map((l, i) => ({ what: `tlogs[${i}]`, ...l.validFor })),
    ...material.ctlogs.map((l, i) => ({ what: `ctlogs[${i}]`, ...l.validFor })),
    ...material.certificateAuthorities.map((c, i) => ({ what: `certificateAuthorities[${i}]`, ...c.validFor })),
    ...material.timestampAuthorities.map((c, i) => ({ what: `timestampAuthorities[${i}]`, ...c.validFor })),
  ];
  for (const w of windows) {
    if (Number.isNaN(w.start.getTime()) || Number.isNaN(w.end.getTime())) throw invalid(`${w.what}.validFor is not a pair of RFC 3339 times`);
  }
  material.tlogs.forEach((l, i) => {
    if (l.logID.length === 0) throw invalid(`tlogs[${i}].logId.keyId is missing`);
  });
  for (const [what, cas] of [
    ['certificateAuthorities', material.certificateAuthorities],
    ['timestampAuthorities', material.timestampAuthorities],
  ] as const) {
    cas.forEach((ca, i) => {
      if (ca.certChain.length === 0) throw invalid(`${what}[${i}].certChain has no certificate`);
    });
  }
  return material;
}

/** The trusted root names no signing keys: key-based signatures are checked against the rule's pinned keys. */
function noPinnedKeys(hint: string): never {
  throw new SignetError('INTERNAL', `no pinned key was supplied for the key hint "${hint}"`);
}

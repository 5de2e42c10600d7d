import type { TrustMaterial } from '@sigstore/verify';
import { SignetError } from '../../errors.js';
import { compileIdentities, type IdentityMatcher, type IdentityRule } from './identity.js';
import { parsePinnedKey, type PinnedKey } from './keys.js';
import { trustMaterialFromRoot, type TrustedRootSource } from './trusted-root.js';

/**
 * A rule's cosign requirement made ready to verify with: keys parsed and named, identities
 * compiled, the trusted root checked and turned into @sigstore/verify trust material. Pure and
 * somewhat costly (every key and certificate of the root is parsed): build it once per
 * requirement and reuse it (the trust source keeps it per requirement object).
 */

/** The part of a rule's cosign requirement verification needs (src/config CosignRequirements has this shape). */
export interface CosignPolicyInput {
  keys: ReadonlyArray<{ path: string; pem: string }>;
  identities: readonly IdentityRule[];
  trustedRoot: TrustedRootSource | undefined;
  /** Require a transparency-log entry (key-based signatures may go without when false). */
  tlog: boolean;
  /** Config path of the requirement ("policy.rules.2.require.cosign"), for messages. */
  path: string;
}

export interface CosignPolicy {
  readonly path: string;
  readonly keys: readonly PinnedKey[];
  readonly identities: readonly IdentityMatcher[];
  /** The trusted root's material; undefined when the rule pins keys only and needs no log. */
  readonly root: TrustMaterial | undefined;
  readonly tlog: boolean;
}

/** Builds the policy; a bad key, identity or trusted root throws SignetError('CONFIG_INVALID') naming it. */
export function prepareCosignPolicy(input: CosignPolicyInput): CosignPolicy {
  const where = input.path;
  if (input.keys.length === 0 && input.identities.length === 0) {
    throw new SignetError('CONFIG_INVALID', `${where}: name at least one of keys or identities: who must have signed`);
  }
  if (input.trustedRoot === undefined && (input.identities.length > 0 || input.tlog)) {
    throw new SignetError(
      'CONFIG_INVALID',
      `${where}.trustedRoot: keyless identities and transparency-log checks need a trusted_root.json (Fulcio CAs, log keys); set trustedRoot, or tlog: false for keys only`,
    );
  }
  const keys = input.keys.map((k, i) => parsePinnedKey(k.pem, k.path, `${where}.keys.${i}`));
  const identities = compileIdentities(input.identities, where);
  const root = input.trustedRoot === undefined ? undefined : trustMaterialFromRoot(input.trustedRoot, `${where}.trustedRoot`);
  return Object.freeze({ path: where, keys, identities, root, tlog: input.tlog });
}

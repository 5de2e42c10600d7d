/**
 * What a trust format can say about the health of the trust material it holds: signed metadata
 * and how long it stays valid, keys and certificates and how old they are. The console turns
 * these into countdowns and a warning list (src/server/console/trust-health.ts); the formats
 * only report, they do not judge urgency.
 */

/** One piece of trust material with a validity period. */
export interface TrustHealthItem {
  format: 'notary' | 'cosign' | 'notation';
  /**
   * What it belongs to, as an operator finds it in the config or on the trust server:
   * "registry.test/library/hello on https://notary:4443" (a Notary GUN), "policy.rules[0].require.notation
   * trust store ca/acme", "policy.rules[1].require.cosign trusted root".
   */
  scope: string;
  kind: 'metadata' | 'key' | 'certificate';
  /**
   * The item itself: "timestamp" (a Notary role's metadata), "root key 3f1a…", "CN=Acme Root CA,O=Acme"
   * (a certificate's subject).
   */
  name: string;
  /** A Notary role the item belongs to (metadata and keys). */
  role?: string;
  /** Metadata version, for Notary roles. */
  version?: number;
  /** Where a certificate sits: "leaf", "intermediate", "root", "tsa", "ca". */
  position?: string;
  /** ISO time it became valid (a certificate's notBefore), if known: its age. */
  notBefore?: string;
  /** ISO time it stops being valid (metadata `expires`, a certificate's notAfter), if it ever does. */
  expires?: string;
  /** From the trust state as last saved (by this or another replica), not verified since this Signet started. */
  saved?: boolean;
}

/** A parsed certificate as a health item: subject, validity and where it sits. */
export function certificateItem(
  cert: { subject: { text: string }; notBefore: Date; notAfter: Date },
  where: Pick<TrustHealthItem, 'format' | 'scope'> & { position: string },
): TrustHealthItem {
  return {
    format: where.format,
    scope: where.scope,
    kind: 'certificate',
    name: cert.subject.text,
    position: where.position,
    notBefore: cert.notBefore.toISOString(),
    expires: cert.notAfter.toISOString(),
  };
}

import type { KeyObject } from 'node:crypto';
import { Verifier, type SignedEntity, type TrustMaterial } from '@sigstore/verify';

/**
 * RFC 3161 timestamps that do not verify are set aside, as sigstore-go does
 * (pkg/verify/tsa.go VerifySignedTimestamp: failures are collected, and only the threshold of
 * verified timestamps decides), so a bundle stamped by a timestamp authority the pinned root
 * does not list still verifies on its log time, as `cosign verify` accepts it. @sigstore/verify
 * fails on the first timestamp it cannot verify; each one is therefore tried alone first, with
 * @sigstore/verify's own check (a probe whose every other check passes), and kept only if it
 * verifies. The full verification then checks the kept ones again and applies the threshold.
 */
export function dropUnverifiableTimestamps(entity: SignedEntity, material: TrustMaterial, key: KeyObject): void {
  const signature = entity.signature.signature;
  entity.timestamps = entity.timestamps.filter((timestamp) => {
    if (timestamp.$case === 'transparency-log') return true;
    const probe: SignedEntity = {
      signature: { signature, compareSignature: () => true, compareDigest: () => true, verifySignature: () => true },
      key: { $case: 'public-key', hint: '' },
      tlogEntries: [],
      timestamps: [timestamp],
    };
    try {
      new Verifier(
        { ...material, publicKey: () => ({ publicKey: key, validFor: () => true }) },
        { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 1 },
      ).verify(probe);
      return true;
    } catch {
      return false;
    }
  });
}

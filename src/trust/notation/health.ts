import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { certificateItem, type TrustHealthItem } from '../health.js';
import type { CertificateInfo } from '../x509/index.js';
import type { PreparedNotation } from './prepare.js';
import type { TrustStoreType } from './types.js';

/**
 * The health of Notation trust material: the certificates of a requirement's trust stores, and
 * the signing chains seen in signatures that verified. Trust store roots rarely expire soon; the
 * leaf and intermediate certificates signers present do, and Signet only learns them from the
 * signatures it verifies, so those are remembered as they pass.
 */

/** Store types in the order notation lists them, so that the report does not follow policy order. */
const STORE_TYPES: readonly TrustStoreType[] = ['ca', 'signingAuthority', 'tsa'];

/**
 * Every certificate of every trust store of a prepared requirement; `path` is the requirement's
 * config path ("policy.rules[0].require.notation"). Scope "<path> trust store <type>/<name>",
 * position the store type.
 */
export function notationHealth(prepared: PreparedNotation, path: string): TrustHealthItem[] {
  const stores = [...prepared.stores.names()].sort((a, b) => STORE_TYPES.indexOf(a.type) - STORE_TYPES.indexOf(b.type) || a.name.localeCompare(b.name));
  return stores.flatMap(({ type, name }) =>
    (prepared.stores.get(type, name) ?? []).map((cert) =>
      certificateItem(cert, { format: 'notation', scope: `${path} trust store ${type}/${name}`, position: type }),
    ),
  );
}

/** What a remembered chain keeps: enough for a health item, not the certificates themselves. */
type ChainCertificate = Pick<CertificateInfo, 'notBefore' | 'notAfter'> & { subject: { text: string } };

interface RememberedChain {
  /** `<registry>/<repository>` the signature was for, the last time this leaf was seen. */
  repository: string;
  chain: readonly ChainCertificate[];
}

/**
 * The signing chains of the latest verified signatures, one per leaf certificate (its SHA-256
 * fingerprint): a signer that signs many images is one entry, shown under the repository it
 * signed last. Bounded, least recently seen dropped first.
 */
export class SigningChains {
  readonly #chains: LRUCache<string, RememberedChain>;

  constructor(max: number) {
    this.#chains = new LRUCache({ max });
  }

  /** Remembers one chain, leaf first. */
  record(repository: string, chain: readonly CertificateInfo[]): void {
    const leaf = chain[0];
    if (leaf === undefined) return;
    const fingerprint = createHash('sha256').update(leaf.der).digest('hex');
    this.#chains.set(fingerprint, {
      repository,
      chain: chain.map((c) => ({ subject: { text: c.subject.text }, notBefore: c.notBefore, notAfter: c.notAfter })),
    });
  }

  /** Each remembered chain's certificates, most recently seen chain first; scope "signatures of <repository>". */
  items(): TrustHealthItem[] {
    const items: TrustHealthItem[] = [];
    for (const { repository, chain } of this.#chains.values()) {
      chain.forEach((cert, i) => {
        items.push(certificateItem(cert, { format: 'notation', scope: `signatures of ${repository}`, position: chainPosition(i, chain.length) }));
      });
    }
    return items;
  }
}

/** A chain of one is a self-signed signing certificate: its leaf, not a root. */
function chainPosition(index: number, length: number): string {
  if (index === 0) return 'leaf';
  return index === length - 1 ? 'root' : 'intermediate';
}

import type { NotationRequirements } from '../../config/load.js';
import { SignetError } from '../../errors.js';
import { parseTrustPolicy } from './trust-policy.js';
import { loadTrustStoreDirectory, trustStoreFromInline } from './trust-store.js';
import type { TrustPolicyDocument, TrustStoreSet } from './types.js';

/** A rule's Notation requirement made ready to verify with: the trust policy validated, the trust stores read. */
export interface PreparedNotation {
  document: TrustPolicyDocument;
  stores: TrustStoreSet;
}

/**
 * Validates the trust policy as notation does and reads the trust stores; every store a
 * statement names must exist and hold certificates, so that a typo stops the start rather than
 * denying every pull of a scope later. Throws SignetError('CONFIG_INVALID') naming what to fix.
 */
export function prepareNotation(requirement: NotationRequirements): PreparedNotation {
  const where = `${requirement.path}.trustPolicy (${requirement.trustPolicy.path})`;
  const document = parseTrustPolicy(requirement.trustPolicy.json, where);
  const store = requirement.trustStore;
  const stores =
    store.kind === 'directory'
      ? loadTrustStoreDirectory(
          store.path,
          `${requirement.path}.trustStore (${store.path})`,
          document.statements.flatMap((s) => s.trustStores),
        )
      : trustStoreFromInline(store.stores, `${requirement.path}.trustStore`);
  for (const statement of document.statements) {
    for (const ref of statement.trustStores) {
      const certs = stores.get(ref.type, ref.name);
      if (certs === undefined || certs.length === 0) {
        const at = store.kind === 'directory' ? `${store.path}/x509/${ref.type}/${ref.name}/` : `${requirement.path}.trustStore.${ref.type}.${ref.name}`;
        throw new SignetError(
          'CONFIG_INVALID',
          `${requirement.path}: trust policy statement "${statement.name}" names trust store ${ref.type}:${ref.name}, which has no certificates: add them at ${at}`,
        );
      }
    }
  }
  return { document, stores };
}

import type { TrustStateStore } from '../../cache/ports.js';
import { certificateItem, type TrustHealthItem } from '../health.js';
import { parseCertificateBundle } from './certificates.js';
import { parseSigned, type SignedMetadata, type Targets } from './metadata.js';
import { VerifiedNotaryRepo } from './verified-repo.js';

/** The order roles are shown in: the one that expires soonest by design first. */
const ROLE_ORDER = ['timestamp', 'snapshot', 'targets', 'root'];

/**
 * The health of one verified Notary repository: each role's metadata with its version and
 * expiry (Notary signs timestamps for 14 days, snapshots and targets for 3 years, roots for 10
 * by default: tuf/data/types.go DefaultExpires), and each key. Root keys, and the delegation keys
 * `docker trust signer add` publishes, are x509 certificates (keytype "*-x509"): their notBefore
 * is the key's age and their notAfter when the key stops being usable. Plain keys have neither.
 */
export function notaryHealth(repo: VerifiedNotaryRepo, server: string): TrustHealthItem[] {
  const scope = `${repo.name} on ${server}`;
  const rank = (role: string): number => (ROLE_ORDER.includes(role) ? ROLE_ORDER.indexOf(role) : ROLE_ORDER.length - 1.5);
  const items: TrustHealthItem[] = Object.entries(repo.expires)
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([role, expires]) => ({
      format: 'notary',
      scope,
      kind: 'metadata',
      name: role,
      role,
      ...(repo.versions[role] === undefined ? {} : { version: repo.versions[role] }),
      expires: expires.toISOString(),
    }));
  const seen = new Set<string>();
  for (const { role, id, key } of repo.roleKeys()) {
    if (seen.has(`${role} ${id}`)) continue;
    seen.add(`${role} ${id}`);
    const name = `${role} key ${id.slice(0, 12)}`;
    const leaf = key?.keytype.endsWith('-x509') ? leafOf(key.public) : undefined;
    if (leaf) {
      items.push({ ...certificateItem(leaf, { format: 'notary', scope, position: 'key' }), kind: 'key', name: `${name} (${leaf.subject.text})`, role });
    } else {
      items.push({ format: 'notary', scope, kind: 'key', name, role });
    }
  }
  return items;
}

/** The leaf of a key's certificate bundle; undefined when it does not parse (verification already decided on it). */
function leafOf(pem: Buffer): ReturnType<typeof parseCertificateBundle>[number] | undefined {
  try {
    return parseCertificateBundle(pem)[0];
  } catch {
    return undefined;
  }
}

/**
 * A repository as its trust state was last saved: the files the updater wrote once they
 * verified (root, timestamp, snapshot, and each targets role the snapshot lists). They are
 * parsed, not verified again; only the console reads them, for expiries and keys. Undefined
 * when a file is missing or does not parse (the next pull decides on it for real).
 */
export async function savedRepository(store: TrustStateStore, scope: string, gun: string): Promise<VerifiedNotaryRepo | undefined> {
  try {
    const read = (file: string): Promise<Buffer | undefined> => store.read(scope, gun, file);
    const [root, timestamp, snapshot] = await Promise.all([read('root.json'), read('timestamp.json'), read('snapshot.json')]);
    if (!root || !timestamp || !snapshot) return undefined;
    const snap = parseSigned(snapshot, 'snapshot');
    const targets = new Map<string, SignedMetadata<Targets>>();
    for (const role of snap.signed.meta.keys()) {
      if (role === 'root') continue;
      const bytes = await read(`${role}.json`);
      if (bytes) targets.set(role, parseSigned(bytes, role));
    }
    if (!targets.has('targets')) return undefined;
    return new VerifiedNotaryRepo({ gun, root: parseSigned(root, 'root'), timestamp: parseSigned(timestamp, 'timestamp'), snapshot: snap, targets });
  } catch {
    return undefined;
  }
}

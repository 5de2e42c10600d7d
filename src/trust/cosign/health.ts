import { createHash } from 'node:crypto';
import type { TrustMaterial } from '@sigstore/verify';
import { certificateItem, type TrustHealthItem } from '../health.js';
import { parseCertificate } from '../x509/index.js';
import { preparedPolicy } from './sigstore-verifier.js';
import type { PreparedRequirement } from './verifier-port.js';

/**
 * The health of a cosign requirement's trust material: what its trusted_root.json pins (Fulcio
 * CA and timestamp authority certificates, transparency-log and CT-log keys, each with the window
 * the root trusts it for) and its pinned public keys, which have no validity of their own.
 * Fulcio leaf certificates live ten minutes and are not worth a countdown; they are not reported.
 */

type Authority = TrustMaterial['certificateAuthorities'][number];
type LogAuthority = TrustMaterial['tlogs'][number];

/**
 * @sigstore/verify fills a window the root leaves open with these (trust/index.js
 * BEGINNING_OF_TIME, END_OF_TIME): such a bound was not given and is not reported.
 */
const BEGINNING_OF_TIME = 0;
const END_OF_TIME = 8_640_000_000_000_000;

/**
 * The requirement's trust material as health items; `path` is its config path
 * ("policy.rules[1].require.cosign"). Scope "<path> trusted root" for the root's parts (position
 * "ca" for Fulcio CA certificates, "tsa" for timestamp authority certificates; log keys as kind
 * "key", named "Rekor log key <log ID>" or "CT log key <log ID>"), "<path> keys" for the pinned
 * keys. A requirement another verifier prepared has nothing to report.
 */
export function cosignHealth(prepared: PreparedRequirement, path: string): TrustHealthItem[] {
  const policy = preparedPolicy(prepared);
  if (policy === undefined) return [];
  const items: TrustHealthItem[] = [];
  if (policy.root !== undefined) {
    const scope = `${path} trusted root`;
    const seen = new Set<string>();
    policy.root.certificateAuthorities.forEach((ca, i) => items.push(...authorityItems(ca, `Fulcio CA certificateAuthorities[${i}]`, 'ca', scope, seen)));
    policy.root.timestampAuthorities.forEach((tsa, i) =>
      items.push(...authorityItems(tsa, `timestamp authority timestampAuthorities[${i}]`, 'tsa', scope, seen)),
    );
    for (const log of policy.root.tlogs) items.push(logKeyItem(log, 'Rekor log key', scope));
    for (const log of policy.root.ctlogs) items.push(logKeyItem(log, 'CT log key', scope));
  }
  for (const key of policy.keys) items.push({ format: 'cosign', scope: `${path} keys`, kind: 'key', name: `key ${key.id.slice(0, 12)} (${key.path})` });
  return items;
}

/**
 * An authority's certificates, and the window the root trusts it for when the root ends it: a
 * retired CA stops vouching for new signatures at the window's end, whatever its certificates
 * say. A certificate two authorities share is reported once.
 */
function authorityItems(authority: Authority, label: string, position: 'ca' | 'tsa', scope: string, seen: Set<string>): TrustHealthItem[] {
  const items: TrustHealthItem[] = [];
  const subjects: string[] = [];
  for (const cert of authority.certChain) {
    const der = cert.root.toDER();
    const item = certificateHealth(der, { notBefore: cert.notBefore, notAfter: cert.notAfter }, { format: 'cosign', scope, position });
    subjects.push(item.name);
    const key = `${position} ${der.toString('base64')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    items.push(item);
  }
  const { start, end } = authority.validFor;
  if (end.getTime() < END_OF_TIME) {
    // The CA's own name is its chain's last certificate (the root); a TSA's is its first (the signing certificate).
    const named = position === 'ca' ? subjects[subjects.length - 1] : subjects[0];
    items.push({
      format: 'cosign',
      scope,
      kind: 'certificate',
      name: `${label} validity window${named === undefined ? '' : ` (${named})`}`,
      position,
      ...(start.getTime() > BEGINNING_OF_TIME ? { notBefore: start.toISOString() } : {}),
      expires: end.toISOString(),
    });
  }
  return items;
}

/** A log's key and the window the root trusts it for; its hex log ID is how Rekor and CT entries name it. */
function logKeyItem(log: LogAuthority, label: string, scope: string): TrustHealthItem {
  const { start, end } = log.validFor;
  return {
    format: 'cosign',
    scope,
    kind: 'key',
    name: `${label} ${log.logID.toString('hex').slice(0, 12)}${log.baseURL === '' ? '' : ` (${log.baseURL})`}`,
    ...(start.getTime() > BEGINNING_OF_TIME ? { notBefore: start.toISOString() } : {}),
    ...(end.getTime() < END_OF_TIME ? { expires: end.toISOString() } : {}),
  };
}

/**
 * A certificate as Signet's parser reads it (the subject as RFC 4514 text, as the other formats
 * show it); one it cannot read is still reported, by fingerprint, with the validity
 * @sigstore/core read, so that nothing in the root goes unlisted.
 */
function certificateHealth(
  der: Buffer,
  validity: { notBefore: Date; notAfter: Date },
  where: Pick<TrustHealthItem, 'format' | 'scope'> & { position: string },
): TrustHealthItem {
  try {
    return certificateItem(parseCertificate(der), where);
  } catch {
    const text = `certificate ${createHash('sha256').update(der).digest('hex').slice(0, 12)}`;
    return certificateItem({ subject: { text }, ...validity }, where);
  }
}

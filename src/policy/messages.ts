import type { Admission } from '../trust/source.js';
import type { StaleReason } from './requests.js';
import type { Judged } from './tag-listing.js';

/** The messages of allowed decisions, for the audit log. */

/** Who signed, per format: "notary: signed in targets/releases by alice; cosign: signed by ...". */
export function describe(admissions: readonly Admission[]): string {
  return admissions
    .map((a) => {
      const role = a.evidence.find((e) => e.role)?.role;
      return `${a.format}: signed${role ? ` in ${role}` : ''}${a.signers.length ? ` by ${a.signers.join(', ')}` : ''}`;
    })
    .join('; ');
}

const STALE_BECAUSE: Record<StaleReason, string> = {
  rate_limited: 'is rate-limiting Signet (HTTP 429)',
  upstream_error: 'is failing (HTTP 5xx after retries)',
  unreachable: 'is unreachable',
  timeout: 'timed out',
};

/** Why a tag was answered from the cache: "upstream docker.io <is rate-limiting Signet (HTTP 429)>". */
export function staleBecause(reason: StaleReason): string {
  return STALE_BECAUSE[reason];
}

/** How many tags, and the first few names: `3 ("2.0", "3.0", "latest")`. */
export function tagNames(judged: readonly Judged[]): string {
  const shown = judged.slice(0, 10).map((j) => `"${j.tag}"`);
  return `${judged.length} (${shown.join(', ')}${judged.length > shown.length ? ', ...' : ''})`;
}

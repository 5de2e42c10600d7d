import { DEFAULTS } from '../../config/defaults.js';
import type { TrustHealthItem } from '../../trust/health.js';

export type Severity = 'expired' | 'critical' | 'warning' | 'rotate';

/** A health item with what the console works out from it at one moment. */
export interface AssessedItem extends TrustHealthItem {
  /** Seconds until it expires (negative: since it expired); absent when it never does. */
  remainingSeconds?: number;
  /** Whole days since it became valid, if known. */
  ageDays?: number;
  severity?: Severity;
}

export interface HealthWarning {
  severity: Severity;
  /** One line an operator can act on: what, when, and what to do. */
  message: string;
  item: AssessedItem;
}

export interface TrustHealthReport {
  /** ISO time the report was made (the countdowns count from it). */
  at: string;
  items: AssessedItem[];
  /** Most urgent first: expired, critical, warning, then keys due for rotation (oldest first). */
  warnings: HealthWarning[];
}

export interface HealthThresholds {
  warnDays: number;
  criticalDays: number;
  shortLivedDays: number;
  shortLivedWarnHours: number;
  shortLivedCriticalHours: number;
  keyAgeDays: number;
}

export const DEFAULT_THRESHOLDS: HealthThresholds = {
  warnDays: DEFAULTS.consoleExpiryWarnDays,
  criticalDays: DEFAULTS.consoleExpiryCriticalDays,
  shortLivedDays: DEFAULTS.consoleShortLivedDays,
  shortLivedWarnHours: DEFAULTS.consoleShortLivedWarnHours,
  shortLivedCriticalHours: DEFAULTS.consoleShortLivedCriticalHours,
  keyAgeDays: DEFAULTS.consoleKeyAgeDays,
};

const HOUR = 3600;
const DAY = 24 * HOUR;
const RANK: Record<Severity, number> = { expired: 0, critical: 1, warning: 2, rotate: 3 };

/**
 * Countdowns and warnings over what the trust formats report. Material that lives a month or
 * less by design (a Notary timestamp lives 14 days and is re-signed by the server) is warned
 * about in its last hours, everything else in its last weeks: a 14-day timestamp would
 * otherwise always be "expiring". Age is shown against `keyAgeDays`, the yearly rotation DCT
 * users are told to do.
 */
export function assessTrustHealth(items: readonly TrustHealthItem[], now: number, t: HealthThresholds = DEFAULT_THRESHOLDS): TrustHealthReport {
  const assessed: AssessedItem[] = [];
  const warnings: HealthWarning[] = [];
  for (const item of items) {
    const a: AssessedItem = { ...item };
    const expires = item.expires === undefined ? undefined : Date.parse(item.expires);
    const since = item.notBefore === undefined ? undefined : Date.parse(item.notBefore);
    if (since !== undefined && Number.isFinite(since)) a.ageDays = Math.floor((now - since) / (DAY * 1000));
    if (expires !== undefined && Number.isFinite(expires)) {
      const remaining = Math.round((expires - now) / 1000);
      a.remainingSeconds = remaining;
      const shortLived = isShortLived(item, since, expires, t);
      const critical = shortLived ? t.shortLivedCriticalHours * HOUR : t.criticalDays * DAY;
      const warn = shortLived ? t.shortLivedWarnHours * HOUR : t.warnDays * DAY;
      // A Sigstore trusted root keeps retired CAs and log keys on purpose, to verify what they
      // once signed: a window that has ended there is history, not breakage.
      if (remaining <= 0 && item.format === 'cosign') a.severity = undefined;
      else if (remaining <= 0) a.severity = 'expired';
      else if (remaining < critical) a.severity = 'critical';
      else if (remaining < warn) a.severity = 'warning';
    }
    if (a.severity === undefined && (a.remainingSeconds ?? 1) > 0 && a.ageDays !== undefined && a.ageDays >= t.keyAgeDays && item.kind !== 'metadata')
      a.severity = 'rotate';
    if (a.severity) warnings.push({ severity: a.severity, message: warningMessage(a), item: a });
    assessed.push(a);
  }
  warnings.sort(
    (x, y) =>
      RANK[x.severity] - RANK[y.severity] ||
      (x.item.remainingSeconds ?? Infinity) - (y.item.remainingSeconds ?? Infinity) ||
      (y.item.ageDays ?? 0) - (x.item.ageDays ?? 0),
  );
  return { at: new Date(now).toISOString(), items: assessed, warnings };
}

function isShortLived(item: TrustHealthItem, since: number | undefined, expires: number, t: HealthThresholds): boolean {
  if (item.format === 'notary' && item.kind === 'metadata') return item.role === 'timestamp';
  return since !== undefined && Number.isFinite(since) && expires - since <= t.shortLivedDays * DAY * 1000;
}

/** "3 d 4 h", "5 h 12 min", "40 s": how long, at the precision an operator needs. */
export function formatDuration(seconds: number): string {
  const s = Math.abs(seconds);
  if (s >= DAY) return `${Math.floor(s / DAY)} d ${Math.floor((s % DAY) / HOUR)} h`;
  if (s >= HOUR) return `${Math.floor(s / HOUR)} h ${Math.floor((s % HOUR) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s)} s`;
}

function what(item: TrustHealthItem): string {
  const of = `of ${item.scope}`;
  if (item.kind === 'metadata') return `${item.name} metadata ${of}`;
  if (item.kind === 'key') return `${item.name} ${of}`;
  return `certificate ${item.name} (${item.position ?? 'certificate'}) ${of}`;
}

function warningMessage(a: AssessedItem): string {
  if (a.severity === 'rotate') return `${what(a)} is ${a.ageDays ?? 0} days old: ${adviceFor(a, true)}`;
  const r = a.remainingSeconds ?? 0;
  const when = r <= 0 ? `expired ${formatDuration(r)} ago` : `expires in ${formatDuration(r)}`;
  return `${what(a)} ${when} (${a.expires ?? ''}): ${adviceFor(a, false)}`;
}

/** What an operator does about it, per format and kind. */
function adviceFor(item: TrustHealthItem, rotate: boolean): string {
  if (item.format === 'notary') {
    if (item.kind === 'metadata') {
      if (item.role === 'timestamp' || item.role === 'snapshot') {
        return 'the trust server signs it; check that notary-server still holds its timestamp and snapshot keys and answers Signet';
      }
      if (item.role === 'root') return `rotate the root before then: notary key rotate ${gunOf(item.scope)} root`;
      return `re-sign the role before then: a docker trust sign or notary publish on ${gunOf(item.scope)} writes it with a fresh expiry`;
    }
    if (item.role === 'root') return `rotate it: notary key rotate ${gunOf(item.scope)} root, then pin the new root in Signet's policy`;
    if (item.role?.startsWith('targets/')) return `add the signer with a new key and certificate (docker trust signer add) and remove the old key`;
    return `rotate it: notary key rotate ${gunOf(item.scope)} ${item.role ?? 'targets'}`;
  }
  if (item.format === 'notation') {
    if (item.position === 'leaf' || item.position === 'intermediate' || item.position === 'root') {
      return rotate
        ? 'renew the signing certificate and sign new images with it'
        : 'signatures with this chain stop verifying when it expires unless they carry a trusted timestamp; re-sign with a renewed certificate';
    }
    return 'replace the certificate in the Notation trust store: signatures chaining only to it stop verifying';
  }
  return rotate ? 'check the trusted root is current' : 'update the trusted root (the Sigstore TUF repository, or the configured trusted_root.json)';
}

function gunOf(scope: string): string {
  return scope.split(' on ')[0] ?? scope;
}

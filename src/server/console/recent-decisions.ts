import type { Logger } from 'pino';
import type { DecisionLogStore } from '../../cache/ports.js';
import { errorMessage } from '../../errors.js';
import type { AuditLog, AuditRecord } from '../../policy/audit-log.js';
import { isObject } from '../../registry/descriptors.js';
import { adviceFor } from './advice.js';

/** A decision as the console keeps and shows it. */
export interface RecentDecision {
  /** ISO time it was decided. */
  at: string;
  verdict: string;
  reason: string;
  message?: string;
  kind: string;
  upstream: string;
  repository: string;
  reference: string;
  digest?: string;
  client?: string;
  user?: string;
  mode: string;
  rule: string;
  /** The trust formats the decision rests on (its evidence), or that the rule requires (a denial). */
  formats: string[];
  signers?: string[];
  /** Per signature: format, signer, and when it was signed if the format knows. */
  evidence?: Array<{ format: string; signer: string; signedAt?: string; issuer?: string }>;
}

export interface DecisionFilter {
  verdict?: string;
  reason?: string;
  repository?: string;
  client?: string;
  format?: string;
  upstream?: string;
  kind?: string;
  /** Newest first, at most this many. */
  limit: number;
}

export interface DenialGroup {
  reason: string;
  count: number;
  /** ISO time of the newest. */
  lastAt: string;
  /** The message the client saw, of the newest. */
  message: string | undefined;
  /** What an operator can do. */
  advice: string;
  repositories: string[];
  clients: number;
}

/** A tag Signet admitted, as the newest admission of it says. */
export interface InventoryTag {
  tag: string;
  digest: string | undefined;
  formats: string[];
  signers: string[];
  /** The newest signing time the signatures carry (cosign, Notation), if any. */
  signedAt: string | undefined;
  /** When Signet last admitted it. */
  admittedAt: string;
}

export interface InventoryRepository {
  upstream: string;
  repository: string;
  tags: InventoryTag[];
}

export interface RecentDecisionsOptions {
  /** Where decisions are written, as before: the record of truth. */
  audit: AuditLog;
  store: DecisionLogStore;
  /** Decisions kept (entries): in memory and in the store. */
  keep: number;
  /** The formats a rule requires ("policy.rules.<n>" or "policy.default"), for denials. */
  formatsOfRule: (rule: string) => string[];
  logger: Logger;
  clock?: () => number;
}

/**
 * An audit log that also keeps the newest decisions for the console: every record goes to the
 * audit log unchanged, and (but for uses of the admin endpoints) to a bounded list in memory and in the state backend (so a restart
 * keeps them). Writes to the backend are batched and never hold up a request; one that fails is
 * logged, and the audit log still has the decision.
 */
export class RecentDecisions implements AuditLog {
  readonly #o: RecentDecisionsOptions;
  readonly #clock: () => number;
  #kept: RecentDecision[] = [];
  #unsaved: string[] = [];
  #saving: Promise<void> = Promise.resolve();
  #scheduled = false;

  constructor(options: RecentDecisionsOptions) {
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
  }

  /** Loads what the store kept (lines that do not parse as a decision are skipped). */
  async init(): Promise<void> {
    const lines = await this.#o.store.recent(this.#o.keep);
    const loaded: RecentDecision[] = [];
    for (const line of lines) {
      const d = parseDecision(line);
      if (d) loaded.push(d);
    }
    this.#kept = [...loaded, ...this.#kept].slice(-this.#o.keep);
  }

  record(entry: AuditRecord): void {
    this.#o.audit.record(entry);
    // Uses of the admin endpoints (the console's own requests among them) stay in the audit log
    // only, and so do requests without credentials refused with a challenge: every client that
    // authenticates starts that way (distribution's token flow), so they are no one's denial.
    if (entry.kind === 'admin' || (entry.kind === 'access' && entry.reason === 'unauthenticated')) return;
    const decision = toRecent(entry, new Date(this.#clock()).toISOString(), this.#o.formatsOfRule);
    this.#kept.push(decision);
    if (this.#kept.length > this.#o.keep * 1.25) this.#kept = this.#kept.slice(-this.#o.keep);
    this.#unsaved.push(JSON.stringify(decision));
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        void this.#save();
      });
    }
  }

  #save(): Promise<void> {
    const lines = this.#unsaved;
    this.#unsaved = [];
    if (lines.length === 0) return this.#saving;
    this.#saving = this.#saving.then(() =>
      this.#o.store.append(lines).catch((err: unknown) => {
        this.#o.logger.warn({ err: errorMessage(err), decisions: lines.length }, 'recent decisions could not be saved (the audit log has them)');
      }),
    );
    return this.#saving;
  }

  async flush(): Promise<void> {
    await this.#save();
    await this.#o.audit.flush();
  }

  /** Newest first. */
  query(filter: DecisionFilter): RecentDecision[] {
    const out: RecentDecision[] = [];
    for (let i = this.#kept.length - 1; i >= 0 && out.length < filter.limit; i--) {
      const d = this.#kept[i] as RecentDecision;
      if (filter.verdict !== undefined && d.verdict !== filter.verdict) continue;
      if (filter.reason !== undefined && d.reason !== filter.reason) continue;
      if (filter.repository !== undefined && d.repository !== filter.repository && !d.repository.startsWith(`${filter.repository}/`)) continue;
      if (filter.client !== undefined && d.client !== filter.client && d.user !== filter.client) continue;
      if (filter.format !== undefined && !d.formats.includes(filter.format)) continue;
      if (filter.upstream !== undefined && d.upstream !== filter.upstream) continue;
      if (filter.kind !== undefined && d.kind !== filter.kind) continue;
      out.push(d);
    }
    return out;
  }

  /**
   * The signed inventory as the kept decisions show it: every tag admitted by a signature
   * (not by a policy that is off), per repository, with its newest admission.
   */
  inventory(): InventoryRepository[] {
    const repositories = new Map<string, InventoryRepository & { byTag: Map<string, InventoryTag> }>();
    for (const d of this.#kept) {
      if (d.verdict !== 'allowed' || d.kind !== 'manifest' || d.reference.includes(':') || !d.evidence || d.evidence.length === 0) continue;
      const key = `${d.upstream}/${d.repository}`;
      let repo = repositories.get(key);
      if (!repo) {
        repo = { upstream: d.upstream, repository: d.repository, tags: [], byTag: new Map() };
        repositories.set(key, repo);
      }
      const signedTimes = d.evidence.map((e) => e.signedAt).filter((t): t is string => t !== undefined);
      repo.byTag.set(d.reference, {
        tag: d.reference,
        digest: d.digest,
        formats: d.formats,
        // A decision names its signers when the format reports them apart; else each signature's signer.
        signers: d.signers && d.signers.length > 0 ? d.signers : [...new Set(d.evidence.map((e) => e.signer))],
        signedAt: signedTimes.length > 0 ? signedTimes.sort().at(-1) : undefined,
        admittedAt: d.at,
      });
    }
    return [...repositories.values()]
      .map(({ byTag, ...repo }) => ({ ...repo, tags: [...byTag.values()].sort((a, b) => a.tag.localeCompare(b.tag)) }))
      .sort((a, b) => `${a.upstream}/${a.repository}`.localeCompare(`${b.upstream}/${b.repository}`));
  }

  /** Denials (and what audit mode would have denied) of the kept decisions, by reason, most frequent first. */
  denials(): DenialGroup[] {
    const groups = new Map<string, { group: DenialGroup; repositories: Set<string>; clients: Set<string> }>();
    for (const d of this.#kept) {
      if (d.verdict === 'allowed') continue;
      let g = groups.get(d.reason);
      if (!g) {
        g = {
          group: { reason: d.reason, count: 0, lastAt: d.at, message: d.message, advice: adviceFor(d.reason), repositories: [], clients: 0 },
          repositories: new Set(),
          clients: new Set(),
        };
        groups.set(d.reason, g);
      }
      g.group.count++;
      if (d.at >= g.group.lastAt) {
        g.group.lastAt = d.at;
        g.group.message = d.message;
      }
      g.repositories.add(`${d.upstream}/${d.repository}`);
      g.clients.add(d.user ?? d.client ?? '');
    }
    return [...groups.values()]
      .map(({ group, repositories, clients }) => ({ ...group, repositories: [...repositories].sort().slice(0, 20), clients: clients.size }))
      .sort((a, b) => b.count - a.count || b.lastAt.localeCompare(a.lastAt));
  }
}

function toRecent(entry: AuditRecord, at: string, formatsOfRule: (rule: string) => string[]): RecentDecision {
  const evidence = entry.evidence?.map((e) => ({
    format: e.format,
    signer: e.signer,
    ...(e.signedAt ? { signedAt: e.signedAt.toISOString() } : {}),
    ...(e.issuer ? { issuer: e.issuer } : {}),
  }));
  const formats = evidence && evidence.length > 0 ? [...new Set(evidence.map((e) => e.format))] : formatsOfRule(entry.rule);
  return {
    at,
    verdict: entry.verdict,
    reason: entry.reason,
    ...(entry.message === undefined ? {} : { message: entry.message }),
    kind: entry.kind,
    upstream: entry.upstream,
    repository: entry.repository,
    reference: entry.reference,
    ...(entry.digest === undefined ? {} : { digest: entry.digest }),
    ...(entry.client === undefined ? {} : { client: entry.client }),
    ...(entry.user === undefined ? {} : { user: entry.user }),
    mode: entry.mode,
    rule: entry.rule,
    formats,
    ...(entry.signers ? { signers: entry.signers } : {}),
    ...(evidence && evidence.length > 0 ? { evidence } : {}),
  };
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);

/** A stored line back into a decision; undefined when it is not one (a damaged or foreign line). */
export function parseDecision(line: string): RecentDecision | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isObject(value)) return undefined;
  const v: Record<string, unknown> = value;
  const required = ['at', 'verdict', 'reason', 'kind', 'upstream', 'repository', 'reference', 'mode', 'rule'] as const;
  if (!required.every((k) => isString(v[k])) || !isStringArray(v.formats)) return undefined;
  for (const k of ['message', 'digest', 'client', 'user'] as const) if (v[k] !== undefined && !isString(v[k])) return undefined;
  if (v.signers !== undefined && !isStringArray(v.signers)) return undefined;
  if (v.evidence !== undefined && !(Array.isArray(v.evidence) && v.evidence.every((e) => isObject(e) && isString(e.format) && isString(e.signer)))) {
    return undefined;
  }
  return v as unknown as RecentDecision;
}

import type { PolicyMode } from '../config/schema.js';
import type { Admission, Denial } from '../trust/source.js';
import type { AuditLog, AuditRecord, DecisionKind } from './audit-log.js';
import type { RepositoryRequest } from './requests.js';

/** Counts decisions (Prometheus `signet_policy_decisions_total{verdict,reason}`). */
export interface DecisionObserver {
  decision(verdict: AuditRecord['verdict'], reason: string): void;
}

/** What every record of one request shares. */
export type Base = Pick<AuditRecord, 'client' | 'user' | 'upstream' | 'repository' | 'kind' | 'reference' | 'mode' | 'rule'>;

/** An allowed decision: why, and the admissions it rests on (signers, evidence, trust versions). */
export interface Allow {
  reason: string;
  message?: string | undefined;
  digest?: string;
  admissions?: readonly Admission[];
}

/**
 * The record side of the decision core: each decision becomes one audit record and one count.
 * A refusal under `enforce` is thrown; under `audit` it is recorded as what would have been
 * denied, and the request goes on.
 */
export class Decisions {
  readonly #audit: AuditLog;
  readonly #observer: DecisionObserver | undefined;

  constructor(audit: AuditLog, observer: DecisionObserver | undefined) {
    this.#audit = audit;
    this.#observer = observer;
  }

  base(request: RepositoryRequest, rule: { mode: PolicyMode; path: string }, kind: DecisionKind, reference: string): Base {
    return {
      client: request.client,
      ...(request.user === undefined ? {} : { user: request.user }),
      upstream: request.upstream,
      repository: request.repository,
      kind,
      reference,
      mode: rule.mode,
      rule: rule.path,
    };
  }

  allow(base: Base, allow: Allow): void {
    const admissions = allow.admissions ?? [];
    const signers = admissions.length > 0 ? [...new Set(admissions.flatMap((a) => a.signers))] : undefined;
    this.#emit({
      ...base,
      digest: allow.digest,
      verdict: 'allowed',
      reason: allow.reason,
      message: allow.message,
      signers,
      evidence: admissions.length > 0 ? admissions.flatMap((a) => a.evidence) : undefined,
      trust: admissions.find((a) => a.trust)?.trust,
    });
  }

  /** Enforce: records and throws the denial. Audit: records what would have been denied and returns. */
  refuse(mode: PolicyMode, base: Base, denial: Denial, digest: string | undefined): void {
    const audited = mode === 'audit';
    this.#emit({
      ...base,
      digest,
      verdict: audited ? 'audited' : 'denied',
      reason: denial.reason,
      message: denial.message,
      signers: undefined,
      evidence: undefined,
      trust: undefined,
    });
    if (!audited) throw denial;
  }

  #emit(record: AuditRecord): void {
    this.#audit.record(record);
    this.#observer?.decision(record.verdict, record.reason);
  }
}

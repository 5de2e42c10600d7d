import { pino, type Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import type { Evidence, TrustProvenance } from '../trust/source.js';

export type Verdict = 'allowed' | 'denied' | 'audited';

/** What a decision was about: content, or (access) who may pull / (admin) use the admin endpoints. */
export type DecisionKind = 'manifest' | 'blob' | 'referrers' | 'tags' | 'access' | 'admin';

/** One line per decision (docs/ARCHITECTURE.md, "Decisions"). */
export interface AuditRecord {
  client: string | undefined;
  upstream: string;
  repository: string;
  kind: DecisionKind;
  /** The tag or digest asked for (empty for a tag listing). */
  reference: string;
  /** The digest served (or that would have been), when known. */
  digest: string | undefined;
  mode: string;
  /** The rule that decided: "policy.rules.<n>" or "policy.default". */
  rule: string;
  verdict: Verdict;
  reason: string;
  message: string | undefined;
  signers: string[] | undefined;
  evidence: Evidence[] | undefined;
  trust: TrustProvenance | undefined;
}

export interface AuditLog {
  record(entry: AuditRecord): void;
  flush(): Promise<void>;
}

/**
 * JSON lines to a file (appended, created if missing) or to stdout. A separate stream from the
 * request log, so it can be shipped and kept under its own retention rules.
 */
export class JsonAuditLog implements AuditLog {
  readonly #logger: Logger;

  constructor(destination: string | undefined) {
    // SonicBoom writes at most `maxWrite` bytes per fs.write (16 KiB by default): at thousands of
    // decisions a second its backlog, a string on the heap, outgrew the writes. Large writes
    // drain a backlog in a few calls; an idle log still writes each line at once (minLength 0).
    const options = { sync: false, minLength: 0, maxWrite: DEFAULTS.auditMaxWriteBytes };
    const stream =
      destination && destination !== '-'
        ? pino.destination({ dest: destination, mkdir: true, append: true, ...options })
        : pino.destination({ dest: 1, ...options });
    this.#logger = pino({ base: undefined, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'event' }, stream);
  }

  record(entry: AuditRecord): void {
    this.#logger.info({ ...entry, audit: true }, 'decision');
  }

  async flush(): Promise<void> {
    await new Promise<void>((resolve) => this.#logger.flush(() => resolve()));
  }
}

/** Keeps records in memory: for `signet check` (one decision, read back) and tests. */
export class MemoryAuditLog implements AuditLog {
  readonly records: AuditRecord[] = [];

  record(entry: AuditRecord): void {
    this.records.push(entry);
  }

  async flush(): Promise<void> {}
}

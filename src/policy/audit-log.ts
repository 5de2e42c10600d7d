import { pino, type Logger } from 'pino';

export type Verdict = 'allowed' | 'denied' | 'audited';

/** One line per decision (DESIGN.md "Every decision goes to the audit log"). */
export interface AuditRecord {
  client: string | undefined;
  upstream: string;
  repository: string;
  reference: string;
  digest: string | undefined;
  mode: string;
  verdict: Verdict;
  reason: string | undefined;
  message: string | undefined;
  signers: string[] | undefined;
  trust: { name: string; versions: Record<string, number> } | undefined;
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
    const stream = destination && destination !== '-' ? pino.destination({ dest: destination, mkdir: true, append: true, sync: false }) : pino.destination(1);
    this.#logger = pino({ base: undefined, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'event' }, stream);
  }

  record(entry: AuditRecord): void {
    this.#logger.info({ ...entry, audit: true }, 'decision');
  }

  async flush(): Promise<void> {
    await new Promise<void>((resolve) => this.#logger.flush(() => resolve()));
  }
}

import { pino, type DestinationStream, type Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import { errorMessage } from '../errors.js';
import { RotatingFile } from './audit-file.js';
import type { Evidence, TrustProvenance } from '../trust/source.js';

export type Verdict = 'allowed' | 'denied' | 'audited';

/** What a decision was about: content, or (access) who may pull / (admin) use the admin endpoints. */
export type DecisionKind = 'manifest' | 'blob' | 'referrers' | 'tags' | 'access' | 'admin';

/** One line per decision (docs/ARCHITECTURE.md, "Decisions"). */
export interface AuditRecord {
  client: string | undefined;
  /** The authenticated user (client authentication), when the client proved one. */
  user?: string | undefined;
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

export interface JsonAuditLogOptions {
  /** A file log is rotated at this size (bytes; `policy.auditLogMaxBytes`). Stdout is left to the platform. */
  maxBytes?: number;
  /** Rotated files kept (`policy.auditLogFiles`): `<file>.1` ... `<file>.<files>`. */
  files?: number;
  /** Identical denials of one client within this many seconds are summarised (`policy.auditRepeatSeconds`; 0: each one written). */
  repeatSeconds?: number;
  /** Open summary windows at most (entries); beyond it the oldest is closed early. */
  maxWindows?: number;
  clock?: () => number;
  /** A write to the file failed (those lines are lost); default: one line to stderr. */
  onError?: (err: unknown) => void;
}

/** A summary line: the repeats of a denial that were not written one by one. */
export interface RepeatSummary {
  /** Identical denials after the one written, within the window. */
  repeated: number;
  /** ISO times of the first and last of them. */
  first: string;
  last: string;
}

interface Window {
  record: AuditRecord;
  opened: number;
  repeated: number;
  first: number;
  last: number;
}

/**
 * JSON lines to a file (appended, created if missing, rotated by size) or to stdout. A separate
 * stream from the request log, so it can be shipped and kept under its own retention rules.
 *
 * A client repeating a denied request (same client, upstream, repository, kind, reference and
 * reason) within `repeatSeconds` gets one line for the first denial and one summary line for the
 * rest (`repeated: N`, `first`, `last`), written when the window ends, when more windows are
 * open than `maxWindows` (the oldest first), or at flush. Every decision is still counted in the
 * metrics. Allowed and audited decisions are always written one by one.
 */
export class JsonAuditLog implements AuditLog {
  readonly #logger: Logger;
  readonly #file: RotatingFile | undefined;
  readonly #clock: () => number;
  readonly #repeatMs: number;
  readonly #maxWindows: number;
  /** Open windows in the order they opened, which (all being as long) is the order they end. */
  readonly #windows = new Map<string, Window>();
  #timer: NodeJS.Timeout | undefined;

  constructor(destination: string | undefined, options: JsonAuditLogOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.#repeatMs = (options.repeatSeconds ?? DEFAULTS.auditRepeatSeconds) * 1000;
    this.#maxWindows = Math.max(1, options.maxWindows ?? DEFAULTS.auditRepeatWindows);
    const onError = options.onError ?? ((err: unknown) => process.stderr.write(`signet: audit log write failed: ${errorMessage(err)}\n`));
    let stream: DestinationStream;
    if (destination && destination !== '-') {
      this.#file = new RotatingFile({
        path: destination,
        maxBytes: options.maxBytes ?? DEFAULTS.auditLogMaxBytes,
        files: options.files ?? DEFAULTS.auditLogFiles,
        onError,
      });
      stream = this.#file;
    } else {
      // SonicBoom writes at most `maxWrite` bytes per fs.write (16 KiB by default): at thousands of
      // decisions a second its backlog, a string on the heap, outgrew the writes. Large writes
      // drain a backlog in a few calls; an idle log still writes each line at once (minLength 0).
      stream = pino.destination({ dest: 1, sync: false, minLength: 0, maxWrite: DEFAULTS.auditMaxWriteBytes });
    }
    const clock = this.#clock;
    this.#logger = pino({ base: undefined, timestamp: () => `,"time":"${new Date(clock()).toISOString()}"`, messageKey: 'event' }, stream);
  }

  record(entry: AuditRecord): void {
    const now = this.#clock();
    this.#closeEnded(now);
    if (entry.verdict !== 'denied' || this.#repeatMs <= 0) {
      this.#write(entry);
      return;
    }
    const key = JSON.stringify([entry.client ?? null, entry.upstream, entry.repository, entry.kind, entry.reference, entry.reason]);
    const open = this.#windows.get(key);
    if (open) {
      if (open.repeated === 0) open.first = now;
      open.repeated++;
      open.last = now;
      return;
    }
    this.#write(entry);
    if (this.#windows.size >= this.#maxWindows) {
      const oldest = this.#windows.keys().next();
      if (!oldest.done) this.#close(oldest.value);
    }
    this.#windows.set(key, { record: entry, opened: now, repeated: 0, first: now, last: now });
    this.#startTimer();
  }

  /** Windows of repeated denials open now (bounded by maxWindows). */
  get openWindows(): number {
    return this.#windows.size;
  }

  /** Writes the summaries of every open window, then waits until every line is written. */
  async flush(): Promise<void> {
    for (const key of [...this.#windows.keys()]) this.#close(key);
    this.#stopTimer();
    if (this.#file) {
      await this.#file.flush();
      return;
    }
    await new Promise<void>((resolve) => this.#logger.flush(() => resolve()));
  }

  #write(entry: AuditRecord, summary?: RepeatSummary): void {
    this.#logger.info({ ...entry, ...summary, audit: true }, 'decision');
  }

  /** Closes the windows whose time is up (the oldest first, stopping at the first still open). */
  #closeEnded(now: number): void {
    for (const [key, window] of this.#windows) {
      if (now - window.opened < this.#repeatMs) break;
      this.#close(key);
    }
    if (this.#windows.size === 0) this.#stopTimer();
  }

  #close(key: string): void {
    const window = this.#windows.get(key);
    if (!window) return;
    this.#windows.delete(key);
    if (window.repeated === 0) return;
    this.#write(window.record, { repeated: window.repeated, first: new Date(window.first).toISOString(), last: new Date(window.last).toISOString() });
  }

  /** Ends windows on time while no decision comes in; unreferenced, it never keeps the process alive. */
  #startTimer(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#closeEnded(this.#clock()), Math.min(this.#repeatMs, 1_000));
    this.#timer.unref();
  }

  #stopTimer(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
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

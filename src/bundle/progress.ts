import { DEFAULTS } from '../config/defaults.js';

/** Where progress goes: process.stderr, or anything with `write` (tests). */
export interface ProgressStream {
  write(chunk: string): unknown;
  /** A terminal gets a redrawn bar; anything else JSON lines. */
  isTTY?: boolean | undefined;
  /** Terminal width: the bar line is cut to fit, since a wrapped line cannot be redrawn with \r. */
  columns?: number | undefined;
}

export interface ProgressOptions {
  /** What is being done (`export`, `verify`, `import`): the bar's label and the JSON lines' `phase`. */
  phase: string;
  /** Bytes expected in all. */
  total: number;
  stream?: ProgressStream | undefined;
  /** Milliseconds, monotonic; default performance.now. */
  clock?: (() => number) | undefined;
  /** Minimum ms between two reports; default DEFAULTS.bundle.progressIntervalMs. */
  intervalMs?: number | undefined;
}

const BAR_WIDTH = 30;
/** ANSI: carriage return, then erase to the end of the line (ECMA-48 EL). */
const CLEAR_LINE = '\r\x1b[K';
const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'] as const;

/**
 * Progress of a long bundle operation. On a terminal: one line redrawn in place,
 * `[#####.....] 42% 1.2 GiB/2.9 GiB  import`; elsewhere (a log, a CI job): JSON lines
 * `{"phase":"import","done":…,"total":…,"file":"…"}`. Either is written at most once per interval,
 * plus once at `done()`, so a bundle of a million small files does not flood the output.
 */
export class Progress {
  readonly #phase: string;
  readonly #total: number;
  readonly #stream: ProgressStream;
  readonly #clock: () => number;
  readonly #intervalMs: number;
  readonly #tty: boolean;
  #done = 0;
  /** `#done` at the last JSON line, so done() does not repeat a line just written. */
  #reported = -1;
  #file: string | undefined;
  #lastReport = Number.NEGATIVE_INFINITY;
  /** TTY: a bar is on the current line (a message must clear it first). */
  #barShown = false;
  #finished = false;

  constructor(options: ProgressOptions) {
    this.#phase = options.phase;
    this.#total = Math.max(0, options.total);
    this.#stream = options.stream ?? process.stderr;
    this.#clock = options.clock ?? (() => performance.now());
    this.#intervalMs = options.intervalMs ?? DEFAULTS.bundle.progressIntervalMs;
    this.#tty = this.#stream.isTTY === true;
  }

  /** Counts `bytes` more done, `file` being the one in progress. Reports if the interval has passed. */
  advance(bytes: number, file?: string): void {
    if (this.#finished) return;
    this.#done += bytes;
    if (file !== undefined) this.#file = file;
    const now = this.#clock();
    if (now - this.#lastReport < this.#intervalMs) return;
    this.#lastReport = now;
    this.#report();
  }

  /** A log line: on a terminal above the bar (which is redrawn under it); otherwise a JSON line `{"phase","message"}`. */
  message(text: string): void {
    if (!this.#tty) {
      this.#stream.write(`${JSON.stringify({ phase: this.#phase, message: text })}\n`);
      return;
    }
    // Names in messages can come from a bundle: no control characters reach the terminal.
    const safe = withoutControls(text);
    this.#stream.write(`${this.#barShown ? CLEAR_LINE : ''}${safe}\n`);
    if (this.#barShown) this.#stream.write(this.#barLine());
  }

  /** The final report (always written), ending the bar's line on a terminal. Later calls do nothing. */
  done(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#tty || this.#reported !== this.#done) this.#report();
    if (this.#tty) this.#stream.write('\n');
  }

  #report(): void {
    if (this.#tty) {
      this.#stream.write(`${this.#barShown ? CLEAR_LINE : ''}${this.#barLine()}`);
      this.#barShown = true;
      return;
    }
    const line: { phase: string; done: number; total: number; file?: string } = { phase: this.#phase, done: this.#done, total: this.#total };
    if (this.#file !== undefined) line.file = this.#file;
    this.#reported = this.#done;
    this.#stream.write(`${JSON.stringify(line)}\n`);
  }

  #barLine(): string {
    const fraction = this.#total > 0 ? Math.min(1, this.#done / this.#total) : 1;
    const filled = Math.floor(fraction * BAR_WIDTH);
    const percent = Math.floor(fraction * 100);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${percent}% ${formatBytes(this.#done)}/${formatBytes(this.#total)}  ${this.#phase}`;
    const columns = this.#stream.columns;
    return columns !== undefined && columns > 1 && line.length >= columns ? line.slice(0, columns - 1) : line;
  }
}

/** `512 B`, `1.2 GiB`: binary units, one decimal. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes;
  let unit: string = UNITS[0];
  for (const u of UNITS) {
    value /= 1024;
    unit = u;
    if (value < 1024) break;
  }
  return `${value.toFixed(1)} ${unit}`;
}

/** C0 and C1 control characters (and DEL) replaced by `?`: no escape sequence reaches the terminal. */
function withoutControls(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    out += code < 0x20 || (code >= 0x7f && code <= 0x9f) ? '?' : ch;
  }
  return out;
}

import { inspect } from 'node:util';

/**
 * A value that must never reach a log line or an error message. Pino, JSON.stringify and
 * util.inspect all see "[redacted]"; only `reveal()` hands out the value.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return '[redacted]';
  }
}

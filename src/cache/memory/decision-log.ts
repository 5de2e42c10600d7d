import type { DecisionLogStore } from '../ports.js';

/** The recent decisions in memory (tests, and a Signet that runs without a state directory). */
export class MemoryDecisionLog implements DecisionLogStore {
  readonly #keep: number;
  #lines: string[] = [];

  /** `keep`: lines kept (entries). */
  constructor(keep: number) {
    this.#keep = Math.max(1, keep);
  }

  append(lines: readonly string[]): Promise<void> {
    this.#lines.push(...lines);
    if (this.#lines.length > this.#keep) this.#lines = this.#lines.slice(-this.#keep);
    return Promise.resolve();
  }

  recent(limit: number): Promise<string[]> {
    return Promise.resolve(limit <= 0 ? [] : this.#lines.slice(-limit));
  }
}

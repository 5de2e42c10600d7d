/**
 * Merges concurrent calls for the same key into one promise (undici's in-flight pattern):
 * twenty clients asking for one manifest cause one upstream request.
 */
export class Inflight<V> {
  readonly #pending = new Map<string, Promise<V>>();

  run(key: string, work: () => Promise<V>): Promise<V> {
    const existing = this.#pending.get(key);
    if (existing) return existing;
    const promise = (async () => {
      try {
        return await work();
      } finally {
        this.#pending.delete(key);
      }
    })();
    this.#pending.set(key, promise);
    return promise;
  }

  get size(): number {
    return this.#pending.size;
  }
}

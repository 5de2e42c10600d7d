/**
 * Runs synchronous `work` now and hands over its result, or what it threw, as a promise: the
 * in-memory stores answer through the same asynchronous ports as the disk ones, and a caller
 * sees a rejection (never a synchronous throw) either way.
 */
export function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

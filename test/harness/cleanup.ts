/**
 * Stopping what a suite started. A `before` that fails half way leaves some services
 * undefined, and a service that fails to stop must not leave the others running.
 */

export type Stoppable = { stop(): Promise<void> } | { close(): Promise<void> };

/**
 * Stops (or closes) each service in the order given, skipping undefined ones, every one even
 * when an earlier one failed; then throws the first failure.
 */
export async function stopAll(...services: Array<Stoppable | undefined>): Promise<void> {
  const failures: unknown[] = [];
  for (const service of services) {
    if (service === undefined) continue;
    try {
      await ('stop' in service ? service.stop() : service.close());
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, `${failures.length} services failed to stop`);
}

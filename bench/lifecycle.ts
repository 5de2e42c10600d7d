/**
 * Progress lines with the elapsed time, and the stop functions of everything the benchmark
 * started, so that a failure stops it all (Ctrl-C is handled in run.ts).
 */

const started = Date.now();
export function progress(message: string): void {
  const s = Math.round((Date.now() - started) / 1000);
  const stamp = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  console.log(`[${stamp}] ${message}`);
}

/** Stop functions of everything running, so a failure or Ctrl-C stops it all. */
const resources = new Set<() => Promise<void>>();
export function own(stop: () => Promise<void>): () => Promise<void> {
  let done = false;
  const wrapped = async (): Promise<void> => {
    if (done) return;
    done = true;
    resources.delete(wrapped);
    await stop();
  };
  resources.add(wrapped);
  return wrapped;
}
export async function stopAll(): Promise<void> {
  for (const stop of [...resources].reverse()) {
    try {
      await stop();
    } catch (err) {
      console.error(`cleanup: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

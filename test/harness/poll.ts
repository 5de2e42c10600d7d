import { setTimeout as delay } from 'node:timers/promises';

/**
 * The one way tests wait for something to happen: ask again and again until a condition holds,
 * with a deadline. The deadline is a hang guard, never an assertion on speed (the machines that
 * run the suite are noisy); the pause between attempts grows from 25 ms to 250 ms.
 */

export interface PollOptions {
  /** Give up after this many ms (default 30 000). */
  timeoutMs?: number;
  /**
   * End the wait at once when check() throws (for a condition that can no longer come true,
   * such as a process that has exited). By default a throw means "not yet", and the last one
   * becomes the cause of the timeout error.
   */
  failFast?: boolean;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const FIRST_PAUSE_MS = 25;
const MAX_PAUSE_MS = 250;

/** Calls check() until it returns something other than undefined, and returns that. */
export async function poll<T>(what: string, check: () => T | undefined | Promise<T | undefined>, options: PollOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (let attempt = 0; ; attempt++) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      if (options.failFast === true) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const message = `timed out after ${timeoutMs} ms waiting for ${what}`;
      throw lastError === undefined ? new Error(message) : new Error(message, { cause: lastError });
    }
    await delay(Math.min(FIRST_PAUSE_MS * 2 ** attempt, MAX_PAUSE_MS));
  }
}

/**
 * Runs `assertion` until it stops throwing. On the deadline its last failure is thrown as is,
 * so the report shows the assertion's own message and diff.
 */
export async function eventually(what: string, assertion: () => void | Promise<void>, options: Pick<PollOptions, 'timeoutMs'> = {}): Promise<void> {
  try {
    await poll(
      what,
      async () => {
        await assertion();
        return true;
      },
      options,
    );
  } catch (err) {
    const cause = err instanceof Error ? err.cause : undefined;
    if (cause instanceof Error) {
      cause.message = `${what}: ${cause.message}`;
      throw cause;
    }
    throw err;
  }
}

/** A promise the test resolves: a fake holds a response (open) until then. */
export function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

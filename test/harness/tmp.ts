import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unmountUnderSync } from './mounts.js';

const live = new Set<string>();

/**
 * Makes a fresh directory under the OS temp dir. Kept short on purpose: dockerd and
 * containerd put unix sockets under it, and a socket path must fit in 108 bytes.
 */
export async function makeTempDir(prefix: string): Promise<string> {
  const safe = prefix.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 12) || 'sg';
  const dir = await mkdtemp(join(tmpdir(), `${safe}-`));
  live.add(dir);
  return dir;
}

/** Removes a directory tree; never throws (cleanup must not hide the test's own failure). */
export async function removeDir(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    live.delete(dir);
  } catch (err) {
    process.stderr.write(`harness: could not remove ${dir}: ${String(err)}\n`);
  }
}

/** Last-resort cleanup when the test process is interrupted: removes every dir not yet removed. */
export function removeAllTempDirsSync(): void {
  for (const dir of live) {
    try {
      unmountUnderSync(dir);
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  live.clear();
}

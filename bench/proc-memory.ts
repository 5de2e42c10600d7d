import { readFile, writeFile } from 'node:fs/promises';

/**
 * Peak resident set size of a process, from /proc (Linux). VmHWM is a high-water mark over the
 * process's life; writing 5 to /proc/<pid>/clear_refs resets it to the current RSS, so a phase
 * can measure its own peak in a long-running process.
 */

/** VmHWM of `pid`, in bytes. */
export async function peakRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
  if (!m?.[1]) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** VmRSS of `pid`, in bytes. */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m?.[1]) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** Resets the peak RSS (VmHWM) of `pid` to its current RSS. */
export async function resetPeakRss(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}

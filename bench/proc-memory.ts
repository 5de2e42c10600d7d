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

/**
 * CPU seconds `pid` has used so far, user and system, all its threads (utime + stime of
 * /proc/<pid>/stat, in clock ticks of 1/100 s on Linux).
 */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot read the CPU times in /proc/${pid}/stat`);
  return (utime + stime) / 100;
}

/** Resets the peak RSS (VmHWM) of `pid` to its current RSS. */
export async function resetPeakRss(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}

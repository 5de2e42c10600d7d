import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../test/harness/signet.js';

/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time per function (sum of the sample
 * intervals whose top frame is that function), highest first. Also runnable on its own:
 *   node --import tsx bench/cpuprofile.ts <file.cpuprofile> [top]
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  function: string;
  /** file:line, relative to the repository when inside it. */
  location: string;
  selfMs: number;
  /** Percent of all sampled time. */
  percent: number;
}

function describeLocation(frame: CallFrame): string {
  if (!frame.url) return '(native)';
  let file = frame.url;
  if (file.startsWith('file://')) file = relative(REPO_ROOT, new URL(file).pathname);
  return `${file}:${frame.lineNumber + 1}`;
}

export function summarizeCpuProfile(profile: CpuProfile, top = 20): { totalMs: number; functions: SelfTime[] } {
  const byId = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, { fn: string; location: string; us: number }>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i] ?? -1);
    // timeDeltas[i] is the time before sample i; attribute the interval after it to sample i
    const us = Math.max(0, deltas[i + 1] ?? 0);
    if (!node) continue;
    total += us;
    const fn = node.callFrame.functionName || '(anonymous)';
    const location = describeLocation(node.callFrame);
    const key = `${fn}\u0000${location}`;
    const entry = self.get(key) ?? { fn, location, us: 0 };
    entry.us += us;
    self.set(key, entry);
  }
  const functions = [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({
      function: e.fn,
      location: e.location,
      selfMs: Math.round(e.us / 100) / 10,
      percent: total > 0 ? Math.round((e.us / total) * 1000) / 10 : 0,
    }));
  return { totalMs: Math.round(total / 1000), functions };
}

export async function summarizeCpuProfileFile(path: string, top = 20): Promise<{ totalMs: number; functions: SelfTime[] }> {
  return summarizeCpuProfile(JSON.parse(await readFile(path, 'utf8')) as CpuProfile, top);
}

export function formatSelfTimes(summary: { totalMs: number; functions: SelfTime[] }): string {
  const lines = [`sampled ${summary.totalMs} ms`, '  self ms   self %  function  (location)'];
  for (const f of summary.functions) {
    lines.push(`  ${f.selfMs.toFixed(1).padStart(7)}  ${f.percent.toFixed(1).padStart(6)}%  ${f.function}  (${f.location})`);
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node --import tsx bench/cpuprofile.ts <file.cpuprofile> [top]');
    process.exit(1);
  }
  summarizeCpuProfileFile(file, Number(process.argv[3] ?? 20)).then(
    (s) => console.log(formatSelfTimes(s)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}

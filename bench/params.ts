import { parseArgs } from 'node:util';
import { MiB } from './stats.js';

/** Command-line parameters of `npm run bench` and what --quick changes. */

export const PHASES = ['blob', 'tag', 'herd', 'docker', 'fanout', 'bundle', 'scale'] as const;
export type Phase = (typeof PHASES)[number];

export interface Params {
  mode: 'quick' | 'full';
  reps: number;
  blobBytes: number;
  tagSeconds: number;
  tagWarmupSeconds: number;
  wrkConnections: number;
  wrkThreads: number;
  herdClients: number;
  fanoutClients: number;
  bigImage: { layers: number; totalBytes: number; filesPerLayer: number };
  /** The image `signet bundle export` and `import` carry: layers of incompressible bytes. */
  bundleImage: { layers: number; totalBytes: number };
  phases: Phase[];
  cpuProf: boolean;
  /** Proxies on one CPU, everything else on the others (taskset): what bounds a figure when the proxy has a core of its own. */
  pin: boolean;
  /** Only re-render docs/BENCHMARKS.md from bench/results/latest.json. */
  reportOnly: boolean;
}

export function parseParams(argv: string[]): Params {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      pin: { type: 'boolean', default: false },
      only: { type: 'string' },
      reps: { type: 'string' },
      'report-only': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: npm run bench [-- --quick] [--cpu-prof] [--pin] [--only=blob,tag,herd,docker,fanout,bundle,scale] [--reps=N] [--report-only]');
    process.exit(0);
  }
  const quick = values.quick;
  let phases: Phase[] = [...PHASES];
  if (values.only !== undefined) {
    const wanted = values.only
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const unknown = wanted.filter((w) => !(PHASES as readonly string[]).includes(w));
    if (unknown.length > 0) throw new Error(`--only: unknown phase(s) ${unknown.join(', ')}; phases are ${PHASES.join(', ')}`);
    phases = PHASES.filter((p) => wanted.includes(p));
  }
  const reps = values.reps === undefined ? (quick ? 3 : 5) : Number(values.reps);
  if (!Number.isInteger(reps) || reps < 1 || reps > 50) throw new Error(`--reps must be an integer from 1 to 50, got ${values.reps ?? ''}`);
  return {
    mode: quick ? 'quick' : 'full',
    reps,
    blobBytes: (quick ? 64 : 512) * MiB,
    tagSeconds: quick ? 5 : 10,
    tagWarmupSeconds: quick ? 1 : 2,
    wrkConnections: 64,
    wrkThreads: 2,
    herdClients: 20,
    fanoutClients: 20,
    bigImage: { layers: 5, totalBytes: (quick ? 40 : 200) * MiB, filesPerLayer: 4 },
    bundleImage: { layers: 4, totalBytes: (quick ? 256 : 2048) * MiB },
    phases,
    cpuProf: values['cpu-prof'],
    pin: values.pin,
    reportOnly: values['report-only'],
  };
}

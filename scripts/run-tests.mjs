#!/usr/bin/env node
// Runs the node:test suites: every *.test.ts under the given directories or files (default:
// test, that is all three tiers: test/unit, test/integration, test/e2e).
//
// Three lanes, one node:test run each, one after the other:
// - unit files, as many at a time as the machine has cores: each is its own process, pure and
//   in process, so they cannot meet;
// - integration files one at a time: they start real servers (a registry, notary-server,
//   radosgw, Redis) and time what those do, and two of them at once on CI's two cores, next to
//   the servers of both, were slow enough once to fail a test that passes alone;
// - e2e files one at a time: they start dockerd and containerd, which take the machine's
//   cgroups, mounts and loopback addresses for themselves.
// (node:test orders the files of a lane by path itself.) A lane that fails does not stop the
// other; the exit code is non-zero when either failed.
//
// The reporter is TAP unless stdout is a terminal: CI reads the summary lines (`# pass N`,
// `# fail N`) of each lane, and the total printed at the end. Node 24 would otherwise pick the
// spec reporter for pipes too.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';

function collect(path, out) {
  const stat = statSync(path);
  if (stat.isFile()) {
    out.push(path);
    return;
  }
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const child = join(path, entry.name);
    if (entry.isDirectory()) collect(child, out);
    else if (entry.isFile() && entry.name.endsWith('.test.ts')) out.push(child);
  }
}

const args = process.argv.slice(2);
const roots = args.length > 0 ? args : ['test'];
const files = [];
for (const root of roots) {
  try {
    collect(root, files);
  } catch (err) {
    console.error(`run-tests: ${root}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
}
const unique = [...new Set(files.map((f) => relative(process.cwd(), resolve(f))))].sort();
if (unique.length === 0) {
  console.error(`run-tests: no *.test.ts files under ${roots.join(', ')}`);
  process.exit(1);
}

const tier = (file) => (file.startsWith(`test${sep}e2e${sep}`) ? 'e2e' : file.startsWith(`test${sep}integration${sep}`) ? 'integration' : 'unit');
const lanes = [
  { name: 'unit', files: unique.filter((f) => tier(f) === 'unit'), concurrency: Math.max(1, availableParallelism()) },
  { name: 'integration', files: unique.filter((f) => tier(f) === 'integration'), concurrency: 1 },
  { name: 'e2e', files: unique.filter((f) => tier(f) === 'e2e'), concurrency: 1 },
].filter((lane) => lane.files.length > 0);

const reporter = process.stdout.isTTY ? 'spec' : 'tap';
let current;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    current?.kill(signal);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

/** Runs one lane; resolves with its exit code and the counts of its summary. */
function runLane(lane) {
  return new Promise((resolveLane) => {
    const counts = { pass: 0, fail: 0 };
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', `--test-concurrency=${lane.concurrency}`, `--test-reporter=${reporter}`, ...lane.files],
      {
        stdio: ['inherit', 'pipe', 'inherit'],
      },
    );
    current = child;
    let pending = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        // The summary of node:test: `# pass N` (TAP) or `ℹ pass N` (spec).
        const m = /^(?:#|ℹ) (pass|fail) (\d+)$/.exec(line.trim());
        if (m) counts[m[1]] = Number(m[2]);
      }
    });
    child.on('exit', (code, signal) => resolveLane({ code: code ?? (signal ? 1 : 0), counts }));
  });
}

let failed = false;
const total = { pass: 0, fail: 0 };
for (const lane of lanes) {
  console.log(`# lane: ${lane.name}, ${lane.files.length} files, ${lane.concurrency} at a time`);
  const { code, counts } = await runLane(lane);
  total.pass += counts.pass;
  total.fail += counts.fail;
  if (code !== 0) failed = true;
}
console.log(`# all lanes: pass ${total.pass}, fail ${total.fail}`);
process.exit(failed ? 1 : 0);

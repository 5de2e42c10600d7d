#!/usr/bin/env node
// Runs the node:test suites: every *.test.ts under the given directories or files (default:
// test, that is all three tiers: test/unit, test/integration, test/e2e), one file at a time (the
// e2e tests start daemons), in one node:test run so that there is one summary. (node:test orders
// the files by path itself.)
//
// The reporter is TAP unless stdout is a terminal: CI reads its summary lines (`# pass N`,
// `# fail N`). Node 24 would otherwise pick the spec reporter for pipes too.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

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

const reporter = process.stdout.isTTY ? 'spec' : 'tap';
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', `--test-reporter=${reporter}`, ...unique], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => {
  process.exit(code ?? (signal ? 1 : 0));
});

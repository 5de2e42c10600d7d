import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nodeVersionProblem } from '../../../src/cli/runtime.js';

// The CLI refuses an unsupported Node.js before it loads anything else. The machines this project
// runs on carry Debian's Node.js 20 at /usr/bin/node, next to the Node.js 24 that `npm ci` installs
// in node_modules/.bin (the one running this test).
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SYSTEM_NODE = '/usr/bin/node';

const cli = (node: string, ...args: string[]) =>
  // Without NODE_V8_COVERAGE: an older Node transpiles the sources differently (tsx targets the
  // running version), and its coverage of code it never ran would be merged into the report.
  spawnSync(node, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: withoutCoverage() });

/** The version of `node`, or why it cannot be used here. */
function versionOf(node: string): { version: string } | { skip: string } {
  if (!existsSync(node)) return { skip: `${node} does not exist` };
  const r = spawnSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) return { skip: `${node} -p process.versions.node failed: ${r.stderr || String(r.error)}` };
  return { version: r.stdout.trim() };
}

const system = versionOf(SYSTEM_NODE);
const oldNode: { version: string; problem: string } | { skip: string } = (() => {
  if ('skip' in system) return system;
  const problem = nodeVersionProblem(system.version);
  if (problem === undefined) return { skip: `${SYSTEM_NODE} is Node.js ${system.version}, which Signet supports: no older Node.js here to be refused` };
  return { version: system.version, problem };
})();

describe('signet on an unsupported Node.js', () => {
  it('exits 1 with the reason on stderr, before running any command', { skip: 'skip' in oldNode ? oldNode.skip : false }, () => {
    assert.ok('problem' in oldNode);
    const r = cli(SYSTEM_NODE, '--help');
    assert.equal(r.error, undefined);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr, `${oldNode.problem}\n`);
    assert.match(r.stderr, new RegExp(`^Signet needs Node\\.js 24\\.15\\.0 or newer \\(this is ${oldNode.version.replaceAll('.', '\\.')}\\)`));
    assert.equal(r.stdout, '', 'no usage text: the CLI did not run');
  });

  it('runs on the Node.js that npm puts first on PATH', () => {
    const r = cli(process.execPath, '--help');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Usage: signet <command>/);
    assert.equal(r.stderr, '');
  });
});

function withoutCoverage(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['NODE_V8_COVERAGE'];
  return env;
}

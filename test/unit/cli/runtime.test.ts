import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { MIN_NODE_VERSION, nodeVersionProblem } from '../../../src/cli/runtime.js';

describe('nodeVersionProblem', () => {
  it('accepts the minimum release, later 24.x releases and later majors', () => {
    for (const version of ['24.15.0', '24.15.1', '24.21.0', 'v24.21.0', '25.0.0', '26.3.1', '26.0.0-pre', '100.0.0']) {
      assert.equal(nodeVersionProblem(version), undefined, version);
    }
  });

  it('refuses older releases, naming the minimum, the running version and how to run on the supported one', () => {
    assert.equal(
      nodeVersionProblem('20.20.2'),
      'Signet needs Node.js 24.15.0 or newer (this is 20.20.2): run it with `npm start` or `npx signet`, ' +
        'which use the Node.js that `npm ci` puts in node_modules/.bin, or install Node.js 24 LTS',
    );
    for (const version of ['24.14.9', '24.0.0', '23.11.0', '22.22.2', '18.20.8', 'v20.18.1', '0.10.48']) {
      const problem = nodeVersionProblem(version);
      assert.ok(problem !== undefined, version);
      assert.ok(problem.includes(`(this is ${version.replace(/^v/, '')})`), problem);
    }
  });

  it('compares numerically, not as text', () => {
    assert.notEqual(nodeVersionProblem('24.9.0'), undefined, '9 < 15');
    assert.equal(nodeVersionProblem('24.100.0'), undefined, '100 > 15');
    assert.notEqual(nodeVersionProblem('3.0.0'), undefined, '3 < 24');
  });

  it('refuses a version it cannot read, quoting it', () => {
    for (const version of ['', 'banana', '24', '24.15', 'x24.15.0']) {
      const problem = nodeVersionProblem(version);
      assert.ok(problem?.includes(`(this is ${JSON.stringify(version)})`), `${version}: ${String(problem)}`);
    }
  });

  it('accepts the Node.js running this test (the one npm puts first on PATH)', () => {
    assert.equal(nodeVersionProblem(process.versions.node), undefined);
  });

  it('matches engines.node in package.json', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { engines?: { node?: unknown } };
    assert.equal(pkg.engines?.node, `>=${MIN_NODE_VERSION}`);
  });
});

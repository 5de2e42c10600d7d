import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SignetError } from '../../../../src/errors.js';
import { prepareCosignPolicy, verifyBundle, type CosignClaim } from '../../../../src/trust/cosign/sigstore-verifier.js';
import { Denial } from '../../../../src/trust/source.js';

/**
 * The Sigstore conformance suite's bundle-verify cases, run through Signet's verifier as the
 * suite's driver runs a client (test/fixtures/sigstore-conformance/README.md): each case twice,
 * with the artifact's bytes and with its digest alone; `_fail` cases must be refused, the others
 * verified. Offline: cases without their own root use sigstore-go's copy of the public-good root.
 */

const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url));
const CASES = join(FIXTURES, 'sigstore-conformance/bundle-verify');
const PUBLIC_GOOD = join(FIXTURES, 'sigstore-go/trusted-roots/public-good.json');
const DEFAULT_IDENTITY =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const DEFAULT_ISSUER = 'https://token.actions.githubusercontent.com';

/**
 * The DIGEST run of a message-signature case asks to verify an ECDSA signature from the artifact's
 * SHA-256 alone. node:crypto verifies over the signed bytes and hashes them itself (no prehash
 * mode), and Signet never needs it: images are signed as DSSE statements, legacy payloads come
 * with their bytes. The same case runs with the artifact's bytes (PATH) and must pass there.
 */
const DIGEST_ONLY_MESSAGE =
  'a message signature cannot be verified from the digest alone with node:crypto; Signet always holds the signed bytes (the PATH run covers this case)';

function optional(dir: string, file: string): string | undefined {
  const path = join(dir, file);
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

describe('sigstore-conformance bundle-verify', () => {
  const names = readdirSync(CASES, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();

  it('has every case of the suite', () => {
    assert.equal(names.length, 70);
  });

  for (const name of names) {
    const dir = join(CASES, name);
    const mustFail = name.endsWith('_fail');
    const artifact = readFileSync(existsSync(join(dir, 'artifact')) ? join(dir, 'artifact') : join(CASES, 'a.txt'));
    const claims: Array<[string, CosignClaim]> = [
      ['PATH', { artifact }],
      ['DIGEST', { artifactDigest: `sha256:${createHash('sha256').update(artifact).digest('hex')}` }],
    ];
    for (const [mode, claim] of claims) {
      it(`${mode} ${name}: ${mustFail ? 'refused' : 'verified'}`, (t) => {
        const key = optional(dir, 'key.pub');
        const rootPath = existsSync(join(dir, 'trusted_root.json')) ? join(dir, 'trusted_root.json') : PUBLIC_GOOD;
        let outcome: unknown;
        try {
          const bundleJson: unknown = JSON.parse(readFileSync(join(dir, 'bundle.sigstore.json'), 'utf8'));
          const policy = prepareCosignPolicy({
            keys: key === undefined ? [] : [{ path: 'key.pub', pem: key }],
            identities:
              key === undefined
                ? [
                    {
                      issuer: optional(dir, 'issuer')?.trim() ?? DEFAULT_ISSUER,
                      subject: { kind: 'exact', value: optional(dir, 'identity')?.trim() ?? DEFAULT_IDENTITY },
                      extensions: {},
                    },
                  ]
                : [],
            trustedRoot: { path: rootPath, json: JSON.parse(readFileSync(rootPath, 'utf8')) },
            tlog: true,
            path: `conformance.${name}`,
          });
          outcome = verifyBundle(bundleJson, claim, policy);
        } catch (err) {
          outcome = err;
        }
        if (outcome instanceof SignetError && outcome.code === 'UNSUPPORTED') {
          t.skip(DIGEST_ONLY_MESSAGE);
          return;
        }
        if (mustFail) {
          // Refused: a Denial, a malformed file (JSON), or a trusted root that is a configuration error.
          assert.ok(outcome instanceof Error, `${name} must be refused`);
          assert.ok(
            outcome instanceof Denial || outcome instanceof SyntaxError || (outcome instanceof SignetError && outcome.code === 'CONFIG_INVALID'),
            String(outcome),
          );
        } else {
          assert.ok(!(outcome instanceof Error), `${name} must verify: ${outcome instanceof Error ? outcome.message : ''}`);
        }
      });
    }
  }
});

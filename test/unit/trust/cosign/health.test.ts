/**
 * cosign trust health: what a prepared requirement's trusted_root.json and pinned keys hold and
 * until when the root trusts each part. The root is the Sigstore public-good instance's, as
 * sigstore-go tests with it (test/fixtures/sigstore-go/trusted-roots/public-good.json): a retired
 * Fulcio CA and CT log with ended windows, the current ones open-ended, a timestamp authority.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { CosignRequirements } from '../../../../src/config/load.js';
import { cosignHealth } from '../../../../src/trust/cosign/health.js';
import { createSigstoreVerifier } from '../../../../src/trust/cosign/sigstore-verifier.js';
import { cosignKeyPair } from '../../../harness/cosign-keys.js';

const ROOT_PATH = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'sigstore-go', 'trusted-roots', 'public-good.json');
const PATH = 'policy.rules[1].require.cosign';
const SCOPE = `${PATH} trusted root`;

function requirement(overrides: Partial<CosignRequirements>): CosignRequirements {
  return {
    keys: [],
    identities: [],
    trustedRoot: { path: ROOT_PATH, json: JSON.parse(readFileSync(ROOT_PATH, 'utf8')) as unknown },
    tlog: true,
    threshold: 1,
    repository: undefined,
    path: PATH,
    ...overrides,
  };
}

describe('cosignHealth', () => {
  const key = cosignKeyPair('ecdsa-p256');
  const prepared = createSigstoreVerifier().prepare(requirement({ keys: [{ path: '/etc/signet/cosign.pub', pem: key.publicKeyPem }] }));
  const items = cosignHealth(prepared, PATH);

  it('lists the Fulcio CA certificates of the trusted root with their validity', () => {
    const cas = items.filter((i) => i.position === 'ca' && i.kind === 'certificate' && !i.name.includes('validity window'));
    assert.deepEqual(
      cas.map((i) => [i.scope, i.name, i.notBefore, i.expires]),
      [
        // certificateAuthorities[0]: the first Fulcio root alone.
        [SCOPE, 'O=sigstore.dev, CN=sigstore', '2021-03-07T03:20:29.000Z', '2031-02-23T03:20:29.000Z'],
        // certificateAuthorities[1]: intermediate, then its root.
        [SCOPE, 'O=sigstore.dev, CN=sigstore-intermediate', '2022-04-13T20:06:15.000Z', '2031-10-05T13:56:58.000Z'],
        [SCOPE, 'O=sigstore.dev, CN=sigstore', '2021-10-07T13:56:59.000Z', '2031-10-05T13:56:58.000Z'],
      ],
    );
  });

  it('reports the window a CA is trusted for when the root ends it, and only then', () => {
    const windows = items.filter((i) => i.name.includes('validity window'));
    assert.deepEqual(windows, [
      {
        format: 'cosign',
        scope: SCOPE,
        kind: 'certificate',
        name: 'Fulcio CA certificateAuthorities[0] validity window (O=sigstore.dev, CN=sigstore)',
        position: 'ca',
        notBefore: '2021-03-07T03:20:29.000Z',
        expires: '2022-12-31T23:59:59.999Z',
      },
    ]);
  });

  it('lists the timestamp authority chain, signing certificate first', () => {
    assert.deepEqual(
      items.filter((i) => i.position === 'tsa').map((i) => [i.kind, i.name, i.expires]),
      [
        ['certificate', 'O=GitHub\\, Inc., CN=TSA Timestamping', '2024-04-13T00:00:00.000Z'],
        ['certificate', 'O=GitHub\\, Inc., CN=TSA intermediate', '2028-04-12T00:00:00.000Z'],
        ['certificate', 'O=GitHub\\, Inc., CN=Internal Services Root', '2033-04-11T00:00:00.000Z'],
      ],
    );
  });

  it('lists the Rekor and CT log keys with the windows the root gives them', () => {
    assert.deepEqual(
      items.filter((i) => i.kind === 'key' && i.scope === SCOPE),
      [
        // The log IDs of the root (base64 there) as Rekor and CT entries show them: hex.
        { format: 'cosign', scope: SCOPE, kind: 'key', name: 'Rekor log key c0d23d6ad406 (https://rekor.sigstore.dev)', notBefore: '2021-01-12T11:53:27.000Z' },
        {
          format: 'cosign',
          scope: SCOPE,
          kind: 'key',
          name: 'CT log key 086092f02852 (https://ctfe.sigstore.dev/test)',
          notBefore: '2021-03-14T00:00:00.000Z',
          expires: '2022-10-31T23:59:59.999Z',
        },
        {
          format: 'cosign',
          scope: SCOPE,
          kind: 'key',
          name: 'CT log key dd3d306ac6c7 (https://ctfe.sigstore.dev/2022)',
          notBefore: '2022-10-20T00:00:00.000Z',
        },
      ],
    );
  });

  it('lists pinned keys without a validity, by key ID and file', () => {
    assert.deepEqual(
      items.filter((i) => i.scope === `${PATH} keys`),
      [{ format: 'cosign', scope: `${PATH} keys`, kind: 'key', name: `key ${key.keyId.slice(0, 12)} (/etc/signet/cosign.pub)` }],
    );
  });

  it('a keys-only requirement reports its keys alone', () => {
    const keysOnly = createSigstoreVerifier().prepare(
      requirement({ keys: [{ path: 'cosign.pub', pem: key.publicKeyPem }], trustedRoot: undefined, tlog: false }),
    );
    assert.deepEqual(
      cosignHealth(keysOnly, PATH).map((i) => [i.scope, i.kind, i.name]),
      [[`${PATH} keys`, 'key', `key ${key.keyId.slice(0, 12)} (cosign.pub)`]],
    );
  });

  it('a requirement another verifier prepared has nothing to report', () => {
    assert.deepEqual(cosignHealth({ requirement: requirement({}) }, PATH), []);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignetError } from '../../../../src/errors.js';
import {
  leafSubjectProblem,
  matchIdentity,
  parseDistinguishedName,
  parseTrustPolicy,
  selectStatement,
  subjectAttributes,
  subjectString,
} from '../../../../src/trust/notation/trust-policy.js';
import type { TrustPolicyStatement } from '../../../../src/trust/notation/types.js';

const WHERE = 'policy.rules.0.require.notation.trustPolicy';

/** A valid statement, with `extra` merged over it. */
function statement(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'wabbit',
    registryScopes: ['registry.example.com/team/app'],
    signatureVerification: { level: 'strict' },
    trustStores: ['ca:wabbit-networks'],
    trustedIdentities: ['x509.subject: C=US, ST=WA, L=Seattle, O=wabbit-networks.io, OU=Security Tools'],
    ...extra,
  };
}

function doc(...statements: unknown[]): unknown {
  return { version: '1.0', trustPolicies: statements };
}

/** Asserts parseTrustPolicy refuses `json` with a CONFIG_INVALID error at `path` whose message matches `pattern`. */
function refuses(json: unknown, path: string, pattern: RegExp): void {
  assert.throws(
    () => parseTrustPolicy(json, WHERE),
    (err: unknown) => {
      assert.ok(err instanceof SignetError, `not a SignetError: ${String(err)}`);
      assert.equal(err.code, 'CONFIG_INVALID');
      const prefix = path === '' ? `${WHERE}: ` : `${WHERE}: ${path}: `;
      assert.ok(err.message.startsWith(prefix), `"${err.message}" does not start with "${prefix}"`);
      assert.match(err.message.slice(prefix.length), pattern);
      return true;
    },
  );
}

function only(json: unknown): TrustPolicyStatement {
  const parsed = parseTrustPolicy(json, WHERE);
  assert.equal(parsed.statements.length, 1);
  return parsed.statements[0] as TrustPolicyStatement;
}

describe('parseTrustPolicy: documents notation accepts', () => {
  it('reads the specification example with four statements', () => {
    // trust-store-trust-policy.md, "Trust Policy for OCI artifacts", example 2 (comments removed).
    const parsed = parseTrustPolicy(
      {
        version: '1.0',
        trustPolicies: [
          {
            name: 'wabbit-networks-images',
            registryScopes: ['registry.acme-rockets.io/software/net-monitor', 'registry.acme-rockets.io/software/net-logger'],
            signatureVerification: { level: 'strict' },
            trustStores: ['ca:wabbit-networks'],
            trustedIdentities: ['x509.subject: C=US, ST=WA, L=Seattle, O=wabbit-networks.io, OU=Security Tools'],
          },
          { name: 'unsigned-image', registryScopes: ['registry.wabbit-networks.io/software/unsigned/net-utils'], signatureVerification: { level: 'skip' } },
          {
            name: 'use-expired-image',
            registryScopes: ['registry.acme-rockets.io/software/legacy/metrics'],
            signatureVerification: { level: 'strict', override: { expiry: 'log', revocation: 'skip' } },
            trustStores: ['ca:acme-rockets'],
            trustedIdentities: ['*'],
          },
          {
            name: 'global-policy-for-all-other-images',
            registryScopes: ['*'],
            signatureVerification: { level: 'audit', verifyTimestamp: 'afterCertExpiry' },
            trustStores: ['ca:acme-rockets', 'ca:acme-rockets-ca2', 'tsa:trusted-tsa'],
            trustedIdentities: ['x509.subject: C=US, ST=WA, L=Seattle, O=acme-rockets.io, OU=Finance, CN=SecureBuilder'],
          },
        ],
      },
      WHERE,
    );
    assert.equal(parsed.version, '1.0');
    const [wabbit, unsigned, expired, global] = parsed.statements as TrustPolicyStatement[];
    assert.ok(wabbit && unsigned && expired && global);
    assert.deepEqual(wabbit.registryScopes, ['registry.acme-rockets.io/software/net-monitor', 'registry.acme-rockets.io/software/net-logger']);
    assert.equal(wabbit.level, 'strict');
    assert.equal(wabbit.verifyTimestamp, 'always');
    assert.deepEqual(wabbit.trustStores, [{ type: 'ca', name: 'wabbit-networks' }]);
    assert.deepEqual(wabbit.trustedIdentities, [
      {
        text: 'x509.subject: C=US, ST=WA, L=Seattle, O=wabbit-networks.io, OU=Security Tools',
        attributes: [
          ['C', 'US'],
          ['ST', 'WA'],
          ['L', 'Seattle'],
          ['O', 'wabbit-networks.io'],
          ['OU', 'Security Tools'],
        ],
      },
    ]);
    assert.equal(unsigned.level, 'skip');
    assert.deepEqual(unsigned.trustStores, []);
    assert.deepEqual(unsigned.trustedIdentities, []);
    assert.deepEqual(expired.actions, { integrity: 'enforce', authenticity: 'enforce', authenticTimestamp: 'enforce', expiry: 'log', revocation: 'skip' });
    assert.equal(expired.trustedIdentities, '*');
    assert.equal(global.verifyTimestamp, 'afterCertExpiry');
    assert.deepEqual(global.trustStores, [
      { type: 'ca', name: 'acme-rockets' },
      { type: 'ca', name: 'acme-rockets-ca2' },
      { type: 'tsa', name: 'trusted-tsa' },
    ]);
    assert.ok(Object.isFrozen(parsed) && Object.isFrozen(parsed.statements) && Object.isFrozen(wabbit.actions));
  });

  it('gives each level the actions of the specification table', () => {
    const actionsOf = (level: string) => only(doc(statement({ signatureVerification: { level } }))).actions;
    assert.deepEqual(actionsOf('strict'), {
      integrity: 'enforce',
      authenticity: 'enforce',
      authenticTimestamp: 'enforce',
      expiry: 'enforce',
      revocation: 'enforce',
    });
    assert.deepEqual(actionsOf('permissive'), { integrity: 'enforce', authenticity: 'enforce', authenticTimestamp: 'log', expiry: 'log', revocation: 'log' });
    assert.deepEqual(actionsOf('audit'), { integrity: 'enforce', authenticity: 'log', authenticTimestamp: 'log', expiry: 'log', revocation: 'log' });
    const skip = only(doc({ name: 's', registryScopes: ['r.io/a'], signatureVerification: { level: 'skip' } })).actions;
    assert.deepEqual(skip, { integrity: 'skip', authenticity: 'skip', authenticTimestamp: 'skip', expiry: 'skip', revocation: 'skip' });
  });

  it('applies overrides over the level', () => {
    const actions = (level: string, override: Record<string, string>) => only(doc(statement({ signatureVerification: { level, override } }))).actions;
    assert.deepEqual(actions('audit', { authenticity: 'enforce', authenticTimestamp: 'enforce', expiry: 'enforce', revocation: 'enforce' }), {
      integrity: 'enforce',
      authenticity: 'enforce',
      authenticTimestamp: 'enforce',
      expiry: 'enforce',
      revocation: 'enforce',
    });
    assert.deepEqual(actions('strict', { authenticity: 'log', revocation: 'skip' }), {
      integrity: 'enforce',
      authenticity: 'log',
      authenticTimestamp: 'enforce',
      expiry: 'enforce',
      revocation: 'skip',
    });
    assert.equal(actions('permissive', { revocation: 'skip' }).revocation, 'skip');
    assert.equal(actions('permissive', {}).revocation, 'log');
  });

  it('accepts an empty override on skip, and null for optional fields (as Go leaves them unset)', () => {
    const skip = only(
      doc({ name: 's', registryScopes: ['r.io/a'], signatureVerification: { level: 'skip', override: {} }, trustStores: null, trustedIdentities: [] }),
    );
    assert.equal(skip.level, 'skip');
    const strict = only(doc(statement({ signatureVerification: { level: 'strict', override: null, verifyTimestamp: null } })));
    assert.equal(strict.verifyTimestamp, 'always');
    assert.equal(only(doc(statement({ signatureVerification: { level: 'strict', verifyTimestamp: '' } }))).verifyTimestamp, 'always');
    assert.equal(only(doc(statement({ signatureVerification: { level: 'strict', verifyTimestamp: 'always' } }))).verifyTimestamp, 'always');
  });

  it('accepts registry scopes of the distribution reference grammar', () => {
    const scopes = [
      'localhost:5000/a',
      'registry.example.com/team/app',
      'r.io/a.b_c__d--e/f',
      'local/myOCILayout'.toLowerCase(),
      '127.0.0.1:8080/x/y/z',
      'a-b.c/d',
    ];
    assert.deepEqual(only(doc(statement({ registryScopes: scopes }))).registryScopes, scopes);
  });

  it('loads a store listed twice once, as notation-go does', () => {
    assert.deepEqual(only(doc(statement({ trustStores: ['ca:a', 'tsa:t', 'ca:a'] }))).trustStores, [
      { type: 'ca', name: 'a' },
      { type: 'tsa', name: 't' },
    ]);
  });

  it('accepts the signingAuthority type and store names of [a-zA-Z0-9_.-]', () => {
    assert.deepEqual(only(doc(statement({ trustStores: ['signingAuthority:A-b_c.9'] }))).trustStores, [{ type: 'signingAuthority', name: 'A-b_c.9' }]);
  });
});

describe('parseTrustPolicy: document rules', () => {
  it('refuses what is not an object', () => {
    refuses([], '', /must be a JSON object/);
    refuses(null, '', /must be a JSON object/);
    refuses('{}', '', /must be a JSON object/);
  });

  it('refuses unknown keys, with a hint for case and for blob policies', () => {
    refuses({ version: '1.0', trustPolicies: [statement()], extra: 1 }, 'extra', /unknown key "extra".*version, trustPolicies/);
    refuses({ Version: '1.0', trustPolicies: [statement()] }, 'Version', /case-sensitive, write "version"/);
    refuses(doc(statement({ RegistryScopes: ['r.io/a'] })), 'trustPolicies[0].RegistryScopes', /write "registryScopes"/);
    refuses(doc(statement({ globalPolicy: true })), 'trustPolicies[0].globalPolicy', /blob trust policies/);
    refuses(
      doc(statement({ signatureVerification: { level: 'strict', levels: 'x' } })),
      'trustPolicies[0].signatureVerification.levels',
      /unknown key "levels"/,
    );
  });

  it('needs version 1.0', () => {
    refuses({ trustPolicies: [statement()] }, 'version', /missing or empty/);
    refuses({ version: '', trustPolicies: [statement()] }, 'version', /missing or empty/);
    refuses({ version: null, trustPolicies: [statement()] }, 'version', /missing or empty/);
    refuses({ version: '2.0', trustPolicies: [statement()] }, 'version', /unsupported version "2.0"/);
    refuses({ version: 1.0, trustPolicies: [statement()] }, 'version', /must be a string, not number 1/);
  });

  it('needs at least one statement', () => {
    refuses({ version: '1.0' }, 'trustPolicies', /at least one statement/);
    refuses({ version: '1.0', trustPolicies: [] }, 'trustPolicies', /at least one statement/);
    refuses({ version: '1.0', trustPolicies: {} }, 'trustPolicies', /must be an array/);
    refuses(doc('x'), 'trustPolicies[0]', /must be a JSON object/);
  });

  it('needs unique, non-empty statement names', () => {
    refuses(doc(statement({ name: '' })), 'trustPolicies[0].name', /needs a name/);
    refuses(doc(statement({ name: undefined })), 'trustPolicies[0].name', /needs a name/);
    refuses(doc(statement({ name: 7 })), 'trustPolicies[0].name', /must be a string/);
    refuses(doc(statement(), statement({ registryScopes: ['r.io/other'] })), 'trustPolicies[1].name', /"wabbit" is already the name of another statement/);
  });
});

describe('parseTrustPolicy: signatureVerification rules', () => {
  const sv = (signatureVerification: unknown) => doc(statement({ signatureVerification }));
  const at = 'trustPolicies[0].signatureVerification';

  it('needs a known level', () => {
    refuses(doc(statement({ signatureVerification: undefined })), `${at}.level`, /missing or empty/);
    refuses(sv({}), `${at}.level`, /missing or empty: set it to one of strict, permissive, audit, skip/);
    refuses(sv({ level: 'Strict' }), `${at}.level`, /invalid verification level "Strict"/);
    refuses(sv({ level: 'custom' }), `${at}.level`, /invalid verification level/);
    refuses(sv('strict'), at, /must be an object/);
  });

  it('refuses overrides on skip', () => {
    refuses(
      doc({ name: 's', registryScopes: ['r.io/a'], signatureVerification: { level: 'skip', override: { revocation: 'log' } } }),
      `${at}.override`,
      /cannot be customized/,
    );
  });

  it('refuses unknown checks and actions, integrity overrides, and skipping other than revocation', () => {
    refuses(
      sv({ level: 'strict', override: { signature: 'log' } }),
      `${at}.override.signature`,
      /not a check that can be overridden: use authenticity, authenticTimestamp, expiry, revocation/,
    );
    refuses(sv({ level: 'strict', override: { expiry: 'warn' } }), `${at}.override.expiry`, /unsupported action "warn"/);
    refuses(sv({ level: 'strict', override: { expiry: 1 } }), `${at}.override.expiry`, /unsupported action 1/);
    refuses(sv({ level: 'strict', override: { integrity: 'log' } }), `${at}.override.integrity`, /cannot be overridden/);
    refuses(sv({ level: 'strict', override: { integrity: 'enforce' } }), `${at}.override.integrity`, /cannot be overridden/);
    // As notation-go: the action is checked before the integrity rule.
    refuses(sv({ level: 'strict', override: { integrity: 'bogus' } }), `${at}.override.integrity`, /unsupported action/);
    for (const check of ['authenticity', 'authenticTimestamp', 'expiry']) {
      refuses(sv({ level: 'audit', override: { [check]: 'skip' } }), `${at}.override.${check}`, /cannot be skipped/);
    }
    refuses(sv({ level: 'strict', override: ['expiry'] }), `${at}.override`, /must be an object/);
  });

  it('needs verifyTimestamp always or afterCertExpiry', () => {
    refuses(sv({ level: 'strict', verifyTimestamp: 'never' }), `${at}.verifyTimestamp`, /"always" or "afterCertExpiry", not "never"/);
    refuses(sv({ level: 'strict', verifyTimestamp: 'AfterCertExpiry' }), `${at}.verifyTimestamp`, /not "AfterCertExpiry"/);
    // checked on skip statements too
    refuses(doc({ name: 's', registryScopes: ['r.io/a'], signatureVerification: { level: 'skip', verifyTimestamp: 'x' } }), `${at}.verifyTimestamp`, /must be/);
  });
});

describe('parseTrustPolicy: trustStores and trustedIdentities rules', () => {
  const at = 'trustPolicies[0]';

  it('refuses trust stores or identities on a skip statement', () => {
    const skip = (extra: Record<string, unknown>) => doc({ name: 's', registryScopes: ['r.io/a'], signatureVerification: { level: 'skip' }, ...extra });
    refuses(skip({ trustStores: ['ca:x'] }), at, /skips signature verification but has trustStores/);
    refuses(skip({ trustedIdentities: ['*'] }), at, /skips signature verification/);
  });

  it('needs both trust stores and identities on other levels', () => {
    refuses(doc(statement({ trustStores: [] })), at, /needs both trustStores.*and trustedIdentities/);
    refuses(doc(statement({ trustStores: undefined })), at, /needs both/);
    refuses(doc(statement({ trustedIdentities: [] })), at, /needs both/);
    refuses(doc(statement({ trustedIdentities: null })), at, /needs both/);
  });

  it('needs trust stores written <type>:<name> with a known type and a file-name-safe name', () => {
    refuses(doc(statement({ trustStores: ['ca:ok', 'wabbit'] })), `${at}.trustStores[1]`, /malformed trust store "wabbit": write <type>:<name>/);
    refuses(doc(statement({ trustStores: [''] })), `${at}.trustStores[0]`, /malformed trust store ""/);
    refuses(doc(statement({ trustStores: ['x509:store'] })), `${at}.trustStores[0]`, /unsupported trust store type "x509".*ca, signingAuthority, tsa/);
    refuses(doc(statement({ trustStores: ['CA:store'] })), `${at}.trustStores[0]`, /unsupported trust store type "CA"/);
    refuses(doc(statement({ trustStores: ['ca:a:b'] })), `${at}.trustStores[0]`, /unsupported trust store name "a:b"/);
    refuses(doc(statement({ trustStores: ['ca:'] })), `${at}.trustStores[0]`, /unsupported trust store name ""/);
    refuses(doc(statement({ trustStores: ['ca:#@$'] })), `${at}.trustStores[0]`, /unsupported trust store name/);
    refuses(doc(statement({ trustStores: ['ca:my store'] })), `${at}.trustStores[0]`, /unsupported trust store name/);
    refuses(doc(statement({ trustStores: 'ca:x' })), `${at}.trustStores`, /must be an array of strings/);
    refuses(doc(statement({ trustStores: [1] })), `${at}.trustStores[0]`, /must be a string/);
  });

  it('allows "*" only alone', () => {
    refuses(doc(statement({ trustedIdentities: ['*', 'x509.subject: C=US, ST=WA, O=a'] })), `${at}.trustedIdentities`, /must be the only trusted identity/);
    refuses(doc(statement({ trustedIdentities: ['x509.subject: C=US, ST=WA, O=a', '*'] })), `${at}.trustedIdentities`, /must be the only/);
    assert.equal(only(doc(statement({ trustedIdentities: ['*'] }))).trustedIdentities, '*');
  });

  it('needs x509.subject identities with a DN notation accepts', () => {
    const ids = (...trustedIdentities: unknown[]) => doc(statement({ trustedIdentities }));
    refuses(ids(''), `${at}.trustedIdentities[0]`, /empty trusted identity/);
    refuses(ids('C=US, ST=WA, O=wabbit-network.io'), `${at}.trustedIdentities[0]`, /no "<type>:" prefix: write "x509.subject: C=US/);
    refuses(ids('x509.subject'), `${at}.trustedIdentities[0]`, /no "<type>:" prefix/);
    refuses(ids('x509.subject:'), `${at}.trustedIdentities[0]`, /has no value/);
    refuses(ids('x509:zoop'), `${at}.trustedIdentities[0]`, /unsupported trusted identity type "x509": Signet supports only "x509.subject:"/);
    refuses(ids('X509.Subject: C=US, ST=WA, O=a'), `${at}.trustedIdentities[0]`, /unsupported trusted identity type "X509.Subject"/);
    refuses(ids('x509.subject:,,,'), `${at}.trustedIdentities[0]`, /invalid trusted identity "x509.subject:,,,": cannot parse .*incomplete type, value pair/);
    refuses(ids('x509.subject:C=US,C=IN'), `${at}.trustedIdentities[0]`, /attribute C more than once/);
    refuses(ids('x509.subject:C=US,ST=WA'), `${at}.trustedIdentities[0]`, /no O attribute/);
    refuses(ids('x509.subject:C=US+ST=WA,O=MyOrg'), `${at}.trustedIdentities[0]`, /multi-valued RDN/);
    refuses(ids('x509.subject:C=US,ST=WA,O=#0403616263'), `${at}.trustedIdentities[0]`, /"=#"/);
    refuses(ids('x509.subject: C=US, ST=WA, O=a', 7), `${at}.trustedIdentities[1]`, /must be a string/);
  });

  it('refuses overlapping identities, identical ones included', () => {
    refuses(
      doc(statement({ trustedIdentities: ['x509.subject:C=US,ST=WA,O=MyOrg', 'x509.subject:C=US,ST=WA,O=MyOrg,X=Y'] })),
      `${at}.trustedIdentities[0]`,
      /"x509.subject:C=US,ST=WA,O=MyOrg" overlaps with "x509.subject:C=US,ST=WA,O=MyOrg,X=Y"/,
    );
    refuses(doc(statement({ trustedIdentities: ['x509.subject:C=US,ST=WA,O=a', 'x509.subject: C=US, S=WA, O=a'] })), `${at}.trustedIdentities[0]`, /overlaps/);
    // An attribute written empty reads as absent (Go map semantics), so these overlap too.
    refuses(
      doc(statement({ trustedIdentities: ['x509.subject:C=US,ST=WA,O=a,OU=', 'x509.subject:C=US,ST=WA,O=a,CN=b'] })),
      `${at}.trustedIdentities[0]`,
      /overlaps/,
    );
    const distinct = only(
      doc(
        statement({
          trustedIdentities: [
            'x509.subject:C=US,ST=WA,O=MyOrg',
            'x509.subject:C=US,ST=WA,O=  My.  Org',
            'x509.subject:C=US,ST=WA,O=My "special" Org \\, \\; \\\\ others',
          ],
        }),
      ),
    );
    assert.equal((distinct.trustedIdentities as unknown[]).length, 3);
  });
});

describe('parseTrustPolicy: registryScopes rules', () => {
  const scopes = (...registryScopes: unknown[]) => doc(statement({ registryScopes }));
  const at = 'trustPolicies[0].registryScopes';

  it('needs at least one scope', () => {
    refuses(doc(statement({ registryScopes: undefined })), at, /at least one registry scope/);
    refuses(scopes(), at, /at least one registry scope/);
    refuses(doc(statement({ registryScopes: 'r.io/a' })), at, /must be an array of strings/);
  });

  it('allows "*" only alone', () => {
    refuses(scopes('*', 'r.io/a'), at, /"\*" must be the only scope/);
    assert.deepEqual(only(scopes('*')).registryScopes, ['*']);
  });

  it('refuses scopes that are not fully qualified repositories', () => {
    refuses(scopes('r.io/a', 'r.io/*'), `${at}[1]`, /has a wildcard/);
    refuses(scopes('**'), `${at}[0]`, /has a wildcard/);
    refuses(scopes('docker.io'), `${at}[0]`, /is not valid: write a fully qualified repository/);
    refuses(scopes('docker.io/'), `${at}[0]`, /is not valid/);
    refuses(scopes('/library/alpine'), `${at}[0]`, /is not valid/);
    refuses(scopes('docker.io/Library/alpine'), `${at}[0]`, /is not valid/);
    refuses(scopes('https://docker.io/library/alpine'), `${at}[0]`, /is not valid/);
    refuses(scopes('docker.io/library/alpine:3.20'), `${at}[0]`, /is not valid/);
    refuses(scopes('docker.io/library/alpine@sha256:abcd'), `${at}[0]`, /is not valid/);
    refuses(scopes('-bad.io/a'), `${at}[0]`, /is not valid/);
    refuses(scopes('r.io:port/a'), `${at}[0]`, /is not valid/);
    refuses(scopes('r.io/a//b'), `${at}[0]`, /is not valid/);
    refuses(scopes(''), `${at}[0]`, /is not valid/);
    refuses(scopes(3), `${at}[0]`, /must be a string/);
  });

  it('allows a scope in one statement only, once', () => {
    refuses(doc(statement(), statement({ name: 'other' })), 'trustPolicies[1].registryScopes[0]', /already listed at trustPolicies\[0\]\.registryScopes\[0\]/);
    refuses(scopes('r.io/a', 'r.io/a'), `${at}[1]`, /already listed at trustPolicies\[0\]\.registryScopes\[0\]/);
    refuses(
      doc(statement({ registryScopes: ['*'] }), statement({ name: 'two', registryScopes: ['*'] })),
      'trustPolicies[1].registryScopes[0]',
      /"\*" is already listed/,
    );
  });

  it('reports statement rules before scope rules, as notation-go', () => {
    refuses(
      doc(statement({ registryScopes: ['bad'] }), statement({ name: 'x', registryScopes: ['r.io/b'], trustStores: ['nope'] })),
      'trustPolicies[1].trustStores[0]',
      /malformed/,
    );
  });
});

describe('selectStatement', () => {
  const policy = parseTrustPolicy(
    doc(
      statement({ name: 'global', registryScopes: ['*'] }),
      statement({ name: 'exact', registryScopes: ['r.io/a', 'r.io/b/c'] }),
      statement({ name: 'third', registryScopes: ['r.io/d'] }),
    ),
    WHERE,
  );

  it('prefers the statement listing the repository', () => {
    assert.equal(selectStatement(policy, 'r.io/b/c')?.name, 'exact');
    assert.equal(selectStatement(policy, 'r.io/a')?.name, 'exact');
    assert.equal(selectStatement(policy, 'r.io/d')?.name, 'third');
  });

  it('falls back to the global statement, and to none without one', () => {
    assert.equal(selectStatement(policy, 'r.io/b')?.name, 'global');
    assert.equal(selectStatement(policy, 'R.io/a')?.name, 'global');
    const noGlobal = parseTrustPolicy(doc(statement()), WHERE);
    assert.equal(selectStatement(noGlobal, 'registry.example.com/team/app')?.name, 'wabbit');
    assert.equal(selectStatement(noGlobal, 'registry.example.com/team/other'), undefined);
  });
});

describe('parseDistinguishedName', () => {
  it('reads RFC 4514 text with spaces around attributes, and S as ST', () => {
    assert.deepEqual(parseDistinguishedName(' C=US,  S = WA ;O=acme , CN=builder '), [
      ['C', 'US'],
      ['ST', 'WA'],
      ['O', 'acme'],
      ['CN', 'builder'],
    ]);
  });

  it('undoes escapes as go-ldap does', () => {
    const o = (text: string) => new Map(parseDistinguishedName(`C=US,ST=WA,${text}`)).get('O');
    assert.equal(o('O=a\\,b\\;c\\+d\\\\e\\"f\\<g\\>h\\=i\\#j'), 'a,b;c+d\\e"f<g>h=i#j');
    assert.equal(o('O=\\41cme'), 'Acme');
    assert.equal(o('O=caf\\c3\\a9'), 'café');
    assert.equal(o('O=café'), 'café');
    assert.equal(o('O=\\ lead'), ' lead');
    assert.equal(o('O=trail\\ '), 'trail ');
    assert.equal(o('O=trail\\  '), 'trail ');
    assert.equal(o('O=  My.  Org  '), 'My.  Org');
    assert.equal(o('O=a=b'), 'a=b');
    assert.equal(o('O=\\#x'), '#x');
    // invalid UTF-8 from hex escapes never equals a real value, but is not an error
    assert.notEqual(o('O=\\ff'), '\ufffd');
    // each byte of an invalid sequence stands for itself (U+DC80 + byte), valid sequences decode
    assert.equal(o('O=\\c3\\a9\\ff\\e2\\82\\ac\\e2\\82\\f0\\9f\\98\\80\\c0\\80\\ed\\a0\\80'), 'é\udcff€\udce2\udc82😀\udcc0\udc80\udced\udca0\udc80');
  });

  it('reads an escaped type, and "=" before a type as go-ldap does', () => {
    assert.deepEqual(parseDistinguishedName('\\43=US,ST=WA,O=a')[0], ['C', 'US']);
    assert.deepEqual(parseDistinguishedName('=C=US,ST=WA,O=a')[0], ['C', 'US']);
  });

  it('keeps attribute types case-sensitive and unknown types', () => {
    assert.throws(() => parseDistinguishedName('c=US,ST=WA,O=a'), /no C attribute/);
    assert.deepEqual(parseDistinguishedName('C=US,ST=WA,O=MyOrg,CustomRDN=CustomValue').at(-1), ['CustomRDN', 'CustomValue']);
  });

  it('lets an attribute first written empty be given again, as notation-go map does', () => {
    assert.deepEqual(parseDistinguishedName('C=,C=US,ST=WA,O=a')[0], ['C', 'US']);
    assert.throws(() => parseDistinguishedName('C=US,C=,ST=WA,O=a'), /more than once/);
    assert.throws(() => parseDistinguishedName('C=US,ST=WA,S=OR,O=a'), /attribute ST more than once/);
  });

  it('refuses what notation refuses', () => {
    const refused = (text: string, pattern: RegExp) =>
      assert.throws(
        () => parseDistinguishedName(text),
        (err: unknown) => err instanceof SignetError && err.code === 'CONFIG_INVALID' && pattern.test(err.message),
      );
    refused('', /no C attribute/);
    refused('   ', /no C attribute/);
    refused('C=US,ST=WA,O=', /no O attribute \(or an empty one\)/);
    refused('C=US,ST=WA,O=a,', /DN ended with incomplete type, value pair/);
    refused('C=US,,ST=WA,O=a', /incomplete type, value pair/);
    refused('C=US,ST=WA,O=a,CN', /incomplete type, value pair/);
    refused('C=US,ST=WA,O=a\\', /corrupted escape/);
    refused('C=US,ST=WA,O=\\zz', /invalid escape/);
    refused('C=US,ST=WA,O=\\4', /invalid escape/);
    refused('C=US,ST=WA,O=#04', /"=#"/);
    refused('C=US,ST=WA,O=x=#y', /"=#"/);
    refused('C=US,ST=WA+L=Seattle,O=a', /multi-valued RDN/);
  });
});

// ---------------------------------------------------------------------------------------------
// Names in DER, built by hand so that every string type and RDN shape can be tried.

const STR = { utf8: 0x0c, printable: 0x13, t61: 0x14, ia5: 0x16, bmp: 0x1e } as const;

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const bytes = [a * 40 + b];
  for (const arc of rest) {
    const groups = [arc & 0x7f];
    for (let v = arc >> 7; v > 0; v >>= 7) groups.unshift((v & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return tlv(0x06, Buffer.from(bytes));
}

const OIDS: Record<string, string> = {
  C: '2.5.4.6',
  ST: '2.5.4.8',
  L: '2.5.4.7',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  CN: '2.5.4.3',
  SERIALNUMBER: '2.5.4.5',
  STREET: '2.5.4.9',
  POSTALCODE: '2.5.4.17',
  email: '1.2.840.113549.1.9.1',
  DC: '0.9.2342.19200300.100.1.25',
};

type Atv = [type: string, value: string | Buffer, tag?: number];

/** An X.509 Name: each argument is one RDN (a SET of attributes). */
function dn(...rdns: Atv[][]): Buffer {
  const set = (rdn: Atv[]) =>
    tlv(
      0x31,
      Buffer.concat(
        rdn.map(([type, value, tag]) =>
          tlv(
            0x30,
            Buffer.concat([
              oid(OIDS[type] ?? type),
              tlv(tag ?? STR.utf8, typeof value === 'string' ? Buffer.from(value, tag === STR.t61 ? 'latin1' : 'utf8') : value),
            ]),
          ),
        ),
      ),
    );
  return tlv(0x30, Buffer.concat(rdns.map(set)));
}

const one = (...atvs: Atv[]): Buffer => dn(...atvs.map((a) => [a]));

describe('subjectString and subjectAttributes (Go pkix.Name.String)', () => {
  it('prints the standard attributes grouped in Go order, reversed', () => {
    const subject = one(
      ['CN', 'builder'],
      ['O', 'acme'],
      ['C', 'US'],
      ['OU', 'ci'],
      ['L', 'Seattle'],
      ['ST', 'WA'],
      ['SERIALNUMBER', '42'],
      ['STREET', 'Main St'],
      ['POSTALCODE', '98101'],
    );
    assert.equal(subjectString(subject), 'SERIALNUMBER=42,CN=builder,OU=ci,O=acme,POSTALCODE=98101,STREET=Main St,L=Seattle,ST=WA,C=US');
    assert.deepEqual(subjectAttributes(subject), [
      ['SERIALNUMBER', '42'],
      ['CN', 'builder'],
      ['OU', 'ci'],
      ['O', 'acme'],
      ['POSTALCODE', '98101'],
      ['STREET', 'Main St'],
      ['L', 'Seattle'],
      ['ST', 'WA'],
      ['C', 'US'],
    ]);
  });

  it('groups repeated attributes into one multi-valued RDN and keeps only the last CN', () => {
    const subject = one(['C', 'US'], ['OU', 'a'], ['CN', 'first'], ['OU', 'b'], ['CN', 'last']);
    assert.equal(subjectString(subject), 'CN=last,OU=a+OU=b,C=US');
    assert.deepEqual(subjectAttributes(subject), [
      ['CN', 'last'],
      ['OU', 'a'],
      ['OU', 'b'],
      ['C', 'US'],
    ]);
  });

  it('flattens multi-valued RDNs of the certificate', () => {
    assert.equal(
      subjectString(
        dn(
          [
            ['C', 'US'],
            ['ST', 'WA'],
          ],
          [['O', 'acme']],
        ),
      ),
      'O=acme,ST=WA,C=US',
    );
  });

  it('escapes as Go does', () => {
    const subject = one(['C', 'US'], ['O', 'a,b+c"d\\e<f>g;h=i'], ['OU', '#lead # mid'], ['CN', ' sp  ace ']);
    assert.equal(subjectString(subject), 'CN=\\ sp  ace\\ ,OU=\\#lead # mid,O=a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h=i,C=US');
    assert.deepEqual(new Map(subjectAttributes(subject)).get('O'), 'a,b+c"d\\e<f>g;h=i');
  });

  it('writes other attributes by OID and hex DER, at the end, and drops an empty CN', () => {
    const subject = one(['C', 'US'], ['email', 'a@b.c', STR.ia5], ['DC', 'example', STR.ia5], ['CN', '']);
    // Go marshals the string value again: "a@b.c" is not a PrintableString ('@'), so UTF8String.
    assert.equal(
      subjectString(subject),
      `C=US,0.9.2342.19200300.100.1.25=#1307${Buffer.from('example').toString('hex')},1.2.840.113549.1.9.1=#0c05${Buffer.from('a@b.c').toString('hex')}`,
    );
    assert.deepEqual(subjectAttributes(subject), [
      ['C', 'US'],
      ['0.9.2342.19200300.100.1.25', 'example'],
      ['1.2.840.113549.1.9.1', 'a@b.c'],
    ]);
  });

  it('writes long values of other attributes with a long-form DER length', () => {
    const long = 'x'.repeat(200);
    assert.equal(subjectString(one(['DC', long, STR.ia5])), `0.9.2342.19200300.100.1.25=#1381c8${Buffer.from(long).toString('hex')}`);
  });

  it('decodes the string types Go reads', () => {
    const bmp = Buffer.from([0x00, 0x41, 0x00, 0xe9, 0xd8, 0x00]); // "Aé" and an unpaired surrogate
    const subject = one(['C', 'US', STR.printable], ['ST', 'Zürich', STR.t61], ['O', bmp, STR.bmp], ['OU', 'x', STR.ia5]);
    assert.deepEqual(subjectAttributes(subject), [
      ['OU', 'x'],
      ['O', 'Aé\ufffd'],
      ['ST', 'Zürich'],
      ['C', 'US'],
    ]);
    assert.throws(() => subjectAttributes(one(['C', Buffer.from('US'), 0x04])), /unsupported string type/);
    assert.throws(() => subjectAttributes(Buffer.from([0x31, 0x00])), /Name/);
  });
});

describe('matchIdentity', () => {
  const policy = (...trustedIdentities: string[]) => only(doc(statement({ trustedIdentities })));
  const leaf = one(['C', 'US'], ['ST', 'WA'], ['L', 'Seattle'], ['O', 'acme-rockets.io'], ['OU', 'Finance'], ['CN', 'SecureBuilder']);

  it('matches any leaf with "*"', () => {
    assert.equal(matchIdentity(policy('*'), one(['CN', 'anything'])), '*');
  });

  it('matches an identity whose attributes are a subset of the subject', () => {
    const s = policy('x509.subject: C=US, ST=WA, O=acme-rockets.io, OU=Finance, CN=SecureBuilder', 'x509.subject: C=US, ST=WA, O=wabbit');
    assert.equal((matchIdentity(s, leaf) as { text: string }).text, 'x509.subject: C=US, ST=WA, O=acme-rockets.io, OU=Finance, CN=SecureBuilder');
    const minimal = policy('x509.subject: C=US, S=WA, O=acme-rockets.io');
    assert.equal((matchIdentity(minimal, leaf) as { text: string }).text, 'x509.subject: C=US, S=WA, O=acme-rockets.io');
  });

  it('returns the first matching identity in policy order', () => {
    const s = policy(
      'x509.subject: C=US, ST=WA, O=other',
      'x509.subject: C=US, ST=WA, O=acme-rockets.io, L=Seattle',
      'x509.subject: C=US, ST=WA, O=acme-rockets.io, CN=SecureBuilder',
    );
    assert.equal((matchIdentity(s, leaf) as { text: string }).text, 'x509.subject: C=US, ST=WA, O=acme-rockets.io, L=Seattle');
  });

  it('compares values exactly, case included', () => {
    assert.equal(matchIdentity(policy('x509.subject: C=US, ST=WA, O=ACME-rockets.io'), leaf), undefined);
    assert.equal(matchIdentity(policy('x509.subject: C=US, ST=WA, O=acme-rockets.io, CN=Other'), leaf), undefined);
    assert.equal(matchIdentity(policy('x509.subject: C=US, ST=WA, O=acme-rockets.io, serialNumber=1'), leaf), undefined);
  });

  it('matches an attribute written empty against its absence', () => {
    assert.ok(matchIdentity(policy('x509.subject: C=US, ST=WA, O=acme-rockets.io, STREET='), leaf));
  });

  it('matches escaped values', () => {
    const special = one(['C', 'US'], ['ST', 'WA'], ['O', 'Acme, Inc.'], ['CN', ' padded ']);
    assert.ok(matchIdentity(policy('x509.subject: C=US, ST=WA, O=Acme\\, Inc., CN=\\ padded\\ '), special));
    assert.ok(matchIdentity(policy('x509.subject: C=US, ST=WA, O=Acme\\2c Inc.'), special));
  });

  it('matches nothing when notation cannot parse the subject', () => {
    const s = policy('x509.subject: C=US, ST=WA, O=acme');
    const cases: Array<[Buffer, RegExp]> = [
      [one(['C', 'US'], ['ST', 'WA'], ['O', 'acme'], ['OU', 'a'], ['OU', 'b']), /multi-valued RDN/],
      [one(['C', 'US'], ['O', 'acme'], ['C', 'CA'], ['ST', 'WA']), /multi-valued RDN/],
      [one(['C', 'US'], ['ST', 'WA'], ['O', 'acme'], ['email', 'dev@acme.io', STR.ia5]), /"=#"/],
      [one(['C', 'US'], ['O', 'acme']), /no ST attribute/],
      [one(['C', 'US'], ['ST', 'WA'], ['O', 'acme'], ['CN', 'x=#y']), /"=#"/],
    ];
    for (const [subject, why] of cases) {
      assert.equal(matchIdentity(s, subject), undefined, subjectString(subject));
      assert.match(leafSubjectProblem(subject) ?? '', why);
    }
    assert.equal(leafSubjectProblem(leaf), undefined);
    // the same leaves still pass "*"
    assert.equal(matchIdentity(policy('*'), cases[0]?.[0] as Buffer), '*');
  });

  it('matches two CNs by the last one, as Go keeps it', () => {
    const twoCns = one(['C', 'US'], ['ST', 'WA'], ['O', 'acme'], ['CN', 'first'], ['CN', 'second']);
    assert.ok(matchIdentity(policy('x509.subject: C=US, ST=WA, O=acme, CN=second'), twoCns));
    assert.equal(matchIdentity(policy('x509.subject: C=US, ST=WA, O=acme, CN=first'), twoCns), undefined);
  });

  it('returns undefined for bytes that are not a Name', () => {
    assert.equal(matchIdentity(policy('x509.subject: C=US, ST=WA, O=acme'), Buffer.from('nope')), undefined);
  });
});

/**
 * Notation OCI trust policies (`trustpolicy.oci.json` / `trustpolicy.json`, version 1.0) as
 * notation-go reads, validates and applies them (notaryproject/specifications
 * specs/trust-store-trust-policy.md, "Trust Policy"; notation-go verifier/trustpolicy oci.go
 * OCIDocument.Validate, trustpolicy.go validatePolicyCore and GetVerificationLevel,
 * internal/pkix ParseDistinguishedName, verifier.go verifyX509TrustedIdentities).
 *
 * Where Signet is stricter than notation-go, on purpose:
 * - keys are matched exactly and unknown keys are errors (Go's encoding/json matches keys
 *   case-insensitively and ignores unknown ones, so a misspelt key silently changes nothing);
 * - trusted identities other than `x509.subject:` ones are errors: notation-go accepts any
 *   `<prefix>:<value>` for verification plugins, which Signet does not run, so such an identity
 *   could never match anything.
 */
import { SignetError } from '../../errors.js';
import { TAG, expectChildren, oidText, parseDer, type DerElement } from '../x509/der.js';
import { X509Error } from '../x509/index.js';
import type { CheckAction, NotationCheck, TrustPolicyDocument, TrustPolicyStatement, TrustStoreType, TrustedIdentity, VerificationLevelName } from './types.js';

/** The checks in the order notation-go lists them (trustpolicy.go ValidationTypes). */
export const NOTATION_CHECKS: readonly NotationCheck[] = Object.freeze(['integrity', 'authenticity', 'authenticTimestamp', 'expiry', 'revocation']);

/** The verification levels' actions (trust-store-trust-policy.md, "Signature Verification details" table). */
export const VERIFICATION_LEVELS: Readonly<Record<VerificationLevelName, Readonly<Record<NotationCheck, CheckAction>>>> = Object.freeze({
  strict: Object.freeze({ integrity: 'enforce', authenticity: 'enforce', authenticTimestamp: 'enforce', expiry: 'enforce', revocation: 'enforce' }),
  permissive: Object.freeze({ integrity: 'enforce', authenticity: 'enforce', authenticTimestamp: 'log', expiry: 'log', revocation: 'log' }),
  audit: Object.freeze({ integrity: 'enforce', authenticity: 'log', authenticTimestamp: 'log', expiry: 'log', revocation: 'log' }),
  skip: Object.freeze({ integrity: 'skip', authenticity: 'skip', authenticTimestamp: 'skip', expiry: 'skip', revocation: 'skip' }),
});

const LEVEL_NAMES = Object.keys(VERIFICATION_LEVELS) as VerificationLevelName[];
const ACTIONS: readonly CheckAction[] = ['enforce', 'log', 'skip'];
const TRUST_STORE_TYPES: readonly TrustStoreType[] = ['ca', 'signingAuthority', 'tsa'];
const SUPPORTED_VERSIONS = ['1.0'];
const WILDCARD = '*';
const X509_SUBJECT = 'x509.subject';
/** A named store is a directory name (notation-go internal/file IsValidFileName). */
const STORE_NAME = /^[a-zA-Z0-9_.-]+$/;

/** Registry scope syntax: notation-go oci.go validateRegistryScopeFormat (from distribution's reference grammar). */
const SCOPE_DOMAIN = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+)?(?::[0-9]+)?$/;
const SCOPE_REPOSITORY = /^[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?(?:(?:\/[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?)+)?$/;
const SCOPE_HINT = 'write a fully qualified repository without scheme, tag or digest, e.g. "registry.example.com/team/app"';

const DOCUMENT_KEYS = ['version', 'trustPolicies'];
const STATEMENT_KEYS = ['name', 'registryScopes', 'signatureVerification', 'trustStores', 'trustedIdentities'];
const VERIFICATION_KEYS = ['level', 'override', 'verifyTimestamp'];

/**
 * Validates an OCI trust policy document (already JSON-parsed) with every rule of notation-go's
 * OCIDocument.Validate, in its order, and computes each statement's actions. Throws
 * SignetError('CONFIG_INVALID') whose message starts with `where` and names the JSON path.
 */
export function parseTrustPolicy(json: unknown, where: string): TrustPolicyDocument {
  const fail: Fail = (path, message) => {
    throw new SignetError('CONFIG_INVALID', path === '' ? `${where}: ${message}` : `${where}: ${path}: ${message}`);
  };
  const doc = objectAt(json, '', 'the trust policy must be a JSON object {"version": "1.0", "trustPolicies": [...]}', fail);
  checkKeys(doc, DOCUMENT_KEYS, '', 'a trust policy document', fail);

  const version = optionalString(doc['version'], 'version', fail) ?? '';
  if (version === '') fail('version', 'missing or empty: set "version": "1.0"');
  if (!SUPPORTED_VERSIONS.includes(version)) fail('version', `unsupported version ${JSON.stringify(version)}: the only trust policy version is "1.0"`);

  const rawStatements = doc['trustPolicies'];
  if (rawStatements !== undefined && rawStatements !== null && !Array.isArray(rawStatements)) {
    fail('trustPolicies', 'must be an array of trust policy statements');
  }
  const list: unknown[] = Array.isArray(rawStatements) ? rawStatements : [];
  if (list.length === 0)
    fail(
      'trustPolicies',
      'a trust policy needs at least one statement: add one with its registryScopes, signatureVerification, trustStores and trustedIdentities',
    );

  // First pass, as OCIDocument.Validate: names, then each statement's core rules.
  const names = new Set<string>();
  const statements: Array<Omit<TrustPolicyStatement, 'registryScopes'>> = [];
  const objects: Array<Record<string, unknown>> = [];
  for (const [i, raw] of list.entries()) {
    const at = `trustPolicies[${i}]`;
    const statement = objectAt(raw, at, 'each trust policy statement must be a JSON object', fail);
    checkKeys(statement, STATEMENT_KEYS, at, 'a trust policy statement', fail);
    objects.push(statement);
    const name = optionalString(statement['name'], `${at}.name`, fail) ?? '';
    if (names.has(name)) fail(`${at}.name`, `${JSON.stringify(name)} is already the name of another statement: statement names must be unique`);
    statements.push(parseCore(statement, at, name, fail));
    names.add(name);
  }

  // Second pass, as validateRegistryScopes: each statement's scopes, then one statement per scope.
  const scopeOwner = new Map<string, string>();
  const result: TrustPolicyStatement[] = [];
  for (const [i, statement] of objects.entries()) {
    const at = `trustPolicies[${i}].registryScopes`;
    const scopes = stringList(statement['registryScopes'], at, fail);
    if (scopes.length === 0)
      fail(at, 'a statement needs at least one registry scope: list repositories ("registry.example.com/team/app") or use ["*"] for all');
    if (scopes.length > 1 && scopes.includes(WILDCARD))
      fail(at, 'the wildcard scope "*" must be the only scope of its statement: move the other scopes to a statement of their own');
    for (const [j, scope] of scopes.entries()) {
      if (scope !== WILDCARD) {
        const problem = registryScopeProblem(scope);
        if (problem !== undefined) fail(`${at}[${j}]`, problem);
      }
      const owner = scopeOwner.get(scope);
      if (owner !== undefined) {
        fail(`${at}[${j}]`, `registry scope ${JSON.stringify(scope)} is already listed at ${owner}: a scope may belong to one statement only, once`);
      }
      scopeOwner.set(scope, `${at}[${j}]`);
    }
    const core = statements[i] as Omit<TrustPolicyStatement, 'registryScopes'>;
    result.push(Object.freeze({ ...core, registryScopes: Object.freeze([...scopes]) }));
  }
  return Object.freeze({ version, statements: Object.freeze(result) });
}

/**
 * The statement that applies to a repository (`<registry>/<repository>`, no tag or digest): the
 * one listing it exactly, else the global "*" one, else none (notation-go
 * GetApplicableTrustPolicy; trust-store-trust-policy.md "Selecting a trust policy").
 */
export function selectStatement(doc: TrustPolicyDocument, scope: string): TrustPolicyStatement | undefined {
  let global: TrustPolicyStatement | undefined;
  for (const statement of doc.statements) {
    if (statement.registryScopes.includes(WILDCARD)) global = statement;
    else if (statement.registryScopes.includes(scope)) return statement;
  }
  return global;
}

/**
 * The trusted identity of `statement` the leaf certificate's subject matches, '*' when the
 * statement trusts any identity, or undefined (notation-go verifyX509TrustedIdentities): the
 * subject is rendered as Go's pkix.Name.String() and parsed by the same rules as the policy's
 * identities (so a subject with a repeated C/ST/L/O/OU/STREET/POSTALCODE, an attribute Go has no
 * short name for, or no C, ST or O, matches nothing); an identity matches when each of its
 * attributes equals the subject's value of that type (a subset match, case-sensitive, an
 * attribute written with an empty value matching an absent one). The first identity in policy
 * order that matches is returned.
 */
export function matchIdentity(statement: TrustPolicyStatement, leafSubjectDer: Uint8Array): TrustedIdentity | '*' | undefined {
  if (statement.trustedIdentities === WILDCARD) return WILDCARD;
  let leaf: Map<string, string>;
  try {
    leaf = new Map(notaryDistinguishedName(subjectString(leafSubjectDer)));
  } catch {
    return undefined;
  }
  return statement.trustedIdentities.find((identity) => isSubset(identity.attributes, leaf));
}

/**
 * Why a leaf certificate's subject can match no `x509.subject` identity (notation-go: "error
 * while parsing the certificate subject from the digital signature"), or undefined when it can.
 */
export function leafSubjectProblem(leafSubjectDer: Uint8Array): string | undefined {
  try {
    notaryDistinguishedName(subjectString(leafSubjectDer));
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * The attributes of an X.509 Name (DER) as notation sees them: in the order of Go's
 * pkix.Name.String() (the reverse of the certificate's, standard attributes grouped: SERIALNUMBER,
 * CN, OU, O, POSTALCODE, STREET, L, ST, C, then the others), with Go's short names (C, ST, L,
 * STREET, POSTALCODE, O, OU, CN, SERIALNUMBER) and, for any other attribute type, its dotted OID.
 * As in Go, only the last CN and the last SERIALNUMBER count. Throws X509Error('malformed') for
 * a Name Go's parser would refuse.
 */
export function subjectAttributes(subjectDer: Uint8Array): Array<[string, string]> {
  return goNameRdns(subjectDer)
    .reverse()
    .flatMap((rdn) => rdn.map(({ oid, value }): [string, string] => [SHORT_NAMES.get(oid) ?? oid, value]));
}

/** Go's pkix.Name.String() of an X.509 Name (DER): the text notation parses a leaf subject from. */
export function subjectString(subjectDer: Uint8Array): string {
  return goNameRdns(subjectDer)
    .reverse()
    .map((rdn) => rdn.map(goAttributeText).join('+'))
    .join(',');
}

/**
 * Parses the value of an `x509.subject:` trusted identity as notation-go's
 * pkix.ParseDistinguishedName does: go-ldap v3.4.11 ParseDN (RFC 4514 text; `\` escapes of
 * special characters and `\XX` hex bytes; unescaped spaces around types and values dropped;
 * `,` or `;` between RDNs), then Notary's rules: no `=#` (hex-encoded values), no multi-valued
 * RDN (`+`), no attribute type twice, `S` read as `ST`, and C, ST and O present and not empty.
 * Returns the attributes in order. Throws SignetError('CONFIG_INVALID') saying what is wrong.
 */
export function parseDistinguishedName(text: string): Array<[string, string]> {
  try {
    return notaryDistinguishedName(text);
  } catch (err) {
    if (err instanceof DnError) throw new SignetError('CONFIG_INVALID', err.message);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Statement core rules (trustpolicy.go validatePolicyCore)

type Fail = (path: string, message: string) => never;

function parseCore(statement: Record<string, unknown>, at: string, name: string, fail: Fail): Omit<TrustPolicyStatement, 'registryScopes'> {
  if (name === '') fail(`${at}.name`, 'a trust policy statement needs a name: add "name": "<a unique name>"');

  const svAt = `${at}.signatureVerification`;
  const sv =
    statement['signatureVerification'] === undefined || statement['signatureVerification'] === null
      ? {}
      : objectAt(statement['signatureVerification'], svAt, 'must be an object {"level": "strict" | "permissive" | "audit" | "skip"}', fail);
  checkKeys(sv, VERIFICATION_KEYS, svAt, 'signatureVerification', fail);
  const levelName = optionalString(sv['level'], `${svAt}.level`, fail) ?? '';
  if (levelName === '') fail(`${svAt}.level`, `the verification level is missing or empty: set it to one of ${LEVEL_NAMES.join(', ')}`);
  if (!(LEVEL_NAMES as string[]).includes(levelName)) {
    fail(`${svAt}.level`, `invalid verification level ${JSON.stringify(levelName)}: use one of ${LEVEL_NAMES.join(', ')}`);
  }
  const level = levelName as VerificationLevelName;
  const actions = { ...VERIFICATION_LEVELS[level] };
  const override =
    sv['override'] === undefined || sv['override'] === null
      ? {}
      : objectAt(sv['override'], `${svAt}.override`, 'must be an object mapping checks to actions, e.g. {"expiry": "log"}', fail);
  const overrides = Object.entries(override);
  if (overrides.length > 0 && level === 'skip') {
    fail(`${svAt}.override`, 'the "skip" level cannot be customized: remove "override" or choose strict, permissive or audit');
  }
  for (const [check, action] of overrides) {
    const path = `${svAt}.override.${check}`;
    if (!(NOTATION_CHECKS as readonly string[]).includes(check)) {
      fail(path, `${JSON.stringify(check)} is not a check that can be overridden: use ${NOTATION_CHECKS.filter((c) => c !== 'integrity').join(', ')}`);
    }
    if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) {
      fail(path, `unsupported action ${JSON.stringify(action)}: use one of ${ACTIONS.join(', ')}`);
    }
    if (check === 'integrity') fail(path, 'integrity is always enforced and cannot be overridden: remove this key');
    if (check !== 'revocation' && action === 'skip') fail(path, `${check} cannot be skipped: use "enforce" or "log" (only revocation may be skipped)`);
    actions[check as NotationCheck] = action as CheckAction;
  }

  const verifyTimestamp = optionalString(sv['verifyTimestamp'], `${svAt}.verifyTimestamp`, fail) ?? '';
  if (verifyTimestamp !== '' && verifyTimestamp !== 'always' && verifyTimestamp !== 'afterCertExpiry') {
    fail(`${svAt}.verifyTimestamp`, `must be "always" or "afterCertExpiry", not ${JSON.stringify(verifyTimestamp)}`);
  }

  const storeTexts = stringList(statement['trustStores'], `${at}.trustStores`, fail);
  const identityTexts = stringList(statement['trustedIdentities'], `${at}.trustedIdentities`, fail);
  const base = {
    name,
    level,
    actions: Object.freeze(actions),
    verifyTimestamp: verifyTimestamp === 'afterCertExpiry' ? ('afterCertExpiry' as const) : ('always' as const),
  };
  if (level === 'skip') {
    if (storeTexts.length > 0 || identityTexts.length > 0) {
      fail(at, 'the statement skips signature verification but has trustStores and/or trustedIdentities: remove them, or choose another level');
    }
    return Object.freeze({ ...base, trustStores: Object.freeze([]), trustedIdentities: Object.freeze([]) });
  }
  if (storeTexts.length === 0 || identityTexts.length === 0) {
    fail(at, 'a statement that verifies signatures needs both trustStores (e.g. ["ca:my-store"]) and trustedIdentities (e.g. ["*"]): add the missing one');
  }
  return Object.freeze({
    ...base,
    trustStores: parseTrustStores(storeTexts, `${at}.trustStores`, fail),
    trustedIdentities: parseTrustedIdentities(identityTexts, `${at}.trustedIdentities`, fail),
  });
}

/** trustpolicy.go validateTrustStore: `<type>:<name>`, type ca / signingAuthority / tsa, name [a-zA-Z0-9_.-]+. */
function parseTrustStores(texts: readonly string[], at: string, fail: Fail): TrustPolicyStatement['trustStores'] {
  const seen = new Set<string>();
  const stores: Array<{ type: TrustStoreType; name: string }> = [];
  for (const [i, text] of texts.entries()) {
    const colon = text.indexOf(':');
    if (colon < 0) fail(`${at}[${i}]`, `malformed trust store ${JSON.stringify(text)}: write <type>:<name>, e.g. "ca:my-store"`);
    const type = text.slice(0, colon);
    const name = text.slice(colon + 1);
    if (!(TRUST_STORE_TYPES as readonly string[]).includes(type)) {
      fail(`${at}[${i}]`, `unsupported trust store type ${JSON.stringify(type)} in ${JSON.stringify(text)}: use ${TRUST_STORE_TYPES.join(', ')}`);
    }
    if (!STORE_NAME.test(name)) {
      fail(`${at}[${i}]`, `unsupported trust store name ${JSON.stringify(name)} in ${JSON.stringify(text)}: a store name is made of [a-zA-Z0-9_.-]`);
    }
    // notation-go loads a store listed twice once (verifier/helpers.go loadX509TrustStoresWithType).
    if (seen.has(text)) continue;
    seen.add(text);
    stores.push(Object.freeze({ type: type as TrustStoreType, name }));
  }
  return Object.freeze(stores);
}

/** trustpolicy.go validateTrustedIdentities and validateOverlappingDNs. */
function parseTrustedIdentities(texts: readonly string[], at: string, fail: Fail): TrustPolicyStatement['trustedIdentities'] {
  if (texts.length > 1 && texts.includes(WILDCARD)) {
    fail(at, 'the wildcard identity "*" must be the only trusted identity: remove it or the other identities');
  }
  if (texts[0] === WILDCARD) return WILDCARD;
  const identities: TrustedIdentity[] = [];
  for (const [i, text] of texts.entries()) {
    const path = `${at}[${i}]`;
    if (text === '') fail(path, 'empty trusted identity: write "x509.subject: C=<country>, ST=<state>, O=<organization>, ..." or "*"');
    const colon = text.indexOf(':');
    if (colon < 0) fail(path, `trusted identity ${JSON.stringify(text)} has no "<type>:" prefix: write "x509.subject: ${text}"`);
    const prefix = text.slice(0, colon);
    const value = text.slice(colon + 1);
    if (prefix !== X509_SUBJECT) {
      fail(
        path,
        `unsupported trusted identity type ${JSON.stringify(prefix)}: Signet supports only "x509.subject:" identities (others are for notation verification plugins, which Signet does not run)`,
      );
    }
    if (value === '') fail(path, `trusted identity ${JSON.stringify(text)} has no value: write "x509.subject: C=<country>, ST=<state>, O=<organization>"`);
    let attributes: Array<[string, string]>;
    try {
      attributes = notaryDistinguishedName(value);
    } catch (err) {
      if (!(err instanceof DnError)) throw err;
      return fail(path, `invalid trusted identity ${JSON.stringify(text)}: ${err.message}`);
    }
    identities.push(Object.freeze({ text, attributes: Object.freeze(attributes.map((a) => Object.freeze(a))) }));
  }
  // Overlapping identities: one is a subset of another, so some certificate matches both.
  for (const [i, a] of identities.entries()) {
    for (const [j, b] of identities.entries()) {
      if (i !== j && isSubset(a.attributes, new Map(b.attributes))) {
        fail(
          `${at}[${i}]`,
          `trusted identity ${JSON.stringify(a.text)} overlaps with ${JSON.stringify(b.text)} (every subject matching the latter matches the former): remove one`,
        );
      }
    }
  }
  return Object.freeze(identities);
}

/** oci.go validateRegistryScopeFormat; undefined when the scope is valid. */
function registryScopeProblem(scope: string): string | undefined {
  if (scope.length > 1 && scope.includes('*'))
    return `registry scope ${JSON.stringify(scope)} has a wildcard: wildcards are not supported inside scopes; ${SCOPE_HINT}, or use "*" alone`;
  const slash = scope.indexOf('/');
  const domain = slash < 0 ? '' : scope.slice(0, slash);
  const repository = slash < 0 ? '' : scope.slice(slash + 1);
  if (domain === '' || repository === '' || !SCOPE_DOMAIN.test(domain) || !SCOPE_REPOSITORY.test(repository)) {
    return `registry scope ${JSON.stringify(scope)} is not valid: ${SCOPE_HINT}`;
  }
  return undefined;
}

/** Go map semantics of pkix.IsSubsetDN: an absent attribute reads as "". */
function isSubset(attributes: ReadonlyArray<readonly [string, string]>, of: ReadonlyMap<string, string>): boolean {
  return attributes.every(([type, value]) => (of.get(type) ?? '') === value);
}

// ---------------------------------------------------------------------------------------------
// JSON shape helpers

function objectAt(value: unknown, path: string, what: string, fail: Fail): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(path, what);
  return value as Record<string, unknown>;
}

function checkKeys(object: Record<string, unknown>, allowed: readonly string[], at: string, what: string, fail: Fail): void {
  for (const key of Object.keys(object)) {
    if (allowed.includes(key)) continue;
    const path = at === '' ? key : `${at}.${key}`;
    const sameLetters = allowed.find((k) => k.toLowerCase() === key.toLowerCase());
    if (sameLetters !== undefined) fail(path, `unknown key: keys are case-sensitive, write ${JSON.stringify(sameLetters)}`);
    if (key === 'globalPolicy')
      fail(
        path,
        'unknown key: "globalPolicy" belongs to blob trust policies (trustpolicy.blob.json); an OCI trust policy selects statements by registryScopes',
      );
    fail(path, `unknown key ${JSON.stringify(key)}: the keys of ${what} are ${allowed.join(', ')}`);
  }
}

/** A string field; null and absent read as undefined (Go's json leaves the field ""). */
function optionalString(value: unknown, path: string, fail: Fail): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') return fail(path, `must be a string, not ${describe(value)}`);
  // Go's json decoder turns unpaired surrogate escapes into U+FFFD.
  return value.toWellFormed();
}

/** An array of strings; null and absent read as empty. */
function stringList(value: unknown, path: string, fail: Fail): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return fail(path, `must be an array of strings, not ${describe(value)}`);
  return value.map((item, i) => {
    if (typeof item !== 'string') return fail(`${path}[${i}]`, `must be a string, not ${describe(item)}`);
    return item.toWellFormed();
  });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

// ---------------------------------------------------------------------------------------------
// Distinguished names: Notary's rules over go-ldap v3.4.11 ParseDN (notation-go go.mod)

/** A DN that notation refuses; its message is notation's reason, reworded to say what to do. */
class DnError extends Error {}

const DN_RULES = "a trusted identity's DN follows RFC 4514 and must contain C, ST (or S) and O attributes";

/** internal/pkix ParseDistinguishedName. */
function notaryDistinguishedName(text: string): Array<[string, string]> {
  if (text.includes('=#')) {
    throw new DnError(`distinguished name ${JSON.stringify(text)} contains "=#": hex-encoded attribute values are not supported; write the value as text`);
  }
  let rdns: Array<Array<[string, string]>>;
  try {
    rdns = ldapParseDn(text);
  } catch (err) {
    throw new DnError(`cannot parse distinguished name ${JSON.stringify(text)}: ${(err as Error).message}; ${DN_RULES}`);
  }
  const attributes = new Map<string, string>();
  for (const rdn of rdns) {
    if (rdn.length > 1) {
      throw new DnError(`distinguished name ${JSON.stringify(text)} has a multi-valued RDN (attributes joined by "+"): separate them with ","`);
    }
    for (const [written, value] of rdn) {
      const type = written === 'S' ? 'ST' : written; // S is an alias of ST
      // As notation-go's map: an attribute first written with an empty value may be given again.
      if ((attributes.get(type) ?? '') !== '') {
        throw new DnError(`distinguished name ${JSON.stringify(text)} has attribute ${type} more than once: each attribute type may appear once`);
      }
      attributes.set(type, value);
    }
  }
  for (const mandatory of ['C', 'ST', 'O']) {
    if ((attributes.get(mandatory) ?? '') === '') {
      throw new DnError(`distinguished name ${JSON.stringify(text)} has no ${mandatory} attribute (or an empty one): ${DN_RULES}`);
    }
  }
  return [...attributes];
}

/** Go's strings.TrimSpace white space (unicode.IsSpace). */
const GO_SPACE_ONLY = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/;

/**
 * go-ldap v3.4.11 ParseDN: scans for `=` (end of a type), `,` / `;` (end of an RDN) and `+` (next
 * attribute of the RDN), skipping the character after each `\`. A blank string is an empty DN.
 */
function ldapParseDn(text: string): Array<Array<[string, string]>> {
  const rdns: Array<Array<[string, string]>> = [];
  if (GO_SPACE_ONLY.test(text)) return rdns;
  let rdn: Array<[string, string]> = [];
  let type = '';
  let escaping = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (escaping) {
      escaping = false;
    } else if (c === '\\') {
      escaping = true;
    } else if (c === '=' && type.length === 0) {
      type = ldapDecode(text.slice(start, i));
      start = i + 1;
    } else if (c === ',' || c === '+' || c === ';') {
      if (type.length === 0) throw new Error('incomplete type, value pair');
      rdn.push([type, ldapValue(text.slice(start, i))]);
      type = '';
      start = i + 1;
      if (c !== '+') {
        rdns.push(rdn);
        rdn = [];
      }
    }
  }
  if (type.length === 0) throw new Error('DN ended with incomplete type, value pair');
  rdn.push([type, ldapValue(text.slice(start))]);
  rdns.push(rdn);
  return rdns;
}

function ldapValue(raw: string): string {
  // go-ldap decodes "#<hex>" as a BER value; notation refuses "=#" before parsing, so this is unreachable from here.
  if (raw.startsWith('#')) throw new Error('hex-encoded attribute values are not supported');
  return ldapDecode(raw);
}

const LDAP_ESCAPABLE = new Set([' ', '"', '#', '+', ',', ';', '<', '=', '>', '\\']);
const HEX_PAIR = /^[0-9a-fA-F]{2}$/;

/**
 * go-ldap decodeString: drops unescaped leading and trailing spaces (v3.4.11 keeps a trailing
 * space whenever the trimmed text ends with `\`), then undoes `\<special>` and `\XX` escapes.
 * `\XX` yields a raw byte, so the result is bytes, read as UTF-8 (see goBytesToString).
 */
function ldapDecode(raw: string): string {
  let trimmed = raw.replace(/^ +| +$/g, '');
  if (trimmed.endsWith('\\') && raw.endsWith(' ')) trimmed += ' ';
  const chars = Array.from(trimmed);
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c !== '\\') {
      bytes.push(...encoder.encode(c));
      continue;
    }
    const next = chars[i + 1];
    if (next === undefined) throw new Error(`corrupted escape at the end of ${JSON.stringify(trimmed)}`);
    if (LDAP_ESCAPABLE.has(next)) {
      bytes.push(...encoder.encode(next));
      i++;
      continue;
    }
    const pair = `${next}${chars[i + 2] ?? ''}`;
    if (i + 2 >= chars.length || !HEX_PAIR.test(pair)) {
      throw new Error(
        `invalid escape "\\${pair}" in ${JSON.stringify(trimmed)}: escape a special character (\\, \\+ \\; \\" \\\\ ...) or write a byte as \\XX in hex`,
      );
    }
    bytes.push(Number.parseInt(pair, 16));
    i += 2;
  }
  return goBytesToString(Uint8Array.from(bytes));
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A Go string (bytes) as a JS string that compares equal exactly when the bytes do: valid UTF-8
 * decodes as usual, and each byte of an invalid sequence becomes the lone surrogate U+DC80+byte,
 * which no valid UTF-8 string decodes to.
 */
function goBytesToString(bytes: Uint8Array): string {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    let out = '';
    for (let i = 0; i < bytes.length;) {
      const n = utf8SequenceLength(bytes, i);
      if (n === 0) {
        out += String.fromCharCode(0xdc00 | (bytes[i] as number));
        i++;
      } else {
        out += STRICT_UTF8.decode(bytes.subarray(i, i + n));
        i += n;
      }
    }
    return out;
  }
}

/** The length of the valid UTF-8 sequence at `i` (RFC 3629, as Go's utf8.DecodeRune), or 0. */
function utf8SequenceLength(b: Uint8Array, i: number): number {
  const b0 = b[i] as number;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const v = b[i + k];
    return v !== undefined && v >= lo && v <= hi;
  };
  if (b0 < 0x80) return 1;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Go's pkix.Name (crypto/x509/pkix/pkix.go): FillFromRDNSequence, ToRDNSequence, String

interface Attribute {
  readonly oid: string;
  readonly value: string;
}

const OID = {
  CN: '2.5.4.3',
  SERIALNUMBER: '2.5.4.5',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  STREET: '2.5.4.9',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  POSTALCODE: '2.5.4.17',
} as const;

/** pkix attributeTypeNames: the only types Go's String() writes by name. */
const SHORT_NAMES: ReadonlyMap<string, string> = new Map(Object.entries(OID).map(([name, oid]) => [oid, name]));

/** The multi-valued fields of pkix.Name, in ToRDNSequence's order. */
const LIST_FIELDS = [OID.C, OID.ST, OID.L, OID.STREET, OID.POSTALCODE, OID.O, OID.OU];

/**
 * The RDN sequence Go's Name.String() prints (before reversing): every attribute of a type Go
 * does not parse into a field, one per RDN, in certificate order; then ToRDNSequence: one RDN per
 * list field holding all its values, then the last CN and the last SERIALNUMBER when not empty.
 */
function goNameRdns(der: Uint8Array): Attribute[][] {
  const attributes: Attribute[] = [];
  for (const rdn of expectChildren(parseDer(der), TAG.SEQUENCE, 'Name')) {
    for (const atv of expectChildren(rdn, TAG.SET, 'RelativeDistinguishedName')) {
      const [type, value, extra] = expectChildren(atv, TAG.SEQUENCE, 'AttributeTypeAndValue');
      if (value === undefined || extra !== undefined) throw new X509Error('malformed', 'Name: bad AttributeTypeAndValue');
      attributes.push({ oid: oidText(type), value: goAsn1String(value) });
    }
  }
  const rdns: Attribute[][] = attributes.filter((a) => !SHORT_NAMES.has(a.oid)).map((a) => [a]);
  for (const oid of LIST_FIELDS) {
    const values = attributes.filter((a) => a.oid === oid);
    if (values.length > 0) rdns.push(values);
  }
  for (const oid of [OID.CN, OID.SERIALNUMBER]) {
    const last = attributes.filter((a) => a.oid === oid).at(-1);
    if (last !== undefined && last.value !== '') rdns.push([last]);
  }
  return rdns;
}

/** crypto/x509 parseASN1String: the string types Go reads in a Name. */
function goAsn1String(element: DerElement): string {
  const bytes = element.content;
  switch (element.tag) {
    case TAG.UTF8_STRING:
      return goBytesToString(bytes);
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case TAG.NUMERIC_STRING:
    case TAG.T61_STRING: // Go reads T.61 as Latin-1
      return bytes.toString('latin1');
    case TAG.BMP_STRING: {
      if (bytes.length % 2 !== 0) throw new X509Error('malformed', 'Name: odd-length BMPString');
      let text = '';
      for (let i = 0; i < bytes.length; i += 2) text += String.fromCharCode(bytes.readUInt16BE(i));
      return text.toWellFormed(); // utf16.Decode: unpaired surrogates become U+FFFD
    }
    default:
      throw new X509Error('malformed', `Name: unsupported string type 0x${element.tag.toString(16)}`);
  }
}

/** One attribute as RDNSequence.String() writes it. */
function goAttributeText({ oid, value }: Attribute): string {
  const name = SHORT_NAMES.get(oid);
  if (name === undefined) return `${oid}=#${goMarshalString(value).toString('hex')}`;
  const chars = Array.from(value);
  const escaped = chars.map((c, k) => {
    const escape = ',+"\\<>;'.includes(c) || (c === ' ' && (k === 0 || k === chars.length - 1)) || (c === '#' && k === 0);
    return escape ? `\\${c}` : c;
  });
  return `${name}=${escaped.join('')}`;
}

/** encoding/asn1 Marshal of a Go string: a PrintableString when every character allows it, else a UTF8String. */
function goMarshalString(value: string): Buffer {
  const content = Buffer.from(value, 'utf8');
  const printable = /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value);
  const length = content.length;
  let header: number[];
  if (length < 0x80) header = [length];
  else {
    const lengthBytes: number[] = [];
    for (let n = length; n > 0; n = Math.floor(n / 256)) lengthBytes.unshift(n % 256);
    header = [0x80 | lengthBytes.length, ...lengthBytes];
  }
  return Buffer.concat([Buffer.from([printable ? TAG.PRINTABLE_STRING : TAG.UTF8_STRING, ...header]), content]);
}

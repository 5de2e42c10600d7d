import type { X509Certificate } from '@sigstore/core';
import type { Signer } from '@sigstore/verify';
import { SignetError } from '../../errors.js';
import { FULCIO_EXTENSION_NAMES, extensionOid, extensionText } from './fulcio-extensions.js';

/**
 * Keyless identities: who a Fulcio certificate says signed, and whether a rule names them.
 * Signet matches identities itself: @sigstore/verify compares the SAN with an UNANCHORED regular
 * expression (policy.ts verifySubjectAlternativeName: `signerIdentity.match(policyIdentity)`), so
 * "https://github.com/acme/app" would admit "https://evil.example/?https://github.com/acme/app".
 * - `issuer` is compared exactly (cosign --certificate-oidc-issuer) with the certificate's
 *   issuer extension (1.3.6.1.4.1.57264.1.8, else the deprecated .1.1);
 * - the subject (the SAN: URI, email, or Fulcio's otherName username) exactly; as a glob where
 *   `*` matches within one `/`-separated segment and `**` across segments (the policy's
 *   repository globs), every other character literal; or as a regular expression anchored at
 *   both ends, `^(?:...)$`;
 * - `extensions`: each named Fulcio extension (fulcio-extensions.ts) must be present and equal.
 */

/** A rule's identity as configured (src/config CosignIdentity). */
export interface IdentityRule {
  issuer: string;
  subject: { kind: 'exact' | 'glob' | 'regexp'; value: string };
  extensions: Readonly<Record<string, string>>;
}

export interface IdentityMatcher {
  /** The identity as policies name it: "<issuer> <subject as configured>": a keyless signer for thresholds. */
  readonly signer: string;
  /** For messages: the issuer, the subject with how it is matched, the extensions. */
  readonly description: string;
  matches(seen: SeenIdentity): boolean;
  /** Why `seen` does not match, when its issuer and subject do (an extension differs); undefined otherwise. */
  extensionMismatch(seen: SeenIdentity): string | undefined;
}

/** What a verified certificate says about its holder. */
export interface SeenIdentity {
  issuer: string | undefined;
  /** The SAN values (URI, email, otherName username) the certificate carries. */
  subjects: string[];
  /** Extension OID → its text (fulcio-extensions.ts extensionText). */
  extensions: ReadonlyMap<string, string>;
}

/** Fulcio's username SAN (an otherName of this type: fulcio docs/oid-info.md, 1.3.6.1.4.1.57264.1.7). */
const OID_OTHERNAME_USERNAME = '1.3.6.1.4.1.57264.1.7';

/** Compiles a rule's identities; an unknown extension name or a bad expression is a configuration error at `where`. */
export function compileIdentities(rules: readonly IdentityRule[], where: string): IdentityMatcher[] {
  return rules.map((rule, i) => compileIdentity(rule, `${where}.identities.${i}`));
}

function compileIdentity(rule: IdentityRule, where: string): IdentityMatcher {
  const subject = subjectMatcher(rule.subject, where);
  const extensions = Object.entries(rule.extensions).map(([name, value]) => {
    const oid = extensionOid(name);
    if (oid === undefined) {
      throw new SignetError(
        'CONFIG_INVALID',
        `${where}.extensions: "${name}" is not a Fulcio extension: use a name (${FULCIO_EXTENSION_NAMES.join(', ')}) or a dotted OID`,
      );
    }
    return { name, oid, value };
  });
  const how = { exact: 'subject', glob: 'subject glob', regexp: 'subject regexp' }[rule.subject.kind];
  const extra = extensions.map((e) => `, ${e.name}=${e.value}`).join('');
  const named = (seen: SeenIdentity): boolean => seen.issuer === rule.issuer && seen.subjects.some(subject);
  const differing = (seen: SeenIdentity) => extensions.filter((e) => seen.extensions.get(e.oid) !== e.value);
  return Object.freeze({
    signer: `${rule.issuer} ${rule.subject.value}`,
    description: `issuer ${rule.issuer}, ${how} ${rule.subject.value}${extra}`,
    matches: (seen: SeenIdentity) => named(seen) && differing(seen).length === 0,
    extensionMismatch: (seen: SeenIdentity) => {
      if (!named(seen)) return undefined;
      const diff = differing(seen).map((e) => {
        const value = seen.extensions.get(e.oid);
        return `${e.name} is ${value === undefined ? 'absent' : JSON.stringify(value)}, not ${JSON.stringify(e.value)}`;
      });
      return diff.length > 0 ? diff.join(', ') : undefined;
    },
  });
}

function subjectMatcher(subject: IdentityRule['subject'], where: string): (value: string) => boolean {
  switch (subject.kind) {
    case 'exact':
      return (value) => value === subject.value;
    case 'glob': {
      const re = globRegExp(subject.value);
      return (value) => re.test(value);
    }
    case 'regexp': {
      let re: RegExp;
      try {
        re = new RegExp(`^(?:${subject.value})$`, 'u');
      } catch (err) {
        throw new SignetError('CONFIG_INVALID', `${where}.subjectRegExp: not a valid regular expression: ${subject.value}`, { cause: err });
      }
      return (value) => re.test(value);
    }
  }
}

/** Characters with a meaning in a regular expression (with the `u` flag, only these may be escaped). */
const REGEXP_SYNTAX = /[\\^$.*+?()[\]{}|/]/g;

/** `*` → any run without `/`, `**` → any run, everything else literal; anchored. */
export function globRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i);
    if (c !== '*') {
      source += c.replace(REGEXP_SYNTAX, '\\$&');
    } else if (glob.charAt(i + 1) === '*') {
      source += '.*';
      i++;
    } else {
      source += '[^/]*';
    }
  }
  return new RegExp(`^${source}$`, 'su');
}

/** The identity of a certificate @sigstore/verify has verified (its chain, SCT and time) for `signer`. */
export function seenIdentity(certificate: X509Certificate, signer: Signer): SeenIdentity {
  const subjects: string[] = [];
  const san = certificate.extSubjectAltName;
  for (const value of [san?.uri, san?.rfc822Name, san?.otherName(OID_OTHERNAME_USERNAME)]) {
    if (value !== undefined && !subjects.includes(value)) subjects.push(value);
  }
  const extensions = new Map<string, string>();
  for (const { oid, value } of signer.identity?.oids ?? []) {
    const dotted = oid?.id.join('.');
    if (dotted !== undefined) extensions.set(dotted, extensionText(dotted, Buffer.from(value)));
  }
  return { issuer: signer.identity?.extensions?.issuer, subjects, extensions };
}

/** "<issuer> <first SAN>": how a seen identity is shown in evidence and messages. */
export function describeSeen(seen: SeenIdentity): string {
  return `${seen.issuer ?? '(no issuer)'} ${seen.subjects[0] ?? '(no subject)'}`;
}

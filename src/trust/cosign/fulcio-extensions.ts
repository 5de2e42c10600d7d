import { ASN1Obj } from '@sigstore/core';

/**
 * Fulcio's certificate extensions (sigstore/fulcio docs/oid-info.md and pkg/certificate/
 * extensions.go), by the names a rule may use for them: Fulcio's Go field names in lower camel
 * case (`githubWorkflowRepository`, `sourceRepositoryURI`, ...), compared case-insensitively, or
 * the dotted OID. The deprecated .1.1–.1.6 extensions hold the raw string bytes; .1.8 onwards a
 * DER UTF8String (extensions.go: "the value is an ASN.1-encoded UTF8String").
 */

const FULCIO_ARC = '1.3.6.1.4.1.57264.1';

/** Fulcio's extensions by name and arc under 1.3.6.1.4.1.57264.1; `issuer` (.1.8, .1.1) is the identity's own field. */
const FULCIO_EXTENSIONS = [
  ['githubWorkflowTrigger', 2],
  ['githubWorkflowSHA', 3],
  ['githubWorkflowName', 4],
  ['githubWorkflowRepository', 5],
  ['githubWorkflowRef', 6],
  ['buildSignerURI', 9],
  ['buildSignerDigest', 10],
  ['runnerEnvironment', 11],
  ['sourceRepositoryURI', 12],
  ['sourceRepositoryDigest', 13],
  ['sourceRepositoryRef', 14],
  ['sourceRepositoryIdentifier', 15],
  ['sourceRepositoryOwnerURI', 16],
  ['sourceRepositoryOwnerIdentifier', 17],
  ['buildConfigURI', 18],
  ['buildConfigDigest', 19],
  ['buildTrigger', 20],
  ['runInvocationURI', 21],
  ['sourceRepositoryVisibilityAtSigning', 22],
  ['deploymentEnvironment', 23],
  ['tokenSubject', 24],
] as const;

/** Lower-cased name → OID. */
const NAMED_OIDS: ReadonlyMap<string, string> = new Map(FULCIO_EXTENSIONS.map(([name, arc]) => [name.toLowerCase(), `${FULCIO_ARC}.${arc}`]));

/** The names a rule may use, for messages. */
export const FULCIO_EXTENSION_NAMES: readonly string[] = FULCIO_EXTENSIONS.map(([name]) => name);

const DOTTED_OID = /^[0-2](?:\.(?:0|[1-9][0-9]*))+$/;

/** The OID a rule's extension key names, or undefined when it names none. */
export function extensionOid(nameOrOid: string): string | undefined {
  if (DOTTED_OID.test(nameOrOid)) return nameOrOid;
  return NAMED_OIDS.get(nameOrOid.toLowerCase());
}

/** DER string types an extension value may be encoded as (X.680): UTF8String, PrintableString, IA5String. */
const DER_STRING_TAGS: ReadonlySet<number> = new Set([0x0c, 0x13, 0x16]);

/**
 * The text of an extension's value (the extnValue OCTET STRING's content). Fulcio's legacy arcs
 * .1.1–.1.6 are raw bytes; the others, and extensions outside Fulcio's arc, are read as a DER
 * string when they are one, else as raw bytes.
 */
export function extensionText(oid: string, value: Buffer): string {
  const legacy = oid.startsWith(`${FULCIO_ARC}.`) && Number(oid.slice(FULCIO_ARC.length + 1)) <= 6;
  if (!legacy) {
    try {
      const parsed = ASN1Obj.parseBuffer(Buffer.from(value));
      const whole = parsed.toDER().length === value.length;
      if (whole && parsed.tag.isUniversal() && DER_STRING_TAGS.has(parsed.tag.number)) return parsed.value.toString('utf8');
    } catch {
      // Not DER: the raw bytes are the value.
    }
  }
  return value.toString('utf8');
}

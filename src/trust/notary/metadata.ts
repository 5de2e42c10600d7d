/**
 * Typed models and zod schemas of Notary v1 metadata (Notary: tuf/data/types.go, root.go,
 * targets.go, snapshot.go, timestamp.go), and parseSigned, which turns downloaded bytes into
 * {typed `signed`, signatures, parsed `signed` value}. parseSigned checks shape only — never
 * signatures, expiry or versions (see verify-signature.ts and metadata-checks.ts).
 */
import { z } from 'zod';
import { goBytesSchema } from './encoding.js';
import { TrustError } from './errors.js';
import { isJsonObject, parseJson, type JsonObject, type JsonValue } from './json-parse.js';
import { publicKeyRecordSchema, type PublicKeyRecord } from './keys.js';
import { DEFAULTS } from '../../config/defaults.js';
import { parseRfc3339 } from '../rfc3339.js';
import { BASE_ROLES, delegationNameProblem, isTargetsRole, isValidRoleName } from './role-names.js';

export interface Signature {
  readonly keyid: string;
  /** lower-cased, as tuf/data/types.go Signature.UnmarshalJSON does */
  readonly method: string;
  readonly sig: Buffer;
}

/** tuf/data/types.go FileMeta. `hashes` keeps every algorithm listed (sha256, sha512, others). */
export interface FileMeta {
  readonly length: number;
  readonly hashes: ReadonlyMap<string, Buffer>;
  readonly custom: JsonValue | undefined;
}

export interface SignedCommon {
  /** the `_type` field */
  readonly type: string;
  readonly version: number;
  readonly expires: Date;
  /** `expires` exactly as written */
  readonly expiresText: string;
}

export interface RoleKeys {
  readonly keyids: readonly string[];
  readonly threshold: number;
}

export interface Root extends SignedCommon {
  readonly keys: ReadonlyMap<string, PublicKeyRecord>;
  readonly roles: ReadonlyMap<string, RoleKeys>;
  readonly consistentSnapshot: boolean;
}

export interface DelegationRole extends RoleKeys {
  readonly name: string;
  readonly paths: readonly string[];
}

export interface Targets extends SignedCommon {
  readonly targets: ReadonlyMap<string, FileMeta>;
  readonly delegations: {
    readonly keys: ReadonlyMap<string, PublicKeyRecord>;
    readonly roles: readonly DelegationRole[];
  };
}

export interface Snapshot extends SignedCommon {
  readonly meta: ReadonlyMap<string, FileMeta>;
}

export interface Timestamp extends SignedCommon {
  readonly meta: ReadonlyMap<string, FileMeta>;
}

export type MetadataFor<R extends string> = R extends 'root' ? Root : R extends 'snapshot' ? Snapshot : R extends 'timestamp' ? Timestamp : Targets;

export interface SignedMetadata<T> {
  /** the role this file was parsed as */
  readonly role: string;
  readonly signed: T;
  readonly signatures: readonly Signature[];
  /** the parsed `signed` object: canonicalize(signedValue) is the signed message */
  readonly signedValue: JsonObject;
}

/** A JSON object turned into a Map, each value checked by `value`, at most `max` entries. */
function mapOf<T extends z.ZodType>(value: T, max: number) {
  return z
    .custom<JsonObject>((v) => isJsonObject(v), 'expected an object')
    .transform((obj, ctx) => {
      const out = new Map<string, z.output<T>>();
      const keys = Object.keys(obj);
      if (keys.length > max) {
        ctx.addIssue({ code: 'custom', message: `more than ${max} entries` });
        return z.NEVER;
      }
      for (const key of keys) {
        const r = value.safeParse(obj[key]);
        if (!r.success) {
          for (const issue of r.error.issues) {
            ctx.addIssue({ code: 'custom', message: issue.message, path: [key, ...issue.path] });
          }
          return z.NEVER;
        }
        out.set(key, r.data);
      }
      return out;
    });
}

export const signatureSchema = z.object({
  keyid: z.string(),
  method: z.string().transform((m) => m.toLowerCase()),
  sig: goBytesSchema,
});

const wrapperSchema = z.object({
  signed: z.custom<JsonObject>((v) => isJsonObject(v), 'signed must be an object'),
  signatures: z.array(signatureSchema).max(DEFAULTS.notary.maxSignatures).nullish(),
});

export const fileMetaSchema = z
  .object({
    length: z.int().nonnegative(),
    hashes: mapOf(goBytesSchema, 16),
    custom: z.custom<JsonValue>(() => true).optional(),
  })
  .transform((f): FileMeta => ({ length: f.length, hashes: f.hashes, custom: f.custom }));

const commonShape = {
  _type: z.string(),
  version: z.int(),
  expires: z.string(),
};

const roleKeysSchema = z.object({
  keyids: z.array(z.string()).max(DEFAULTS.notary.maxKeyIdsPerRole).nullish(),
  threshold: z.int(),
});

const rootSchema = z.object({
  ...commonShape,
  keys: mapOf(publicKeyRecordSchema, DEFAULTS.notary.maxKeys),
  roles: mapOf(roleKeysSchema, 64),
  consistent_snapshot: z.boolean().optional(),
});

const targetsSchema = z.object({
  ...commonShape,
  targets: mapOf(fileMetaSchema, Number.MAX_SAFE_INTEGER).nullish(),
  delegations: z
    .object({
      keys: mapOf(publicKeyRecordSchema, DEFAULTS.notary.maxKeys).nullish(),
      roles: z
        .array(roleKeysSchema.extend({ name: z.string(), paths: z.array(z.string()).nullish() }))
        .max(DEFAULTS.notary.maxDelegationRoles)
        .nullish(),
    })
    .nullish(),
});

const metaSchema = z.object({
  ...commonShape,
  meta: mapOf(fileMetaSchema, Number.MAX_SAFE_INTEGER).nullish(),
});

const EXPECTED_TYPE: Readonly<Record<string, string>> = {
  root: 'Root',
  targets: 'Targets',
  snapshot: 'Snapshot',
  timestamp: 'Timestamp',
};

/**
 * Parses one metadata file downloaded for `role` ('root', 'targets', 'snapshot', 'timestamp'
 * or a delegation 'targets/…'). Checks, as tuf/data/*FromSigned do: JSON syntax (integer
 * literals only, valid UTF-8), `_type` for the role, version ≥ 1, `expires` RFC 3339; for root
 * all four base roles with threshold ≥ 1 and known key IDs; for targets files valid delegation
 * names that are direct children of `role`, threshold ≥ 1 and known keys; for snapshot a sha256
 * for root and targets; for timestamp a sha256 for snapshot (hash sizes checked).
 * Throws TrustError: 'too_large', 'canonical_json' (not JSON), 'bad_role_name', 'malformed'.
 */
export function parseSigned<R extends string>(bytes: Uint8Array, role: R): SignedMetadata<MetadataFor<R>> {
  if (!isValidRoleName(role)) throw new TrustError('bad_role_name', `invalid role name ${JSON.stringify(role)}`);
  if (bytes.length > DEFAULTS.notary.maxMetadataBytes) {
    throw new TrustError('too_large', `${role} metadata is ${bytes.length} bytes, over ${DEFAULTS.notary.maxMetadataBytes}`);
  }
  const wrapper = check(wrapperSchema, parseJson(bytes, { integerLiteralsOnly: true }), role);
  const signedValue = wrapper.signed;
  const expectedType = EXPECTED_TYPE[isTargetsRole(role) ? 'targets' : role];
  const type = signedValue['_type'];
  if (type !== expectedType) {
    throw new TrustError('malformed', `${role}: expected _type ${expectedType}, not ${JSON.stringify(type)}`);
  }
  let signed: Root | Targets | Snapshot | Timestamp;
  if (role === 'root') signed = toRoot(signedValue);
  else if (role === 'snapshot') signed = toMetaFile(signedValue, 'snapshot', ['root', 'targets']);
  else if (role === 'timestamp') signed = toMetaFile(signedValue, 'timestamp', ['snapshot']);
  else signed = toTargets(signedValue, role);
  return {
    role,
    signed: signed as MetadataFor<R>,
    signatures: wrapper.signatures ?? [],
    signedValue,
  };
}

function check<T extends z.ZodType>(schema: T, value: unknown, role: string): z.output<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  const where = first === undefined ? '' : ` at ${first.path.map(String).join('.') || '(top)'}`;
  throw new TrustError('malformed', `${role}: ${first?.message ?? 'invalid metadata'}${where}`, { cause: r.error });
}

function common(v: { _type: string; version: number; expires: string }, role: string): SignedCommon {
  if (v.version < 1) throw new TrustError('malformed', `${role}: version cannot be less than 1`);
  const expires = parseRfc3339(v.expires);
  if (expires === null) throw new TrustError('malformed', `${role}: expires is not RFC 3339: ${JSON.stringify(v.expires)}`);
  return { type: v._type, version: v.version, expires, expiresText: v.expires };
}

/** tuf/data/root.go isValidRootRoleStructure. */
function checkRoleKeys(container: string, name: string, role: RoleKeys, keys: ReadonlyMap<string, PublicKeyRecord>): void {
  if (role.threshold < 1) {
    throw new TrustError('malformed', `${container}: invalid threshold specified for ${name}: ${role.threshold}`);
  }
  for (const id of role.keyids) {
    if (!keys.has(id)) throw new TrustError('malformed', `${container}: key ID ${id} specified in ${name} without corresponding key`);
  }
}

function toRoot(value: JsonObject): Root {
  const v = check(rootSchema, value, 'root');
  const roles = new Map<string, RoleKeys>();
  for (const [name, r] of v.roles) roles.set(name, { keyids: r.keyids ?? [], threshold: r.threshold });
  for (const name of BASE_ROLES) {
    const role = roles.get(name);
    if (role === undefined) throw new TrustError('malformed', `root: missing ${name} role specification`);
    checkRoleKeys('root', name, role, v.keys);
  }
  return { ...common(v, 'root'), keys: v.keys, roles, consistentSnapshot: v.consistent_snapshot ?? false };
}

function toTargets(value: JsonObject, role: string): Targets {
  const v = check(targetsSchema, value, role);
  const keys = v.delegations?.keys ?? new Map<string, PublicKeyRecord>();
  const roles: DelegationRole[] = [];
  for (const r of v.delegations?.roles ?? []) {
    const problem = delegationNameProblem(role, r.name);
    if (problem !== null) throw new TrustError('bad_role_name', `${role}: ${problem}`);
    const delegation: DelegationRole = { name: r.name, keyids: r.keyids ?? [], threshold: r.threshold, paths: r.paths ?? [] };
    checkRoleKeys(role, r.name, delegation, keys);
    roles.push(delegation);
  }
  return { ...common(v, role), targets: v.targets ?? new Map(), delegations: { keys, roles } };
}

/** snapshot.go IsValidSnapshotStructure / timestamp.go IsValidTimestampStructure. */
function toMetaFile(value: JsonObject, role: 'snapshot' | 'timestamp', required: readonly string[]): Snapshot {
  const v = check(metaSchema, value, role);
  const meta = v.meta ?? new Map<string, FileMeta>();
  for (const name of required) {
    const hashes = meta.get(name)?.hashes;
    if (hashes?.get('sha256') === undefined) {
      throw new TrustError('malformed', `${role}: missing ${name} sha256 checksum information`);
    }
    const problem = hashStructureProblem(hashes);
    if (problem !== null) throw new TrustError('malformed', `${role}: invalid ${name} checksum information, ${problem}`);
  }
  return { ...common(v, role), meta };
}

/**
 * tuf/data/types.go CheckValidHashStructures: sha256 must be 32 bytes and sha512 64 bytes when
 * present, and at least one of them must be present. Returns the problem, or null.
 */
export function hashStructureProblem(hashes: ReadonlyMap<string, Buffer>): string | null {
  let known = 0;
  const sha256 = hashes.get('sha256');
  const sha512 = hashes.get('sha512');
  if (sha256 !== undefined) {
    if (sha256.length !== 32) return 'invalid sha256 checksum';
    known++;
  }
  if (sha512 !== undefined) {
    if (sha512.length !== 64) return 'invalid sha512 checksum';
    known++;
  }
  return known === 0 ? 'at least one supported hash needed' : null;
}

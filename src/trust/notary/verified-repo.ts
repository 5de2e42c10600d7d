/**
 * A fully verified Notary repository and the target lookups of the Notary client and the
 * Docker CLI over it (Notary: tuf/tuf.go WalkTargets, client/reader.go GetTargetByName;
 * docker/cli cli/command/image/trust.go getTrustedPullTargets).
 */
import type { PublicKeyRecord } from './keys.js';
import type { FileMeta, Root, SignedMetadata, Snapshot, Targets, Timestamp } from './metadata.js';

export const RELEASES_ROLE = 'targets/releases';

/** A target as the Docker CLI would pull it: the manifest digest and length a role signed. */
export interface SignedTarget {
  /** "sha256:<hex>" of the manifest bytes. */
  digest: string;
  /** Length in bytes of the signed manifest. */
  size: number;
  /** The role whose signed metadata holds the target. */
  role: string;
}

/** A delegation role as the walk sees it: its paths already restricted by its parents. */
interface WalkRole {
  name: string;
  paths: readonly string[];
}

export interface VerifiedRepoParts {
  gun: string;
  root: SignedMetadata<Root>;
  timestamp: SignedMetadata<Timestamp>;
  snapshot: SignedMetadata<Snapshot>;
  /** Loaded targets roles (`targets` and every delegation that verified), by name. */
  targets: ReadonlyMap<string, SignedMetadata<Targets>>;
  /** Imported data of an offline upstream: ms a timestamp or snapshot stays usable past its expiry. */
  expiryGraceMs?: number;
  /** Roles that were accepted past their expiry within that grace. */
  expiredAccepted?: readonly string[];
}

export class VerifiedNotaryRepo {
  readonly name: string;
  readonly versions: Record<string, number>;
  readonly expires: Record<string, Date>;
  /** Roles accepted past their expiry under an offline grace (audited with the decision). */
  readonly expiredAccepted: readonly string[];
  readonly keys: Record<string, Array<{ id: string; type: string }>>;
  readonly #parts: VerifiedRepoParts;

  constructor(parts: VerifiedRepoParts) {
    this.#parts = parts;
    this.name = parts.gun;
    this.versions = {};
    this.expires = {};
    this.expiredAccepted = parts.expiredAccepted ?? [];
    const all: Array<[string, { signed: { version: number; expires: Date } }]> = [
      ['root', parts.root],
      ['timestamp', parts.timestamp],
      ['snapshot', parts.snapshot],
      ...[...parts.targets.entries()],
    ];
    for (const [role, meta] of all) {
      this.versions[role] = meta.signed.version;
      this.expires[role] = meta.signed.expires;
    }
    this.keys = {};
    const root = parts.root.signed;
    for (const [role, r] of root.roles) {
      this.keys[role] = r.keyids.map((id) => ({ id, type: root.keys.get(id)?.keytype ?? 'unknown' }));
    }
    for (const t of parts.targets.values()) {
      for (const d of t.signed.delegations.roles) {
        this.keys[d.name] = d.keyids.map((id) => ({ id, type: t.signed.delegations.keys.get(id)?.keytype ?? 'unknown' }));
      }
    }
  }

  /**
   * Every key a role of this state is signed with, as its metadata publishes it: root-signed
   * roles first, then the delegations of each loaded targets role. For the console's key health.
   */
  roleKeys(): Array<{ role: string; id: string; key: PublicKeyRecord | undefined }> {
    const out: Array<{ role: string; id: string; key: PublicKeyRecord | undefined }> = [];
    const root = this.#parts.root.signed;
    for (const [role, r] of root.roles) for (const id of r.keyids) out.push({ role, id, key: root.keys.get(id) });
    for (const t of this.#parts.targets.values()) {
      for (const d of t.signed.delegations.roles) for (const id of d.keyids) out.push({ role: d.name, id, key: t.signed.delegations.keys.get(id) });
    }
    return out;
  }

  /**
   * The earliest expiry of all loaded metadata: the verified state is usable until then. The
   * offline grace extends the timestamp's and snapshot's only.
   */
  get validUntil(): Date {
    const grace = this.#parts.expiryGraceMs ?? 0;
    return new Date(Math.min(...Object.entries(this.expires).map(([role, d]) => d.getTime() + (role === 'timestamp' || role === 'snapshot' ? grace : 0))));
  }

  /**
   * tuf.go WalkTargets: breadth-first from `targets` (which implicitly has the path ""),
   * descending through prefixes of `rolePath`, visiting roles in `rolePath`'s subtree whose
   * paths allow `name` and that are not in `skip`; `visit` returning true stops the walk.
   */
  walk(name: string, rolePath: string, visit: (role: string, targets: Targets) => boolean, skip: readonly string[] = []): void {
    const queue: WalkRole[] = [{ name: 'targets', paths: [''] }];
    while (queue.length > 0) {
      const role = queue.shift() as WalkRole;
      const signed = this.#parts.targets.get(role.name)?.signed;
      if (!signed) continue; // not loaded (absent, expired or under threshold): skipped with its subtree
      if (rolePath.startsWith(`${role.name}/`)) {
        queue.push(...validDelegations(signed, role));
        continue;
      }
      const pathOk = name === '' || role.paths.some((p) => name.startsWith(p));
      const inSubtree = role.name === rolePath || role.name.startsWith(`${rolePath}/`);
      if (pathOk && inSubtree && !skip.includes(role.name)) {
        if (visit(role.name, signed)) return;
        queue.push(...validDelegations(signed, role));
      }
    }
  }

  /** client/reader.go GetTargetByName: the first hit walking each of `roles` in turn. */
  targetByName(name: string, roles: readonly string[]): { role: string; meta: FileMeta } | undefined {
    for (const start of roles) {
      const skip = roles.filter((r) => r !== start);
      let found: { role: string; meta: FileMeta } | undefined;
      this.walk(
        name,
        start,
        (role, targets) => {
          const meta = targets.targets.get(name);
          if (!meta) return false;
          found = { role, meta };
          return true;
        },
        skip,
      );
      if (found) return found;
    }
    return undefined;
  }

  /**
   * Docker's choice: GetTargetByName(tag, "targets/releases", "targets"), accepting only a hit
   * in one of those two roles; the digest is "sha256:" + hex of hashes.sha256.
   */
  chooseTarget(tag: string): SignedTarget | undefined {
    const hit = this.targetByName(tag, [RELEASES_ROLE, 'targets']);
    if (!hit || (hit.role !== RELEASES_ROLE && hit.role !== 'targets')) return undefined;
    return toSignedTarget(hit.role, hit.meta);
  }

  /** Each loaded delegation `targets/<name>` (one level, as `docker trust signer add` makes) that has `tag`. */
  signersOf(tag: string): Map<string, SignedTarget> {
    const out = new Map<string, SignedTarget>();
    for (const role of this.#parts.targets.keys()) {
      const m = /^targets\/([^/]+)$/.exec(role);
      if (!m || role === RELEASES_ROLE) continue;
      let found: SignedTarget | undefined;
      this.walk(tag, role, (visited, targets) => {
        const file = visited === role ? targets.targets.get(tag) : undefined;
        if (file) found = toSignedTarget(role, file);
        return true; // only the role itself counts as that signer
      });
      if (found) out.set(m[1] as string, found);
    }
    return out;
  }

  isSignedDigest(digest: string): boolean {
    return this.listTargets().some((t) => t.digest === digest);
  }

  /** Every tag Docker would accept, with its chosen target. */
  listTargets(): Array<{ tag: string } & SignedTarget> {
    const names = new Set<string>();
    for (const role of ['targets', RELEASES_ROLE]) for (const name of this.#parts.targets.get(role)?.signed.targets.keys() ?? []) names.add(name);
    const out: Array<{ tag: string } & SignedTarget> = [];
    for (const tag of [...names].sort()) {
      const target = this.chooseTarget(tag);
      if (target) out.push({ tag, ...target });
    }
    return out;
  }
}

/**
 * targets.go GetValidDelegations + DelegationRole.Restrict: the direct children declared in
 * `signed`, each keeping only the paths that start with one of the parent's paths.
 */
function validDelegations(signed: Targets, parent: WalkRole): WalkRole[] {
  const out: WalkRole[] = [];
  for (const d of signed.delegations.roles) {
    const slash = d.name.lastIndexOf('/');
    if (d.name.slice(0, slash) !== parent.name) continue;
    out.push({ name: d.name, paths: d.paths.filter((p) => parent.paths.some((pp) => p.startsWith(pp))) });
  }
  return out;
}

function toSignedTarget(role: string, meta: FileMeta): SignedTarget | undefined {
  const sha = meta.hashes.get('sha256');
  if (!sha) return undefined;
  return { role, digest: `sha256:${sha.toString('hex')}`, size: meta.length };
}

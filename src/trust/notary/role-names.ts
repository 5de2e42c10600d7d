/**
 * Role names (Notary: tuf/data/roles.go). Base roles are root, targets, snapshot, timestamp;
 * a delegation is `targets/...` matching `^[-a-z0-9_/]+$`, shorter than 256 bytes and equal to
 * its own path.Clean; a delegation declared in a targets file must be a direct child of the
 * role of that file (tuf/data/targets.go isValidTargetsStructure, path.Dir(name) == role).
 */
import { DEFAULTS } from '../../config/defaults.js';

export const BASE_ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;
export type BaseRoleName = (typeof BASE_ROLES)[number];

const DELEGATION_CHARS = /^[-a-z0-9_/]+$/;

/** tuf/data/roles.go IsDelegation. */
export function isDelegationName(name: string): boolean {
  return name.startsWith('targets/') && DELEGATION_CHARS.test(name) && name.length <= DEFAULTS.notary.maxRoleNameLength && goPathClean(name) === name;
}

/** tuf/data/roles.go ValidRole: a base role or a delegation. */
export function isValidRoleName(name: string): boolean {
  return (BASE_ROLES as readonly string[]).includes(name) || isDelegationName(name);
}

/** True for `targets` and delegations: the roles whose files have `_type` "Targets". */
export function isTargetsRole(name: string): boolean {
  return name === 'targets' || isDelegationName(name);
}

/**
 * Why `child` may not be declared in the targets file of role `parent`, or null if it may:
 * it must be a delegation name and path.Dir(child) must equal parent.
 */
export function delegationNameProblem(parent: string, child: string): string | null {
  if (!isDelegationName(child)) {
    return `delegation role name ${JSON.stringify(child)} is invalid (^[-a-z0-9_/]+$, < 256 chars, clean, under targets/)`;
  }
  if (goPathDir(child) !== parent) {
    return `delegation role ${JSON.stringify(child)} is not a direct child of ${JSON.stringify(parent)}`;
  }
  return null;
}

/** Go path.Dir: everything before the last slash, cleaned. */
export function goPathDir(p: string): string {
  const slash = p.lastIndexOf('/');
  return goPathClean(p.slice(0, slash + 1));
}

/** Go path.Clean (lexical: collapses //, removes . and resolvable .., drops a trailing /). */
export function goPathClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

import { SignetError } from '../../errors.js';
import { printable } from '../../registry/names.js';

/**
 * Docker token scopes (distribution, docs/spec/auth/scope.md, "Resource Scope Grammar"):
 *
 *   scope         := resourcescope [ ' ' resourcescope ]*
 *   resourcescope := resourcetype ":" resourcename ":" action [ ',' action ]*
 *
 * The name may itself hold a colon (a `host:port` first component), so the type ends at the
 * first colon and the actions start after the last one. The same shape is the `access` claim
 * of a token: `{type, name, actions}`.
 */
export interface ResourceScope {
  type: string;
  name: string;
  actions: string[];
}

const TYPE = /^[a-z0-9]+(?:\([a-z0-9]+\))?$/;
const ACTION = /^[a-z0-9*]+$/;

/** Every resource scope in `text` (space-separated, as POST /token sends them; a GET `scope` may be one or several). */
export function parseScopes(text: string): ResourceScope[] {
  return text
    .split(' ')
    .filter((s) => s !== '')
    .map(parseResourceScope);
}

function parseResourceScope(text: string): ResourceScope {
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  const type = text.slice(0, first);
  const name = text.slice(first + 1, last);
  const actions = text.slice(last + 1).split(',');
  if (first <= 0 || last === first || name === '' || !TYPE.test(type) || !actions.every((a) => ACTION.test(a))) {
    throw new SignetError('UNSUPPORTED', `invalid token scope "${printable(text)}": expected <type>:<name>:<action>[,<action>...]`, { status: 400 });
  }
  return { type, name, actions };
}

export function formatScope(scope: ResourceScope): string {
  return `${scope.type}:${scope.name}:${scope.actions.join(',')}`;
}

/**
 * Apache htpasswd text: one `user:hash` per line. Only bcrypt hashes are accepted (`htpasswd
 * -B` writes `$2y$`); Apache's other formats (`$apr1$` MD5, `{SHA}`, crypt(3), plain text) are
 * weak or unsalted, so their lines are refused and reported — never silently used.
 * distribution's own htpasswd auth (registry/auth/htpasswd) accepts bcrypt only, too.
 */

export interface HtpasswdRejection {
  /** 1-based line number. */
  line: number;
  user: string;
  reason: string;
}

export interface ParsedHtpasswd {
  /** user → bcrypt hash, normalised to `$2b$`. */
  users: Map<string, string>;
  rejected: HtpasswdRejection[];
}

// Modular crypt bcrypt: $2a$ / $2b$ / $2x$ / $2y$, a two-digit cost, 22 salt and 31 hash characters.
const BCRYPT = /^\$2[abxy]\$(\d{2})\$[./A-Za-z0-9]{53}$/;

/** bcrypt's own cost bounds (4..31). */
const MIN_COST = 4;
const MAX_COST = 31;

export function parseHtpasswd(text: string): ParsedHtpasswd {
  const users = new Map<string, string>();
  const rejected: HtpasswdRejection[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const user = colon > 0 ? line.slice(0, colon) : '';
    const hash = colon > 0 ? line.slice(colon + 1) : '';
    const problem = problemOf(user, hash, users);
    if (problem !== undefined) {
      rejected.push({ line: i + 1, user, reason: problem });
      return;
    }
    // $2y$ (PHP, Apache) and $2b$ (OpenBSD) are the same algorithm; bcryptjs writes $2b$.
    users.set(user, hash.replace(/^\$2y\$/, '$2b$'));
  });
  return { users, rejected };
}

/** Why an entry cannot be used, or undefined. */
function problemOf(user: string, hash: string, seen: ReadonlyMap<string, string>): string | undefined {
  if (user === '') return 'not a user:hash line';
  const m = BCRYPT.exec(hash);
  if (!m) return `${describeFormat(hash)} is not accepted: only bcrypt entries (htpasswd -B) are`;
  const cost = Number(m[1]);
  if (cost < MIN_COST || cost > MAX_COST) return `bcrypt cost ${cost} is outside ${MIN_COST}..${MAX_COST}`;
  // $2x$ marks hashes from the broken pre-2011 crypt_blowfish; they may not verify as written.
  if (hash.startsWith('$2x$')) return '$2x$ bcrypt hashes (crypt_blowfish bug) are not accepted';
  if (seen.has(user)) return 'user listed twice; the first entry is used';
  return undefined;
}

/** Names the format of a hash for a log line, without printing the hash. */
function describeFormat(hash: string): string {
  if (hash.startsWith('$apr1$')) return 'an MD5 ($apr1$) hash';
  if (hash.startsWith('{SHA}')) return 'a SHA-1 ({SHA}) hash';
  if (hash.startsWith('$1$')) return 'an MD5-crypt ($1$) hash';
  if (hash.startsWith('$5$') || hash.startsWith('$6$')) return 'a SHA-crypt hash';
  if (hash.startsWith('$2')) return 'a malformed bcrypt hash';
  return 'a crypt(3) or plain-text password';
}

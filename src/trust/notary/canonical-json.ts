/**
 * Canonical JSON exactly as docker/go canonical/json MarshalCanonical writes it — the bytes
 * Notary signs and verifies (Notary: tuf/signed/verify.go VerifySignatures re-marshals the
 * decoded `signed` value with json.MarshalCanonical; tuf/signed/sign.go signs the same form).
 *
 * Rules (docker/go canonical/json/encode.go with encodeState.canonical = true):
 * - objects: keys sorted by Go string order, i.e. by UTF-8 bytes (== code point order, not JS's
 *   UTF-16 order), no whitespace; arrays keep their order; true/false/null;
 * - strings: only `"` and `\` are escaped; every other byte is written raw — control
 *   characters, `<>&`, U+2028/U+2029, non-ASCII;
 * - numbers: floatEncoder fails on NaN, ±Inf and non-integers, and writes integers as
 *   strconv.AppendInt(int64(f)). The input came from a float64 decode, so values are doubles;
 *   a double outside the int64 range is refused here (Go's conversion is undefined there).
 *   bigint is accepted too (exact), within the same int64 range.
 */
import { TrustError } from './errors.js';
import { DEFAULTS } from '../../config/defaults.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Returns the canonical encoding of a JSON-like value (what parseJson returns, or plain JS
 * objects/arrays/strings/numbers/booleans/null/bigint). Throws TrustError('canonical_json') for
 * anything docker/go refuses to canonicalise (non-integers, undefined, functions, cycles...).
 */
export function canonicalize(value: unknown): Buffer {
  const parts: Buffer[] = [];
  write(value, parts, 0);
  return Buffer.concat(parts);
}

const QUOTE = Buffer.from('"');
const COMMA = Buffer.from(',');
const COLON = Buffer.from(':');

function write(value: unknown, out: Buffer[], depth: number): void {
  if (depth > DEFAULTS.notary.maxJsonDepth) {
    throw new TrustError('canonical_json', 'value nests too deeply to canonicalise');
  }
  if (value === null) {
    out.push(Buffer.from('null'));
    return;
  }
  switch (typeof value) {
    case 'boolean':
      out.push(Buffer.from(value ? 'true' : 'false'));
      return;
    case 'string':
      writeString(value, out);
      return;
    case 'number':
      out.push(Buffer.from(integerText(value)));
      return;
    case 'bigint':
      if (value < INT64_MIN || value > INT64_MAX) {
        throw new TrustError('canonical_json', `integer outside the int64 range: ${value}`);
      }
      out.push(Buffer.from(value.toString()));
      return;
    case 'object':
      break;
    default:
      throw new TrustError('canonical_json', `cannot canonicalise a ${typeof value}`);
  }
  if (Array.isArray(value)) {
    out.push(Buffer.from('['));
    value.forEach((item: unknown, i) => {
      if (i > 0) out.push(COMMA);
      write(item, out, depth + 1);
    });
    out.push(Buffer.from(']'));
    return;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== null && proto !== Object.prototype) {
    throw new TrustError('canonical_json', 'only plain objects can be canonicalised');
  }
  const record = value as Record<string, unknown>;
  const entries = Object.keys(record).map((key) => ({ bytes: utf8Bytes(key), value: record[key] }));
  entries.sort((a, b) => Buffer.compare(a.bytes, b.bytes));
  out.push(Buffer.from('{'));
  entries.forEach((entry, i) => {
    if (i > 0) {
      const previous = entries[i - 1];
      if (previous !== undefined && previous.bytes.equals(entry.bytes)) {
        // Only possible when two keys differ by lone surrogates, which both become U+FFFD.
        throw new TrustError('canonical_json', 'two object keys have the same UTF-8 encoding');
      }
      out.push(COMMA);
    }
    pushString(entry.bytes, out);
    out.push(COLON);
    write(entry.value, out, depth + 1);
  });
  out.push(Buffer.from('}'));
}

/** docker/go floatEncoder in canonical mode. */
function integerText(n: number): string {
  if (!Number.isFinite(n) || Math.floor(n) !== n) {
    throw new TrustError('canonical_json', `canonical JSON allows integers only, got ${n}`);
  }
  const big = BigInt(n); // exact for every integral double; -0 becomes 0 as in Go
  if (big < INT64_MIN || big > INT64_MAX) {
    throw new TrustError('canonical_json', `integer outside the int64 range: ${n}`);
  }
  return big.toString();
}

function writeString(s: string, out: Buffer[]): void {
  pushString(utf8Bytes(s), out);
}

/** Writes a quoted string, escaping only `"` (0x22) and `\` (0x5c). */
function pushString(bytes: Buffer, out: Buffer[]): void {
  out.push(QUOTE);
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === undefined || (b !== 0x22 && b !== 0x5c)) continue;
    if (start < i) out.push(bytes.subarray(start, i));
    out.push(Buffer.from([0x5c, b]));
    start = i + 1;
  }
  if (start < bytes.length) out.push(bytes.subarray(start));
  out.push(QUOTE);
}

/**
 * UTF-8 bytes of a JS string. Lone surrogates become U+FFFD (EF BF BD), which is what Go holds
 * for them after decoding (see json-parse.ts); Buffer.from does exactly that replacement.
 */
function utf8Bytes(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

/**
 * A small strict JSON parser that reads metadata bytes the way Notary's verifier does.
 *
 * Notary re-canonicalises `signed` after decoding it into a generic value with docker/go
 * canonical/json (a fork of Go's encoding/json): Notary: tuf/signed/verify.go VerifySignatures,
 * `json.Unmarshal(*s.Signed, &decoded)` into map[string]interface{}. To rebuild the very bytes Go
 * rebuilds, this parser keeps Go's decoding choices:
 * - numbers become IEEE-754 doubles (Go's interface{} decoding gives float64; JS numbers are the
 *   same doubles, both correctly rounded). Exactness above 2^53 is therefore *not* kept, on
 *   purpose: Go's verifier loses it too, so keeping it would give other verdicts than Docker's.
 *   A number too large for a double (1e400) is an error, as in Go.
 * - `\uD800`-style escapes that are not a valid surrogate pair become U+FFFD, and the following
 *   escape is not consumed (Go's unquoteBytes);
 * - duplicate object keys: the last one wins (Go assigns map entries in order);
 * - raw control characters (< 0x20) in strings are errors (Go's scanner).
 * One deliberate difference: invalid UTF-8 is refused outright. Go would replace each bad byte by
 * U+FFFD and then re-sign-check a different string, so a Go-signed file with invalid UTF-8 never
 * verifies anyway; refusing it keeps one reading of every name.
 * Objects are created with a null prototype so that a key such as "__proto__" is plain data.
 */
import { DEFAULTS } from '../../config/defaults.js';
import { TrustError } from './errors.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export interface ParseJsonOptions {
  /** nesting levels allowed; defaults to DEFAULTS.notary.maxJsonDepth */
  maxDepth?: number;
  /**
   * Refuse number literals with a fraction or an exponent (`1.0`, `1e3`). Go decodes the typed
   * fields of metadata (version, threshold, length) with strconv.ParseInt, which refuses them,
   * while its float64 canonicalisation path would accept them as integers; refusing them
   * everywhere keeps one reading. Default false (pure Go float64 behaviour).
   */
  integerLiteralsOnly?: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses one JSON value (surrounded by optional JSON whitespace) from UTF-8 bytes or a string.
 * Throws TrustError('canonical_json') on any syntax error, invalid UTF-8 or excessive nesting.
 */
export function parseJson(input: Uint8Array | string, options: ParseJsonOptions = {}): JsonValue {
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    try {
      text = utf8.decode(input);
    } catch (err) {
      throw new TrustError('canonical_json', 'JSON text is not valid UTF-8', { cause: err });
    }
  }
  const parser = new Parser(text, options.maxDepth ?? DEFAULTS.notary.maxJsonDepth, options.integerLiteralsOnly ?? false);
  parser.skipWhitespace();
  const value = parser.value(0);
  parser.skipWhitespace();
  if (parser.pos !== text.length) parser.fail('unexpected data after the JSON value');
  return value;
}

/** True for the objects parseJson builds (and any other non-array, non-null object). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

class Parser {
  pos = 0;

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
    private readonly integerLiteralsOnly: boolean,
  ) {}

  fail(message: string): never {
    throw new TrustError('canonical_json', `invalid JSON at offset ${this.pos}: ${message}`);
  }

  skipWhitespace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.pos++;
    }
  }

  value(depth: number): JsonValue {
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.object(depth + 1);
      case '[':
        return this.array(depth + 1);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        return this.number();
    }
  }

  private literal<T extends JsonValue>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail(`expected ${word}`);
    this.pos += word.length;
    return value;
  }

  private number(): number {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (m === null) this.fail('expected a JSON value');
    if (this.integerLiteralsOnly && /[.eE]/.test(m[0])) this.fail(`not an integer literal: ${m[0]}`);
    const n = Number(m[0]);
    // Go: strconv.ParseFloat fails with ErrRange, and Unmarshal with it.
    if (!Number.isFinite(n)) this.fail(`number out of range: ${m[0]}`);
    this.pos += m[0].length;
    return n;
  }

  private array(depth: number): JsonValue[] {
    if (depth > this.maxDepth) this.fail('nesting too deep');
    this.pos++; // [
    const out: JsonValue[] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      out.push(this.value(depth));
      this.skipWhitespace();
      const c = this.text[this.pos];
      this.pos++;
      if (c === ']') return out;
      if (c !== ',') this.fail("expected ',' or ']'");
    }
  }

  private object(depth: number): JsonObject {
    if (depth > this.maxDepth) this.fail('nesting too deep');
    this.pos++; // {
    const out = Object.create(null) as JsonObject;
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') this.fail('expected an object key');
      const key = this.string();
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      this.skipWhitespace();
      out[key] = this.value(depth); // last duplicate wins, as in Go
      this.skipWhitespace();
      const c = this.text[this.pos];
      this.pos++;
      if (c === '}') return out;
      if (c !== ',') this.fail("expected ',' or '}'");
    }
  }

  private string(): string {
    const t = this.text;
    this.pos++; // opening quote
    let out = '';
    let start = this.pos;
    for (;;) {
      if (this.pos >= t.length) this.fail('unterminated string');
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) {
        out += t.slice(start, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail('control character in string');
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += t.slice(start, this.pos);
      out += this.escape();
      start = this.pos;
    }
  }

  /** Decodes one escape starting at a backslash; leaves pos after it. */
  private escape(): string {
    const t = this.text;
    const e = t[this.pos + 1];
    this.pos += 2;
    switch (e) {
      case '"':
        return '"';
      case '\\':
        return '\\';
      case '/':
        return '/';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case 'u': {
        const unit = this.hex4(this.pos);
        if (unit < 0) this.fail('bad \\u escape');
        this.pos += 4;
        if (unit < 0xd800 || unit > 0xdfff) return String.fromCharCode(unit);
        // Go unquoteBytes: a surrogate must be followed by a \u escape forming a valid pair;
        // otherwise it becomes U+FFFD and the next escape is decoded on its own.
        if (unit <= 0xdbff && t[this.pos] === '\\' && t[this.pos + 1] === 'u') {
          const low = this.hex4(this.pos + 2);
          if (low >= 0xdc00 && low <= 0xdfff) {
            this.pos += 6;
            return String.fromCharCode(unit, low);
          }
        }
        return '\ufffd';
      }
      default:
        this.pos -= 1;
        return this.fail('bad escape');
    }
  }

  private hex4(at: number): number {
    const s = this.text.slice(at, at + 4);
    return /^[0-9a-fA-F]{4}$/.test(s) ? parseInt(s, 16) : -1;
  }
}

/**
 * Counts the descriptors of an image index's top-level `manifests` array while its bytes stream
 * in, so that an index with too many entries is refused before the rest of it is read (and
 * before JSON.parse sees any of it). It is a scanner of JSON structure, not a validator: strings
 * and escapes are skipped, containers are tracked on a stack, and every object that opens
 * directly inside the array under the top-level key "manifests" counts. Structural characters
 * are ASCII and UTF-8 continuation bytes never are, so scanning bytes is exact across chunk
 * boundaries. A duplicated "manifests" key counts both arrays: the count is never low.
 */
export class IndexEntryCounter {
  /** Descriptors seen so far. */
  count = 0;
  readonly #stack: Array<'object' | 'array' | 'manifests'> = [];
  #inString = false;
  #escaped = false;
  /** Raw bytes of the string being read at depth 1 (a key candidate), up to KEY_CAPTURE_MAX. */
  #capture: number[] | undefined;
  #lastDepth1String: string | undefined;
  #pendingKey: string | undefined;

  /** Feeds the next chunk; returns the count so far. */
  feed(chunk: Uint8Array): number {
    for (const byte of chunk) {
      if (this.#inString) {
        this.#stringByte(byte);
        continue;
      }
      switch (byte) {
        case QUOTE:
          this.#inString = true;
          this.#capture = undefined;
          if (this.#atTopObject()) {
            this.#capture = [];
            this.#lastDepth1String = undefined;
          }
          break;
        case COLON:
          if (this.#atTopObject()) this.#pendingKey = this.#lastDepth1String;
          break;
        case COMMA:
          if (this.#atTopObject()) this.#pendingKey = undefined;
          break;
        case OPEN_BRACKET:
          this.#stack.push(this.#atTopObject() && this.#pendingKey === 'manifests' ? 'manifests' : 'array');
          this.#pendingKey = undefined;
          break;
        case OPEN_BRACE:
          if (this.#stack.at(-1) === 'manifests') this.count++;
          this.#stack.push('object');
          this.#pendingKey = undefined;
          break;
        case CLOSE_BRACKET:
        case CLOSE_BRACE:
          this.#stack.pop();
          break;
        default:
          break;
      }
    }
    return this.count;
  }

  #atTopObject(): boolean {
    return this.#stack.length === 1 && this.#stack[0] === 'object';
  }

  #stringByte(byte: number): void {
    if (this.#escaped) {
      this.#escaped = false;
    } else if (byte === BACKSLASH) {
      this.#escaped = true;
    } else if (byte === QUOTE) {
      this.#inString = false;
      if (this.#capture) this.#lastDepth1String = decodeKey(this.#capture);
      this.#capture = undefined;
      return;
    }
    if (this.#capture) {
      if (this.#capture.length < KEY_CAPTURE_MAX) this.#capture.push(byte);
      else this.#capture = undefined;
    }
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
/** "manifests" spelled entirely in \uXXXX escapes is 54 bytes; longer keys cannot be it. */
const KEY_CAPTURE_MAX = 64;

/** A key's raw bytes decoded as JSON would decode them (escapes included); undefined if invalid. */
function decodeKey(raw: number[]): string | undefined {
  try {
    const decoded: unknown = JSON.parse(`"${Buffer.from(raw).toString('utf8')}"`);
    return typeof decoded === 'string' ? decoded : undefined;
  } catch {
    return undefined;
  }
}

/**
 * PEM decoding as Go's encoding/pem Decode does it, which is how Notary, cosign and Notation
 * (all Go programs) read certificates and keys. @peculiar/x509's PemConverter reads well-formed
 * PEM but not Go's edge cases, on which the trust decisions must agree:
 * - text before the first "-----BEGIN" and after the last END line is ignored;
 * - optional "Key: value" headers before a blank line are read (only when the first line has ':');
 * - whitespace inside the base64 body is ignored;
 * - a malformed block is skipped and scanning resumes after its BEGIN line.
 */

export interface PemBlock {
  readonly type: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly bytes: Buffer;
}

const BEGIN = /(?:^|\n)-----BEGIN ([^\r\n]*)-----[ \t\r]*\n/;
const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes the PEM blocks of `input`, in order, up to `maxBlocks`; one more decodable block
 * stops the scan with `truncated: true` (callers treat it as too large).
 */
export function decodePemBlocks(input: Uint8Array | string, maxBlocks: number): { blocks: PemBlock[]; truncated: boolean } {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
  const blocks: PemBlock[] = [];
  const begin = new RegExp(BEGIN.source, 'g'); // per call: lastIndex is per-scan state
  for (let m = begin.exec(text); m !== null; m = begin.exec(text)) {
    const type = m[1] ?? '';
    const bodyStart = begin.lastIndex;
    const endMarker = `-----END ${type}-----`;
    const endAt = text.indexOf(endMarker, bodyStart);
    if (endAt < 0 || (endAt > bodyStart && text[endAt - 1] !== '\n')) continue;
    const block = parseBody(type, text.slice(bodyStart, endAt));
    if (block === null) continue; // Go: skip the bad block, rescan after its BEGIN line
    if (blocks.length >= maxBlocks) return { blocks, truncated: true };
    blocks.push(block);
    begin.lastIndex = endAt + endMarker.length;
  }
  return { blocks, truncated: false };
}

/** Go's pem.Decode(data) block: the first decodable block whatever its type, or null. */
export function decodeFirstPemBlock(input: Uint8Array | string): PemBlock | null {
  return decodePemBlocks(input, 1).blocks[0] ?? null;
}

function parseBody(type: string, body: string): PemBlock | null {
  const headers = new Map<string, string>();
  let rest = body;
  const firstLineEnd = rest.indexOf('\n');
  const firstLine = firstLineEnd < 0 ? rest : rest.slice(0, firstLineEnd);
  if (firstLine.includes(':')) {
    for (;;) {
      const nl = rest.indexOf('\n');
      if (nl < 0) return null;
      const line = rest.slice(0, nl).replace(/\r$/, '');
      rest = rest.slice(nl + 1);
      if (line.trim() === '') break;
      const colon = line.indexOf(':');
      if (colon < 0) return null;
      headers.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
  }
  const b64 = rest.replace(/[ \t\r\n]/g, '');
  if (b64.length % 4 !== 0 || !BASE64_BODY.test(b64)) return null;
  return { type, headers, bytes: Buffer.from(b64, 'base64') };
}

/** Go's pem.EncodeToMemory for a headerless block: 64-character lines, trailing newline. */
export function encodePem(type: string, bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${type}-----\n${lines.join('\n')}${lines.length > 0 ? '\n' : ''}-----END ${type}-----\n`;
}

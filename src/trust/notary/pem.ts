/**
 * PEM decoding close to Go's encoding/pem Decode, which Notary uses for x509 keys
 * (Notary: tuf/signed/verifiers.go takes the *first* block of any type; tuf/utils/x509.go
 * LoadCertBundleFromPEM takes every block and refuses non-CERTIFICATE ones).
 *
 * Like Go: text before the first "-----BEGIN" and after the last END line is ignored; optional
 * "Key: value" headers before a blank line are read; whitespace inside the base64 body is
 * ignored; a malformed block is skipped and scanning resumes after its BEGIN line.
 */
import { NOTARY_LIMITS } from './limits.js';

export interface PemBlock {
  readonly type: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly bytes: Buffer;
}

const BEGIN = /(?:^|\n)-----BEGIN ([^\r\n]*)-----[ \t\r]*\n/;
const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes all PEM blocks, in order, up to `maxBlocks` (NOTARY_LIMITS.maxCertificatesPerBundle
 * by default; more blocks are an error the caller sees as `truncated: true`).
 */
export function decodePemBlocks(
  input: Uint8Array | string,
  maxBlocks: number = NOTARY_LIMITS.maxCertificatesPerBundle,
): { blocks: PemBlock[]; truncated: boolean } {
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
  // Headers: "Key: value" lines up to a blank line (Go reads them only if the first line has ':').
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

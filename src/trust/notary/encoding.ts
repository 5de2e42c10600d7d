/**
 * Byte-string encodings used inside Notary metadata.
 *
 * Go marshals []byte as standard base64 with padding and decodes it with
 * base64.StdEncoding.Decode (docker/go canonical/json decode.go literalStore), which:
 * ignores '\r' and '\n' anywhere, requires correct '=' padding, refuses any other character,
 * and accepts non-zero trailing bits. Node's Buffer.from(s, 'base64') is far more lenient
 * (skips junk, padding optional, accepts URL-safe letters), so the check is done here first.
 * A JSON null for a []byte field decodes to an empty slice in Go.
 */
import { z } from 'zod';

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes Go-style standard base64; returns null when Go's decoder would fail. */
export function decodeGoBase64(text: string): Buffer | null {
  const compact = text.replace(/[\r\n]/g, '');
  if (!STD_BASE64.test(compact)) return null;
  return Buffer.from(compact, 'base64');
}

/** zod schema for a Go []byte field: base64 string or null (empty), decoded to a Buffer. */
export const goBytesSchema = z.union([z.string(), z.null()]).transform((value, ctx): Buffer => {
  if (value === null) return Buffer.alloc(0);
  const bytes = decodeGoBase64(value);
  if (bytes === null) {
    ctx.addIssue({ code: 'custom', message: 'not standard padded base64' });
    return z.NEVER;
  }
  return bytes;
});

/** Standard padded base64, as Go's encoder writes it (used to rebuild key IDs). */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Reading the error body registries send (distribution-spec "Error Codes"). */

/** The first entry of an OCI error body (`{"errors":[{code,message}]}`), clipped and printable. */
export function firstOciError(text: string): { code: string; message: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const errors = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)['errors'] : undefined;
  const first: unknown = Array.isArray(errors) ? errors[0] : undefined;
  if (typeof first !== 'object' || first === null) return undefined;
  const code = (first as Record<string, unknown>)['code'];
  const message = (first as Record<string, unknown>)['message'];
  const clip = (s: string): string => s.replace(/[^\x20-\x7e]/g, '?').slice(0, 300);
  return { code: typeof code === 'string' ? clip(code) : 'UNKNOWN', message: typeof message === 'string' ? clip(message) : '' };
}

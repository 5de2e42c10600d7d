/**
 * Rollback floors (highest version seen per role) as a plain record, or undefined when `value`
 * is not an object whose values are all non-negative safe integers. Built with
 * Object.fromEntries, so a role named `__proto__` is an ordinary key.
 */
export function checkVersions(value: unknown): Record<string, number> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const entries = Object.entries(value);
  for (const [, v] of entries) if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return undefined;
  return Object.fromEntries(entries);
}

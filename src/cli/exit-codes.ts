/** Exit codes of `signet check`, for CI pipelines. */
export const EXIT = { allowed: 0, denied: 1, error: 2 } as const;

import { runOk, type RunResult } from './process.js';

/** skopeo, run with a throwaway registries config so nothing on the machine interferes. */

const HANG_GUARD_MS = 10 * 60_000;

/** `skopeo copy <src> <dest> ...extraArgs`; throws with skopeo's output on failure. */
export function skopeoCopy(src: string, dest: string, extraArgs: readonly string[] = []): Promise<RunResult> {
  return runOk('skopeo', ['--insecure-policy', 'copy', '--retry-times=0', ...extraArgs, src, dest], {
    timeoutMs: HANG_GUARD_MS,
  });
}

/** `skopeo inspect --raw <ref>`: the manifest bytes exactly as the registry served them. */
export async function skopeoInspectRaw(ref: string, extraArgs: readonly string[] = []): Promise<Buffer> {
  const result = await runOk('skopeo', ['inspect', '--raw', ...extraArgs, ref], { timeoutMs: HANG_GUARD_MS });
  return Buffer.from(result.stdout, 'utf8');
}

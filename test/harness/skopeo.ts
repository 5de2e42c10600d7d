import { readLayout } from './images.js';
import { runOk, type RunResult } from './process.js';
import { makeTempDir, removeDir } from './tmp.js';

/** skopeo, run with a throwaway registries config so nothing on the machine interferes. */

const HANG_GUARD_MS = 10 * 60_000;

/** `skopeo copy <src> <dest> ...extraArgs`; throws with skopeo's output on failure. */
export function skopeoCopy(src: string, dest: string, extraArgs: readonly string[] = []): Promise<RunResult> {
  return runOk('skopeo', ['--insecure-policy', 'copy', '--retry-times=0', ...extraArgs, src, dest], {
    timeoutMs: HANG_GUARD_MS,
  });
}

/**
 * Pulls `ref` (`docker://host/repo:tag`, plain HTTP) into a throwaway OCI layout and returns
 * what arrived: the top descriptor and the digests of every blob. Throws when the pull fails.
 */
export async function skopeoPull(ref: string, extraArgs: readonly string[] = []): Promise<Awaited<ReturnType<typeof readLayout>>> {
  const dir = await makeTempDir('pulled');
  try {
    await skopeoCopy(ref, `oci:${dir}:pulled`, ['--src-tls-verify=false', ...extraArgs]);
    return await readLayout(dir);
  } finally {
    await removeDir(dir);
  }
}

/** `skopeo inspect --raw <ref>`: the manifest bytes exactly as the registry served them. */
export async function skopeoInspectRaw(ref: string, extraArgs: readonly string[] = []): Promise<Buffer> {
  const result = await runOk('skopeo', ['inspect', '--raw', ...extraArgs, ref], { timeoutMs: HANG_GUARD_MS });
  return Buffer.from(result.stdout, 'utf8');
}

import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Lazily unmounts everything mounted at or below `dir` (deepest first). dockerd bind-mounts its
 * data-root onto itself and only undoes that on a clean shutdown; after a SIGKILL the mount
 * would stay and `rm -rf` of the temp dir would fail or reach into it.
 */
export async function unmountUnder(dir: string): Promise<void> {
  for (const target of mountsUnder(dir)) {
    await new Promise<void>((resolve) => execFile('umount', ['-l', target], () => resolve()));
  }
}

/** unmountUnder for exit hooks, where nothing asynchronous runs any more. */
export function unmountUnderSync(dir: string): void {
  for (const target of mountsUnder(dir)) spawnSync('umount', ['-l', target]);
}

function mountsUnder(dir: string): string[] {
  let mounts: string;
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return [];
  }
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return (
    mounts
      .split('\n')
      .map((line) => line.split(' ')[1])
      .filter((target): target is string => target !== undefined)
      // /proc/mounts escapes spaces etc. as octal
      .map((target) => target.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8))))
      .filter((target) => target === dir || target.startsWith(prefix))
      .sort((a, b) => b.length - a.length)
  );
}

import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SignetError } from '../../errors.js';
import { isValidRepositoryName, printable } from '../../registry/names.js';

/** The one error that means "absent"; every other read error is a failure to read. */
export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/**
 * One path component built from a name. The names reaching the stores were validated by
 * their owners (router, trust source); this is the last line against a component that would
 * leave the store's root (`..`) or name a different directory level (`/`).
 */
export function safeSegment(component: string, what: string): string {
  if (component === '' || component === '.' || component === '..' || /[/\\\0]/.test(component)) {
    throw new SignetError('INTERNAL', `refusing to build a storage path from ${what} "${printable(component)}"`);
  }
  return component;
}

/**
 * `<root>/<upstream, URI-encoded>/<repository components>`: the directory of one repository's
 * state (tags, provenance). Repository names matched the OCI name grammar before reaching
 * here, so their components are safe as they are; the layout is the one Signet always used.
 */
export function repositoryDir(root: string, upstream: string, repository: string): string {
  if (!isValidRepositoryName(repository)) {
    throw new SignetError('INTERNAL', `refusing to build a storage path from repository name "${printable(repository)}"`);
  }
  return join(root, safeSegment(encodeURIComponent(upstream), 'upstream name'), ...repository.split('/'));
}

/**
 * Replaces `path` with `bytes` atomically: a reader sees the old file or the new one, never a
 * part. The temporary name starts with a dot, which no tag, role or digest file name does, so a
 * leftover of a crash can never be read as a record. `durable` flushes the bytes to the device
 * before the rename (security state: a rollback floor must survive a power loss intact).
 */
export async function writeFileAtomic(path: string, bytes: Buffer | string, durable = false): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = join(dirname(path), `.${basename(path)}.${randomUUID()}.tmp`);
  const handle = await open(temp, 'wx');
  try {
    try {
      await handle.writeFile(bytes);
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

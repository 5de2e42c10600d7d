import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Which digests a repository's served manifests authorise: the children of an index and the
 * config and layers of an image manifest. Appended to one file per repository, loaded lazily,
 * so a digest pull after a restart is judged by what was verified before it.
 */
export class LineageStore {
  readonly #root: string;
  readonly #loaded = new Map<string, Promise<Set<string>>>();

  constructor(root: string) {
    this.#root = root;
  }

  #file(upstream: string, repository: string): string {
    return join(this.#root, encodeURIComponent(upstream), ...repository.split('/'), '_lineage');
  }

  #set(upstream: string, repository: string): Promise<Set<string>> {
    const key = `${upstream}/${repository}`;
    let set = this.#loaded.get(key);
    if (!set) {
      set = readFile(this.#file(upstream, repository), 'utf8').then(
        (text) => new Set(text.split('\n').filter((l) => l.length > 0)),
        () => new Set<string>(),
      );
      this.#loaded.set(key, set);
    }
    return set;
  }

  async has(upstream: string, repository: string, digest: string): Promise<boolean> {
    return (await this.#set(upstream, repository)).has(digest);
  }

  /** Records `digests` as authorised in the repository; only new ones touch the disk. */
  async record(upstream: string, repository: string, digests: readonly string[]): Promise<void> {
    const set = await this.#set(upstream, repository);
    const fresh = digests.filter((d) => !set.has(d));
    if (fresh.length === 0) return;
    for (const d of fresh) set.add(d);
    const file = this.#file(upstream, repository);
    await mkdir(dirname(file), { recursive: true });
    await appendFile(file, fresh.map((d) => `${d}\n`).join(''));
  }
}

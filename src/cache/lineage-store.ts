import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * How a digest came to be authorised for a repository: `verified` when it descends from a
 * manifest whose digest a trust source vouched for, `unverified` when it was served under a
 * policy that did not check (mode off, or audit letting an unsigned tag through).
 */
export type Lineage = 'verified' | 'unverified';

/**
 * Which digests a repository's served manifests authorise: the children of an index and the
 * config and layers of an image manifest. Appended to one file per repository (`v <digest>` or
 * `u <digest>` lines), loaded lazily, so a digest pull after a restart is judged by what was
 * verified before it.
 */
export class LineageStore {
  readonly #root: string;
  readonly #loaded = new Map<string, Promise<Map<string, Lineage>>>();

  constructor(root: string) {
    this.#root = root;
  }

  #file(upstream: string, repository: string): string {
    return join(this.#root, encodeURIComponent(upstream), ...repository.split('/'), '_lineage');
  }

  #entries(upstream: string, repository: string): Promise<Map<string, Lineage>> {
    const key = `${upstream}/${repository}`;
    let entries = this.#loaded.get(key);
    if (!entries) {
      entries = readFile(this.#file(upstream, repository), 'utf8').then(
        (text) => {
          const map = new Map<string, Lineage>();
          for (const line of text.split('\n')) {
            const [flag, digest] = line.split(' ');
            if (!digest) continue;
            // Verified wins: once vouched for, a digest stays vouched for.
            if (flag === 'v') map.set(digest, 'verified');
            else if (!map.has(digest)) map.set(digest, 'unverified');
          }
          return map;
        },
        () => new Map<string, Lineage>(),
      );
      this.#loaded.set(key, entries);
    }
    return entries;
  }

  async get(upstream: string, repository: string, digest: string): Promise<Lineage | undefined> {
    return (await this.#entries(upstream, repository)).get(digest);
  }

  /** Records `digests`; only new ones (or ones now verified) touch the disk. */
  async record(upstream: string, repository: string, digests: readonly string[], lineage: Lineage): Promise<void> {
    const entries = await this.#entries(upstream, repository);
    const fresh = digests.filter((d) => {
      const had = entries.get(d);
      return had === undefined || (had === 'unverified' && lineage === 'verified');
    });
    if (fresh.length === 0) return;
    for (const d of fresh) entries.set(d, lineage);
    const file = this.#file(upstream, repository);
    await mkdir(dirname(file), { recursive: true });
    const flag = lineage === 'verified' ? 'v' : 'u';
    await appendFile(file, fresh.map((d) => `${flag} ${d}\n`).join(''));
  }
}

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';

export interface TagRecord {
  digest: string;
  mediaType: string;
  size: number;
  /** Epoch ms of the last time the upstream confirmed this digest for the tag. */
  checkedAt: number;
}

/**
 * The last digest seen for each upstream/repository:tag, persisted so a warm cache can answer a
 * tag while the upstream is unreachable. Names were validated by the router, so they are safe
 * path components (no "..", no absolute paths).
 */
export class TagStore {
  readonly #root: string;
  readonly #memory = new Map<string, TagRecord>();

  constructor(root: string) {
    this.#root = root;
  }

  #path(upstream: string, repository: string, tag: string): string {
    return join(this.#root, encodeURIComponent(upstream), ...repository.split('/'), '_tags', tag);
  }

  async get(upstream: string, repository: string, tag: string): Promise<TagRecord | undefined> {
    const key = `${upstream}/${repository}:${tag}`;
    const hit = this.#memory.get(key);
    if (hit) return hit;
    try {
      const parsed: unknown = JSON.parse(await readFile(this.#path(upstream, repository, tag), 'utf8'));
      if (!isTagRecord(parsed)) return undefined;
      this.#memory.set(key, parsed);
      return parsed;
    } catch {
      return undefined;
    }
  }

  async set(upstream: string, repository: string, tag: string, record: TagRecord): Promise<void> {
    this.#memory.set(`${upstream}/${repository}:${tag}`, record);
    const path = this.#path(upstream, repository, tag);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${randomUUID()}.tmp`;
    await writeFile(temp, JSON.stringify(record));
    await rename(temp, path);
  }
}

function isTagRecord(v: unknown): v is TagRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r['digest'] === 'string' && typeof r['mediaType'] === 'string' && typeof r['size'] === 'number' && typeof r['checkedAt'] === 'number';
}

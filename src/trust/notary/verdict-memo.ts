import { LRUCache } from 'lru-cache';
import type { Denial, PinnedTag } from '../source.js';
import type { VerifiedNotaryRepo } from './verified-repo.js';

interface Memo {
  repo: VerifiedNotaryRepo;
  verdict: PinnedTag | Denial;
}

/**
 * Tag verdicts of verified repository states, one bound across all of them: tag names come
 * from clients, so a memo per state (up to trustStateMemoryEntries of them) would let requests
 * for arbitrary tags of many repositories hold millions of verdicts. A state object is
 * immutable, so a verdict holds exactly as long as the source hands out the same state: an
 * entry counts only for the state object it was judged against, and a newer state judges anew.
 */
export class TagVerdictMemo {
  readonly #entries: LRUCache<string, Memo>;

  constructor(max: number) {
    this.#entries = new LRUCache({ max: Math.max(1, max) });
  }

  get(repo: VerifiedNotaryRepo, key: string): PinnedTag | Denial | undefined {
    const hit = this.#entries.get(`${repo.name} ${key}`);
    return hit?.repo === repo ? hit.verdict : undefined;
  }

  set(repo: VerifiedNotaryRepo, key: string, verdict: PinnedTag | Denial): void {
    this.#entries.set(`${repo.name} ${key}`, { repo, verdict });
  }

  get size(): number {
    return this.#entries.size;
  }
}

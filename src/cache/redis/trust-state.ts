import { SignetError } from '../../errors.js';
import type { TrustStateStore } from '../ports.js';
import { checkVersions } from '../trust-versions.js';
import { keyPart, storageError, type RedisScript, type RedisState } from './client.js';

/**
 * Raises each role's floor to the version given unless the stored one is higher; never lowers
 * one, never removes one. ARGV: role, version pairs (non-negative safe integers, checked before:
 * a Lua number holds them exactly). A stored floor that is not a number stops the script with
 * an error rather than being overwritten (fail closed).
 */
const RAISE_FLOORS = `
for i = 1, #ARGV, 2 do
  local stored = redis.call('HGET', KEYS[1], ARGV[i])
  local wanted = tonumber(ARGV[i + 1])
  if stored then
    local current = tonumber(stored)
    if current == nil then return redis.error_reply('damaged rollback floor for role ' .. ARGV[i]) end
    if current < wanted then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 1
`;

const FLOOR = /^(?:0|[1-9]\d{0,15})$/;

/**
 * Trust state shared by every replica: each metadata file as a string
 * (`<prefix>trust:file:<scope>:<name>:<file>`) and the rollback floors of a name as a hash
 * (`<prefix>trust:floors:<scope>:<name>`, role → highest version seen).
 *
 * Floors only rise. Two replicas may update one name at once, each from the floors it read;
 * `saveVersions` is an atomic per-role maximum (one Lua script), so the slower writer cannot
 * lower a floor the faster one raised, nor drop a role the other added. (The disk and memory
 * stores replace the record: one process, one writer per name. The Notary updater always saves
 * the floors it read, raised, so both behave the same for it.)
 *
 * Fail closed: only a missing key means absent. A Redis that cannot be asked, or floors that are
 * not non-negative integers, are a STORAGE_ERROR: treating them as absent would re-trust a root
 * on first use or lower a rollback floor. Floors survive a Redis restart only with append-only
 * persistence (`RedisState.requireAppendOnly`).
 */
export class RedisTrustStateStore implements TrustStateStore {
  readonly #state: RedisState;
  readonly #raiseFloors: RedisScript;

  constructor(options: { state: RedisState }) {
    this.#state = options.state;
    this.#raiseFloors = options.state.script(RAISE_FLOORS);
  }

  #fileKey(scope: string, name: string, file: string): string {
    return this.#state.key('trust', 'file', keyPart(scope), keyPart(name), keyPart(file));
  }

  #floorsKey(scope: string, name: string): string {
    return this.#state.key('trust', 'floors', keyPart(scope), keyPart(name));
  }

  async read(scope: string, name: string, file: string): Promise<Buffer | undefined> {
    const key = this.#fileKey(scope, name, file);
    let bytes: Buffer | null;
    try {
      bytes = await this.#state.binary.get(key);
    } catch (err) {
      throw unreadable(key, name, err);
    }
    // A fresh Buffer per reply: callers may change it.
    return bytes ?? undefined;
  }

  async write(scope: string, name: string, file: string, bytes: Buffer): Promise<void> {
    const key = this.#fileKey(scope, name, file);
    try {
      await this.#state.client.set(key, Buffer.from(bytes));
    } catch (err) {
      throw storageError(`cannot save trust state ${key}`, err);
    }
  }

  async remove(scope: string, name: string, file: string): Promise<void> {
    const key = this.#fileKey(scope, name, file);
    try {
      await this.#state.client.del(key);
    } catch (err) {
      throw storageError(`cannot remove trust state ${key}`, err);
    }
  }

  async versions(scope: string, name: string): Promise<Record<string, number>> {
    const key = this.#floorsKey(scope, name);
    let stored: Map<string, string>;
    try {
      stored = await this.#state.maps.hGetAll(key);
    } catch (err) {
      throw unreadable(key, name, err);
    }
    const entries: Array<[string, number]> = [];
    for (const [role, text] of stored) {
      if (typeof text !== 'string' || !FLOOR.test(text) || !Number.isSafeInteger(Number(text))) {
        throw unreadable(key, name, new Error(`the floor of role ${JSON.stringify(role)} is not a non-negative integer`));
      }
      entries.push([role, Number(text)]);
    }
    return Object.fromEntries(entries);
  }

  async saveVersions(scope: string, name: string, versions: Record<string, number>): Promise<void> {
    const checked = checkVersions(versions);
    if (!checked) throw new SignetError('INTERNAL', `refusing to save rollback floors of ${name} that are not non-negative integers`);
    const args = Object.entries(checked).flatMap(([role, version]) => [role, String(version)]);
    if (args.length === 0) return;
    const key = this.#floorsKey(scope, name);
    try {
      await this.#raiseFloors.run([key], args);
    } catch (err) {
      throw storageError(`cannot save the rollback floors of ${name} (${key})`, err);
    }
  }
  async names(limit: number): Promise<Array<{ scope: string; name: string }>> {
    const prefix = this.#state.key('trust', 'floors', '');
    const found: Array<{ scope: string; name: string }> = [];
    try {
      // SCAN, not KEYS: it never blocks Redis for the other replicas, however many names there are.
      for await (const keys of this.#state.client.scanIterator({ MATCH: `${prefix}*`, COUNT: 200 })) {
        for (const key of keys) {
          // Both parts are URI-encoded (keyPart), so the one ':' between them is the separator.
          const [scope, name, extra] = key.slice(prefix.length).split(':').map(decodePart);
          if (scope === undefined || name === undefined || extra !== undefined) continue;
          found.push({ scope, name });
          if (found.length >= limit) return found;
        }
      }
    } catch (err) {
      throw storageError('list the trust state names', err);
    }
    return found;
  }
}

function unreadable(key: string, name: string, cause: unknown): SignetError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new SignetError(
    'STORAGE_ERROR',
    `cannot read trust state ${key} from Redis (${message}): ${name} is denied until it is readable. Bring Redis back (with its append-only file), or delete the keys of ${name} on purpose to trust it again from scratch (its pinned root and rollback floors are then forgotten)`,
    { cause },
  );
}

/** A key part back to text; undefined for one this store did not write (not URI-encoded). */
function decodePart(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

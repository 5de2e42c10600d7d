import { readFile, writeFile } from 'node:fs/promises';
import tar from 'tar-stream';

/**
 * Bundle files taken apart and put back together, to make the altered copies an importer must
 * refuse: entries read whole (for the small bundles of tests; plain tar only, not zstd), changed,
 * dropped or added, and written as a new tar. Nothing here checks anything: a test decides what
 * a valid or invalid bundle is.
 */

export interface BundleEntry {
  name: string;
  data: Buffer;
}

/** The regular files of a plain bundle tar, in tar order, with their bytes. */
export async function readBundleEntries(path: string): Promise<BundleEntry[]> {
  const extract = tar.extract();
  extract.end(await readFile(path));
  const entries: BundleEntry[] = [];
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    if (entry.header.type === 'file') entries.push({ name: entry.header.name, data: Buffer.concat(chunks) });
  }
  return entries;
}

/** Writes `entries` as a plain tar at `path` (regular files, mode 0644, a fixed mtime). */
export async function writeBundleEntries(path: string, entries: readonly BundleEntry[]): Promise<void> {
  const pack = tar.pack();
  // The archive is drained while entries go in, so a large one does not wait on backpressure.
  const collected = (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of pack) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  })();
  for (const entry of entries) {
    await new Promise<void>((resolve, reject) => {
      pack.entry({ name: entry.name, size: entry.data.length, mode: 0o644, mtime: new Date(946_684_800_000), type: 'file' }, entry.data, (err) =>
        err ? reject(err) : resolve(),
      );
    });
  }
  pack.finalize();
  await writeFile(path, await collected);
}

/** Reads the bundle at `from`, lets `change` alter its entries, and writes the result to `to`. */
export async function rewriteBundle(from: string, to: string, change: (entries: BundleEntry[]) => BundleEntry[] | Promise<BundleEntry[]>): Promise<void> {
  await writeBundleEntries(to, await change(await readBundleEntries(from)));
}

/** The tar path of a blob: `blobs/sha256/<hex>`. */
export function blobEntryName(digest: string): string {
  return `blobs/sha256/${digest.slice('sha256:'.length)}`;
}

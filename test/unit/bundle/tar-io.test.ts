import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import tar from 'tar-stream';
import { BundleError } from '../../../src/bundle/bundle-manifest.js';
import { BundleTarWriter, bundleFileSize, readBundleTar } from '../../../src/bundle/tar-io.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

const MiB = 1024 * 1024;

let dir: string;
let n = 0;
const file = (): string => join(dir, `bundle-${++n}.tar`);

before(async () => {
  dir = await makeTempDir('tario');
});
after(async () => {
  await removeDir(dir);
});

/** A Readable of `size` bytes in fresh `chunk`-byte buffers (never one big buffer); byte i is i % 251. */
function generated(size: number, chunk = 64 * 1024, onChunk?: (sent: number) => void): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= size) {
        this.push(null);
        return;
      }
      const len = Math.min(chunk, size - sent);
      const buf = Buffer.allocUnsafe(len);
      for (let i = 0; i < len; i++) buf[i] = (sent + i) % 251;
      sent += len;
      onChunk?.(sent);
      this.push(buf);
    },
  });
}

async function readAll(path: string): Promise<Array<{ name: string; size: number; bytes: Buffer }>> {
  const out: Array<{ name: string; size: number; bytes: Buffer }> = [];
  for await (const entry of readBundleTar(path)) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry.stream) chunks.push(chunk as Buffer);
    out.push({ name: entry.name, size: entry.size, bytes: Buffer.concat(chunks) });
  }
  return out;
}

async function write(path: string, zstd: boolean, entries: Array<[string, Buffer]>): Promise<BundleTarWriter> {
  const w = await BundleTarWriter.open(path, { zstd });
  for (const [name, bytes] of entries) await w.addBuffer(name, bytes);
  await w.finish();
  return w;
}

/** A tar written by tar-stream directly, for archives Signet would never write. */
async function rawTar(
  path: string,
  entries: Array<{ header: tar.Header | (Partial<tar.Header> & { name: string }); data?: Buffer }>,
  end = true,
): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack as unknown as Readable, createWriteStream(path));
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => pack.entry(e.header, e.data ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  await done;
  if (!end) {
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 1024));
  }
}

async function refused(path: string, pattern: RegExp): Promise<void> {
  await assert.rejects(readAll(path), (err: unknown) => {
    assert.ok(err instanceof BundleError, String(err));
    assert.match(err.message, pattern);
    return true;
  });
}

const ENTRIES: Array<[string, Buffer]> = [
  ['signet-bundle.json', Buffer.from('{"schemaVersion":1}\n')],
  ['signet-bundle.sig', Buffer.from('{"algorithm":"ed25519"}\n')],
  ['oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
  ['index.json', Buffer.alloc(0)],
  [`blobs/sha256/${'a'.repeat(64)}`, Buffer.alloc(70_000, 7)],
];

describe('bundle tar', () => {
  for (const zstd of [false, true]) {
    it(`round-trips entries in order (${zstd ? 'zstd' : 'plain'})`, async () => {
      const path = file();
      const w = await BundleTarWriter.open(path, { zstd });
      for (const [name, bytes] of ENTRIES.slice(0, 4)) await w.addBuffer(name, bytes);
      const [blobName, blob] = ENTRIES[4] ?? assert.fail();
      await w.addStream(blobName, blob.length, Readable.from([blob.subarray(0, 1000), blob.subarray(1000)]));
      await w.finish();
      assert.deepEqual(
        (await readdir(dir)).filter((f) => f.startsWith(path.split('/').pop() ?? '')),
        [path.split('/').pop()],
        'only the finished file, no .partial',
      );
      const head = (await readFile(path)).subarray(0, 4);
      assert.equal(head.equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), zstd);
      const entries = await readAll(path);
      assert.deepEqual(
        entries.map((e) => [e.name, e.bytes]),
        ENTRIES,
      );
      assert.deepEqual(
        entries.map((e) => e.size),
        ENTRIES.map(([, b]) => b.length),
      );
      // bytesWritten counts the tar before compression: headers, data, padding, end blocks.
      const tarBytes = ENTRIES.reduce((sum, [, b]) => sum + 512 + Math.ceil(b.length / 512) * 512, 0) + 1024;
      assert.equal(w.bytesWritten, tarBytes);
      if (!zstd) assert.equal(await bundleFileSize(path), tarBytes);
      else assert.ok((await bundleFileSize(path)) < tarBytes);
    });

    it(`reports the file bytes read, up to bundleFileSize (${zstd ? 'zstd' : 'plain'})`, async () => {
      const path = file();
      await write(path, zstd, ENTRIES);
      let read = 0;
      for await (const entry of readBundleTar(path, { onBytes: (b) => (read += b) })) entry.stream.resume();
      assert.equal(read, await bundleFileSize(path));
    });
  }

  it('writes deterministic bytes: regular files, mode 0644, uid/gid 0, a fixed mtime', async () => {
    const a = file();
    const b = file();
    await write(a, false, ENTRIES);
    await write(b, false, ENTRIES);
    assert.ok((await readFile(a)).equals(await readFile(b)));
    const extract = tar.extract();
    const headers: tar.Header[] = [];
    extract.on('entry', (header, stream, next) => {
      headers.push(header);
      stream.on('end', () => next());
      stream.resume();
    });
    await pipeline(Readable.from([await readFile(a)]), extract as unknown as NodeJS.WritableStream);
    for (const h of headers) {
      assert.equal(h.type, 'file');
      assert.equal(h.mode, 0o644);
      assert.equal(h.uid, 0);
      assert.equal(h.gid, 0);
      assert.equal(h.mtime.toISOString(), '2000-01-01T00:00:00.000Z');
    }
  });

  it('lets a consumer skip entries with resume(), or not read them at all', async () => {
    const path = file();
    await write(path, false, ENTRIES);
    const names: string[] = [];
    for await (const entry of readBundleTar(path)) {
      names.push(entry.name);
      // Unread: drained when the next entry is asked for.
    }
    assert.deepEqual(
      names,
      ENTRIES.map(([name]) => name),
    );
  });

  it('closes the file when the consumer stops early', async () => {
    const path = file();
    await write(path, true, ENTRIES);
    for await (const entry of readBundleTar(path)) {
      assert.equal(entry.name, 'signet-bundle.json');
      break;
    }
    // The same file reads again completely (nothing left locked or half-consumed).
    assert.equal((await readAll(path)).length, ENTRIES.length);
  });

  it('stops when the signal is aborted', async () => {
    const path = file();
    await write(path, false, ENTRIES);
    const controller = new AbortController();
    await assert.rejects(
      (async () => {
        for await (const entry of readBundleTar(path, { signal: controller.signal })) {
          controller.abort();
          entry.stream.resume();
        }
      })(),
      { name: 'AbortError' },
    );
    await assert.rejects(readBundleTar(path, { signal: AbortSignal.abort() }).next(), { name: 'AbortError' });
  });

  describe('refuses', () => {
    it('a truncated archive, wherever it is cut', async () => {
      const path = file();
      await write(path, false, ENTRIES);
      const full = await readFile(path);
      // Mid-header, mid-data, exactly after an entry's data, inside the end-of-archive blocks, empty.
      const blobEnd = full.length - 1024;
      for (const cut of [100, 512 + 10, 1024, blobEnd - 70_000, blobEnd, blobEnd + 512, full.length - 1, 0]) {
        const cutPath = file();
        await writeFile(cutPath, full.subarray(0, cut));
        await refused(cutPath, /^the bundle is truncated: copy it again$/);
      }
    });

    it('a truncated zstd bundle', async () => {
      const path = file();
      await write(path, true, [['big', generatedBytes(300_000)]]);
      const full = await readFile(path);
      for (const cut of [10, Math.floor(full.length / 2), full.length - 20]) {
        const cutPath = file();
        await writeFile(cutPath, full.subarray(0, cut));
        await refused(cutPath, /^the bundle is truncated: copy it again$/);
      }
    });

    it("a damaged zstd bundle, with the decompressor's reason", async () => {
      const path = file();
      await write(path, true, [
        ['a', generatedBytes(300_000)],
        ['b', generatedBytes(300_000)],
      ]);
      const damaged = await readFile(path);
      const at = Math.floor(damaged.length / 3);
      damaged[at] = (damaged[at] ?? 0) ^ 0xff;
      const damagedPath = file();
      await writeFile(damagedPath, damaged);
      await refused(damagedPath, /zstd compression is damaged \(.*ZSTD_error/);
    });

    it('a file that is not a tar', async () => {
      const path = file();
      await writeFile(path, Buffer.alloc(2048, 0x41));
      await refused(path, /not a valid tar archive/);
    });

    it('unsafe entry names', async () => {
      for (const name of ['../x', 'blobs/../../x', '/etc/passwd', 'blobs\\sha256\\x', 'a..b']) {
        const path = file();
        await rawTar(path, [
          { header: { name: 'oci-layout', size: 1 }, data: Buffer.from('x') },
          { header: { name, size: 1 }, data: Buffer.from('y') },
        ]);
        await refused(path, /whose name (contains \.\.|is absolute|contains a backslash).*not written by signet/);
      }
      const path = file();
      await rawTar(path, [{ header: { name: 'x', size: 1, pax: { path: 'a\0b' } }, data: Buffer.from('y') }]);
      await refused(path, /contains a NUL byte/);
    });

    it('anything but regular files, skipping the blobs directories', async () => {
      const ok = file();
      await rawTar(ok, [
        { header: { name: 'blobs/', type: 'directory' } },
        { header: { name: 'blobs/sha256/', type: 'directory' } },
        { header: { name: 'oci-layout', size: 2 }, data: Buffer.from('{}') },
      ]);
      assert.deepEqual(
        (await readAll(ok)).map((e) => e.name),
        ['oci-layout'],
      );
      for (const header of [
        { name: 'other/', type: 'directory' as const },
        { name: 'link', type: 'symlink' as const, linkname: '/etc/passwd' },
        { name: 'hard', type: 'link' as const, linkname: 'oci-layout' },
        { name: 'fifo', type: 'fifo' as const },
      ]) {
        const path = file();
        await rawTar(path, [{ header }]);
        await refused(path, new RegExp(`"${header.name}", a ${header.type} entry where only regular files belong`));
      }
    });

    it('an archive without its end-of-archive blocks', async () => {
      const path = file();
      await rawTar(path, [{ header: { name: 'oci-layout', size: 2 }, data: Buffer.from('{}') }], false);
      await refused(path, /truncated/);
    });

    it('a missing file with a clear message', async () => {
      await refused(join(dir, 'nope.tar'), /cannot open the bundle .*nope\.tar: .*ENOENT/);
    });
  });
});

describe('bundle tar writer failures', () => {
  it('rejects a source that ends short, then refuses to go on; abort removes the partial file', async () => {
    const path = file();
    const w = await BundleTarWriter.open(path, { zstd: false });
    await w.addBuffer('oci-layout', Buffer.from('{}'));
    await assert.rejects(w.addStream('blobs/sha256/x', 100, Readable.from([Buffer.alloc(60)])), (err: unknown) => {
      assert.ok(err instanceof BundleError);
      assert.match(err.message, /blobs\/sha256\/x: the source ended after 60 of 100 bytes/);
      return true;
    });
    await assert.rejects(w.addBuffer('index.json', Buffer.from('{}')), /ended after 60 of 100 bytes/);
    await assert.rejects(w.finish(), /ended after 60 of 100 bytes/);
    await access(`${path}.partial`);
    await w.abort();
    await w.abort();
    await assert.rejects(access(`${path}.partial`), { code: 'ENOENT' });
    await assert.rejects(access(path), { code: 'ENOENT' });
  });

  it('rejects a source that gives too many bytes before they reach the tar', async () => {
    const path = file();
    const w = await BundleTarWriter.open(path, { zstd: true });
    await assert.rejects(w.addStream('x', 10, Readable.from([Buffer.alloc(8), Buffer.alloc(8)])), /x: the source gave more than the 10 bytes/);
    assert.ok(w.bytesWritten <= 512 + 8, `wrote ${w.bytesWritten}`);
    await w.abort();
    await assert.rejects(access(`${path}.partial`), { code: 'ENOENT' });
  });

  it('rejects with the source’s own error', async () => {
    const path = file();
    const w = await BundleTarWriter.open(path, { zstd: false });
    const source = new Readable({
      read() {
        this.destroy(new Error('disk read failed'));
      },
    });
    await assert.rejects(w.addStream('x', 10, source), /disk read failed/);
    await w.abort();
  });

  it('abort() in the middle of an entry stops it', async () => {
    const path = file();
    const w = await BundleTarWriter.open(path, { zstd: false });
    const entry = w.addStream(
      'x',
      10 * MiB,
      generated(10 * MiB, 64 * 1024, (sent) => void (sent === 1024 * 1024 && w.abort())),
    );
    await assert.rejects(entry);
    await w.abort();
    await assert.rejects(access(`${path}.partial`), { code: 'ENOENT' });
  });

  it('refuses unsafe names and sizes of its own entries without failing the bundle', async () => {
    const path = file();
    const w = await BundleTarWriter.open(path, { zstd: false });
    for (const [name, size] of [
      ['../x', 1],
      ['/abs', 1],
      ['dir/', 0],
      ['x', -1],
      ['x', 1.5],
    ] as const) {
      await assert.rejects(w.addStream(name, size, Readable.from([])), { code: 'INTERNAL' });
    }
    await w.addBuffer('oci-layout', Buffer.from('{}'));
    await w.finish();
    assert.deepEqual(
      (await readAll(path)).map((e) => e.name),
      ['oci-layout'],
    );
  });

  it('refuses entries after finish()', async () => {
    const path = file();
    const w = await write(path, false, ENTRIES.slice(0, 1));
    await assert.rejects(w.addBuffer('oci-layout', Buffer.from('{}')), /already finished/);
    await w.abort();
    await access(path);
  });
});

function generatedBytes(size: number): Buffer {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = ((i * 7919) % 256) ^ (i >> 10);
  return buf;
}

describe('bundle tar memory', () => {
  // The memory bound is the behaviour under test: garbage is collected before each sample.
  setFlagsFromString('--expose-gc');
  const collect = runInNewContext('gc') as () => void;
  // Twice: one collection can leave the last young garbage (a few MiB of chunks) for the next.
  const gc = (): void => {
    collect();
    collect();
  };
  const used = (): number => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };

  it('streams a 64 MiB entry in and out without holding it', async () => {
    const size = 64 * MiB;
    const path = file();
    gc();
    const base = used();
    let peak = 0;
    const sample = (sent: number): void => {
      if (sent % (4 * MiB) !== 0) return;
      gc();
      peak = Math.max(peak, used() - base);
    };
    const w = await BundleTarWriter.open(path, { zstd: true });
    await w.addStream('blob', size, generated(size, 64 * 1024, sample));
    await w.finish();
    assert.ok(peak < 8 * MiB, `writing raised memory by ${(peak / MiB).toFixed(1)} MiB`);

    const expected = createHash('sha256').update(Buffer.alloc(0));
    for await (const c of generated(size)) expected.update(c as Buffer);
    gc();
    const readBase = used();
    let readPeak = 0;
    let got = 0;
    const hash = createHash('sha256');
    for await (const entry of readBundleTar(path)) {
      for await (const chunk of entry.stream) {
        const before = got;
        got += (chunk as Buffer).length;
        hash.update(chunk as Buffer);
        if (Math.floor(before / (4 * MiB)) !== Math.floor(got / (4 * MiB))) {
          gc();
          readPeak = Math.max(readPeak, used() - readBase);
        }
      }
    }
    assert.equal(got, size);
    assert.equal(hash.digest('hex'), expected.digest('hex'));
    assert.ok(readPeak < 8 * MiB, `reading raised memory by ${(readPeak / MiB).toFixed(1)} MiB`);
  });
});

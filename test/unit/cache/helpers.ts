import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after } from 'node:test';
import { pino, type Logger } from 'pino';

export const silent = pino({ level: 'silent' });

/** A fresh directory, removed when the test file ends. */
export async function tempDir(prefix = 'signet-cache-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A logger whose records land in `records` (parsed), to check what a store reports. */
export function capturingLogger(): { logger: Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const sink = { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) };
  return { logger: pino({ level: 'debug' }, sink), records };
}

export const IMAGE_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';

/** A valid OCI image manifest naming `layers` (digests), with its digest. */
export function imageManifest(layers: readonly string[], salt = ''): { digest: string; mediaType: string; bytes: Buffer } {
  const config = sha256(`config${salt}`);
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: IMAGE_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 2 },
      layers: layers.map((digest) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: 1 })),
    }),
  );
  return { digest: sha256(bytes), mediaType: IMAGE_MANIFEST, bytes };
}

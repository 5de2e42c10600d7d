import { open } from 'node:fs/promises';

/** How a caller names the two ways reading a small file fails (its own error code and advice). */
export interface SmallFileErrors {
  tooLarge(size: number): Error;
  unreadable(err: unknown): Error;
}

/**
 * A whole file that must be small (a bundle manifest, a key, an images list): its size is checked
 * before it is read, and the bytes read are checked again (the file may have grown meanwhile).
 */
export async function readSmallFile(path: string, maxBytes: number, errors: SmallFileErrors): Promise<Buffer> {
  let size: number;
  let bytes: Buffer | undefined;
  try {
    const handle = await open(path, 'r');
    try {
      size = (await handle.stat()).size;
      if (size <= maxBytes) bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw errors.unreadable(err);
  }
  if (bytes === undefined) throw errors.tooLarge(size);
  if (bytes.length > maxBytes) throw errors.tooLarge(bytes.length);
  return bytes;
}

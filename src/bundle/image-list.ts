import { parseDocument } from 'yaml';
import { z } from 'zod';
import { DEFAULTS } from '../config/defaults.js';
import { formatIssues, type Config } from '../config/load.js';
import { SignetError, errorMessage } from '../errors.js';
import { parseImageRef } from '../registry/image-ref.js';
import type { ImageRequest } from './collect.js';
import { readSmallFile } from './small-file.js';

/** Bundles name content by sha256 (bundle-manifest.ts). */
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;
/** `os/arch[/variant]` (OCI image-index platform fields). */
const PLATFORM = /^[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)?$/;
const platform = z.string().regex(PLATFORM, 'expected os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7');

/**
 * An images list for `signet bundle export --images`:
 *
 * ```yaml
 * images:
 *   - registry.example/team/app:1.4
 *   - ref: registry.example/base/alpine:3.20
 *     platforms: [linux/amd64, linux/arm64]
 * ```
 */
const imageListSchema = z.strictObject({
  images: z
    .array(z.union([z.string().min(1), z.strictObject({ ref: z.string().min(1), platforms: z.array(platform).optional() })]))
    .min(1, 'list at least one image')
    .max(DEFAULTS.bundle.maxImages),
});

/**
 * An image named as the Docker CLI names it (`registry/repository[:tag]` or `...@sha256:<hex>`),
 * on one of the config's upstreams. No tag means `latest`, as for a pull.
 */
export function parseImageArgument(config: Config, text: string, platforms: readonly string[] = []): ImageRequest {
  const at = text.indexOf('@');
  const digest = at >= 0 ? text.slice(at + 1) : undefined;
  if (digest !== undefined && !SHA256_DIGEST.test(digest)) throw new SignetError('NAME_INVALID', `"${text}": "${digest}" is not a digest (sha256:<64 hex>)`);
  const ref = parseImageRef(at >= 0 ? text.slice(0, at) : text, config.upstreams.get('docker.io')?.officialNamespace ?? 'library');
  if (digest !== undefined && ref.tag !== undefined) throw new SignetError('NAME_INVALID', `"${text}": give a tag or a digest, not both`);
  if (!config.upstreams.has(ref.registry)) {
    const known = [...config.upstreams.keys()].join(', ');
    throw new SignetError(
      'NAME_INVALID',
      `"${text}": registry ${ref.registry} is not an upstream of this config (upstreams: ${known}); add it under upstreams`,
    );
  }
  return {
    upstream: ref.registry,
    repository: ref.repository,
    tag: digest === undefined ? (ref.tag ?? 'latest') : undefined,
    digest,
    platforms: [...platforms],
  };
}

/** Reads an images list file (YAML, see imageListSchema); `platforms` applies to entries that name none. */
export async function readImageList(config: Config, path: string, platforms: readonly string[] = []): Promise<ImageRequest[]> {
  const text = (
    await readSmallFile(path, DEFAULTS.bundle.imageListMaxBytes, {
      tooLarge: (size) => new SignetError('CONFIG_INVALID', `${path}: ${size} bytes, over the limit of ${DEFAULTS.bundle.imageListMaxBytes}: split the list`),
      unreadable: (err) => new SignetError('CONFIG_INVALID', `cannot read the images list ${path}: ${errorMessage(err)}`, { cause: err }),
    })
  ).toString('utf8');
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) throw new SignetError('CONFIG_INVALID', `${path}: invalid YAML: ${doc.errors[0]?.message ?? 'parse error'}`);
  const parsed = imageListSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) throw new SignetError('CONFIG_INVALID', `${path}: ${formatIssues(parsed.error.issues)}`);
  return parsed.data.images.map((entry, i) => {
    const ref = typeof entry === 'string' ? entry : entry.ref;
    try {
      return parseImageArgument(config, ref, typeof entry === 'string' || !entry.platforms ? platforms : entry.platforms);
    } catch (err) {
      throw new SignetError('CONFIG_INVALID', `${path}: images.${i}: ${errorMessage(err)}`, { cause: err });
    }
  });
}

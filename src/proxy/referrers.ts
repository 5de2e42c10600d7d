import { MEDIA_TYPES } from '../registry/media-types.js';
import type { Digest } from '../registry/names.js';
import type { SignatureFetcher } from '../registry/referrers.js';
import { isSignatureFetchError } from '../registry/signature-fetch-error.js';
import { SignetError } from '../errors.js';
import type { Policy } from '../policy/policy.js';
import type { Target } from './router.js';

export interface ReferrersServiceOptions {
  policy: Pick<Policy, 'referrers'>;
  /** The signature-fetching port of a target's upstream. */
  fetcherFor: (target: Target) => SignatureFetcher;
}

export interface ReferrersIndex {
  mediaType: string;
  bytes: Buffer;
  /** `OCI-Filters-Applied` value, when the list was filtered by artifact type. */
  filtersApplied: string | undefined;
}

/**
 * `GET /v2/<name>/referrers/<digest>` (distribution-spec end-12a) for an admitted digest. The
 * list comes through the signature-fetching port, so clients get referrers even from a
 * registry without the API (the referrers tag schema stands in). Listing a referrer admits
 * nothing: each one is checked again (its `subject` and that it is a signature artifact) when
 * it is pulled.
 */
export class ReferrersService {
  readonly #o: ReferrersServiceOptions;

  constructor(options: ReferrersServiceOptions) {
    this.#o = options;
  }

  async list(target: Target, digest: Digest, artifactType: string | undefined): Promise<ReferrersIndex> {
    await this.#o.policy.referrers({
      upstream: target.upstream.name,
      repository: target.repository,
      digest: digest.value,
      client: target.client,
      user: target.user,
    });
    const found = await this.#o
      .fetcherFor(target)
      .referrers(target.repository, digest.value, artifactType === undefined ? {} : { artifactType })
      .catch((err: unknown) => {
        throw toClientError(err, target, digest.value);
      });
    // distribution-spec end-12a: an image index of descriptors (where each was found stays here).
    const manifests = found.map(({ mediaType, digest: d, size, artifactType: type, annotations }) => ({
      mediaType,
      digest: d,
      size,
      artifactType: type,
      annotations,
    }));
    const index = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests };
    return {
      mediaType: MEDIA_TYPES.ociIndex,
      bytes: Buffer.from(JSON.stringify(index)),
      filtersApplied: artifactType === undefined ? undefined : 'artifactType',
    };
  }
}

/**
 * The signature-fetching port's codes, as a client of the referrers API should see them: an
 * unknown repository is NAME_UNKNOWN (distribution-spec: the API itself never answers 404 for a
 * digest without referrers, which is an empty index); anything else is the upstream's fault.
 */
function toClientError(err: unknown, target: Target, digest: string): unknown {
  if (!isSignatureFetchError(err)) return err;
  const where = `${target.upstream.name}/${target.repository}`;
  if (err.code === 'not_found') return new SignetError('NAME_UNKNOWN', `repository ${where} is not known at the upstream: ${err.message}`, { cause: err });
  if (err.code === 'unavailable') return new SignetError('UPSTREAM_UNAVAILABLE', `referrers of ${digest} in ${where}: ${err.message}`, { cause: err });
  return new SignetError('UPSTREAM_ERROR', `referrers of ${digest} in ${where}: ${err.message}`, { cause: err });
}

/**
 * What the proxy asks the policy, and the port through which the policy sees manifests. The
 * proxy owns the bytes (cache, upstream); the policy decides which digest a tag means and
 * whether a digest may be served, and records what it admitted (provenance).
 */

/** Who asks for what: `<upstream>/<repository>`, from which client address. */
export interface RepositoryRequest {
  upstream: string;
  repository: string;
  /** Client address, for the audit log. */
  client: string | undefined;
  /** The authenticated user, for the audit log. */
  user?: string | undefined;
}

export interface TagRequest extends RepositoryRequest {
  tag: string;
}

export interface DigestRequest extends RepositoryRequest {
  digest: string;
}

/** What the policy needs to know of a manifest whose bytes hashed to `digest`. */
export interface ManifestFacts {
  digest: string;
  /** Length of the manifest bytes. */
  size: number;
  mediaType: string;
  /** Whether it is an index (children are manifests) rather than an image or artifact manifest. */
  isIndex: boolean;
  /** Digests it references: index children, or config and layers. */
  children: readonly string[];
  /** OCI 1.1 `subject` digest, if any. */
  subject: string | undefined;
  /** Whether its content makes it a signature artifact that cannot be run as an image. */
  signatureArtifact: boolean;
}

/**
 * Why the upstream could not say what a tag means: the `reason` label of
 * `signet_stale_tag_serves_total` and part of the audit message of a stale serve.
 */
export type StaleReason = 'rate_limited' | 'upstream_error' | 'unreachable' | 'timeout';

/** The manifest a tag last resolved to, offered from the cache when the upstream fails. */
export interface StaleManifest<M> {
  manifest: M;
  reason: StaleReason;
  /** What the upstream did, for the audit message. */
  cause: string;
  /** Called once the policy decided to serve it: the proxy logs and counts the stale serve. */
  served(): void;
}

/**
 * The policy's view of the registry, implemented by the proxy: every manifest it hands over was
 * hashed against its digest. `byDigest` answers undefined when the upstream has no such manifest.
 */
export interface ManifestLoader<M extends ManifestFacts> {
  byDigest(digest: string): Promise<M | undefined>;
  /** The manifest the upstream currently has under `tag` (resolved at the registry, fetched by digest). */
  byTag(tag: string): Promise<M>;
  /**
   * After `byTag` threw `failure`: when the failure is the upstream rate-limiting (429), failing
   * (5xx after retries) or unreachable, the manifest the tag last resolved to, from the cache
   * only; undefined otherwise. The policy decides whether it may be served.
   */
  lastKnown?(tag: string, failure: unknown): Promise<StaleManifest<M> | undefined>;
}

/** One page of a tag listing, in lexical order. */
export interface TagPage {
  tags: string[];
  /** The `last` of the next page, when there is one (the Link header's target). */
  next: string | undefined;
}

/** The policy's view of a repository's tags at the registry, implemented by the proxy. */
export interface TagLister {
  /**
   * The upstream's tags after `last`, at most `n` of them (every tag when `n` is undefined),
   * sorted; `next` when the upstream has more.
   */
  page(n: number | undefined, last: string | undefined): Promise<TagPage>;
  /** The digest the upstream has under `tag` now (a HEAD), or undefined when it has no such tag. */
  resolve(tag: string): Promise<string | undefined>;
}

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
 * The policy's view of the registry, implemented by the proxy: every manifest it hands over was
 * hashed against its digest. `byDigest` answers undefined when the upstream has no such manifest.
 */
export interface ManifestLoader<M extends ManifestFacts> {
  byDigest(digest: string): Promise<M | undefined>;
  /** The manifest the upstream currently has under `tag` (resolved at the registry, fetched by digest). */
  byTag(tag: string): Promise<M>;
}

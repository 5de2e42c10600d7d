import type { PolicyMode } from '../config/schema.js';
import type { Lineage } from '../cache/lineage-store.js';

/** What the proxy asks before it serves anything: one decision per request. */
export interface TagRequest {
  upstream: string;
  repository: string;
  tag: string;
  /** Client address, for the audit log. */
  client: string | undefined;
}

export interface DigestRequest {
  upstream: string;
  repository: string;
  digest: string;
  kind: 'manifest' | 'blob';
  /** How the digest descends from something already served for this repository, if it does. */
  lineage: Lineage | undefined;
  client: string | undefined;
}

export interface TagDecision {
  mode: PolicyMode;
  /**
   * The digest the tag must resolve to (a trust source's signed target). When set, the proxy
   * serves exactly this manifest and never asks the upstream what the tag means.
   */
  pinned?: { digest: string; size: number | undefined };
}

export interface DigestDecision {
  mode: PolicyMode;
  /** True when a trust source vouched for the digest (directly or through verified lineage). */
  verified: boolean;
}

/**
 * The per-request "authorise" step between routing and serving. Implementations throw a
 * `SignetError('DENIED', reason)` to refuse.
 */
export interface Authorizer {
  authorizeTag(request: TagRequest): Promise<TagDecision>;
  authorizeDigest(request: DigestRequest): Promise<DigestDecision>;
}

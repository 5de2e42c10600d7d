import { SignetError } from '../errors.js';
import { assertRepositoryName, isTag } from './names.js';

export interface ImageRef {
  registry: string;
  repository: string;
  tag: string | undefined;
}

/**
 * Parses an image reference the way the Docker CLI does (distribution/reference
 * ParseNormalizedNamed): the first component is a registry when it contains "." or ":" or is
 * "localhost"; otherwise the image is on docker.io, and one-component names are "library/…".
 */
export function parseImageRef(text: string, officialNamespace = 'library'): ImageRef {
  let rest = text.trim();
  if (rest.includes('@')) throw new SignetError('NAME_INVALID', `"${text}": give a tag, not a digest: trust is checked per tag`);
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isTag(tag)) throw new SignetError('NAME_INVALID', `"${text}": invalid tag "${tag}"`);
  }
  const slash = rest.indexOf('/');
  const first = slash > 0 ? rest.slice(0, slash) : '';
  let registry = 'docker.io';
  let repository = rest;
  if (first && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first === 'index.docker.io' || first === 'registry-1.docker.io' ? 'docker.io' : first;
    repository = rest.slice(slash + 1);
  }
  if (registry === 'docker.io' && !repository.includes('/')) repository = `${officialNamespace}/${repository}`;
  assertRepositoryName(repository);
  return { registry, repository, tag };
}

import assert from 'node:assert/strict';
import type { Dockerd } from './dockerd.js';
import { splitRef } from './dct.js';
import { MANIFEST_ACCEPT } from './images.js';
import type { Verdict } from './scenarios.js';

/**
 * Verdicts of a plain Docker daemon pulling through Signet (no content trust on the client:
 * Signet is the one that decides), Signet's own answer for the same manifest over HTTP, and a
 * text table to put the verdicts of Docker's client and of Signet side by side in CI logs.
 */

export interface PlainPull {
  /** `docker pull <ref>` exited 0. */
  allowed: boolean;
  /** stdout + stderr of the pull. */
  output: string;
  /** The image's RepoDigests after a successful pull (`<repository>@sha256:...`). */
  repoDigests: string[];
}

/** Removes every tag and digest reference of `repository` from the daemon, so the next pull asks the registry again. */
export async function removeLocalReferences(dockerd: Pick<Dockerd, 'docker'>, repository: string): Promise<void> {
  const list = await dockerd.docker(['image', 'ls', '--digests', '--format', '{{.Repository}} {{.Tag}} {{.Digest}}', repository]);
  const refs = new Set<string>();
  for (const line of list.stdout.split('\n')) {
    const [repo, tag, digest] = line.trim().split(' ');
    if (!repo) continue;
    if (tag && tag !== '<none>') refs.add(`${repo}:${tag}`);
    if (digest && digest !== '<none>') refs.add(`${repo}@${digest}`);
  }
  for (const ref of refs) await dockerd.docker(['image', 'rm', '-f', ref]);
}

/** `docker pull <ref>` on a daemon without content trust, after forgetting the repository's local references. */
export async function plainPull(dockerd: Pick<Dockerd, 'docker'>, ref: string): Promise<PlainPull> {
  await removeLocalReferences(dockerd, splitRef(ref).repository);
  const pull = await dockerd.docker(['pull', ref]);
  const output = pull.stdout + pull.stderr;
  if (pull.code !== 0) return { allowed: false, output, repoDigests: [] };
  const inspect = await dockerd.docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', ref]);
  assert.equal(inspect.code, 0, `docker image inspect ${ref}: ${inspect.stderr}`);
  return { allowed: true, output, repoDigests: JSON.parse(inspect.stdout) as string[] };
}

export function verdictOf(allowed: boolean): Verdict {
  return allowed ? 'allow' : 'deny';
}

export interface SignetDenial {
  status: number;
  code: string | undefined;
  message: string | undefined;
  reason: string | undefined;
  body: string;
}

export interface SignetManifestAnswer {
  status: number;
  /** Docker-Content-Digest of a 200. */
  digest: string | null;
  /** The parsed OCI error of anything else. */
  denial: SignetDenial | undefined;
}

/** GET /v2/<repository>/manifests/<reference> on Signet, as a registry client asks for it. */
export async function signetManifest(signetUrl: string, repository: string, reference: string): Promise<SignetManifestAnswer> {
  const res = await fetch(`${signetUrl}/v2/${repository}/manifests/${reference}`, { headers: { accept: MANIFEST_ACCEPT } });
  const body = Buffer.from(await res.arrayBuffer()).toString('utf8');
  if (res.status === 200) return { status: 200, digest: res.headers.get('docker-content-digest'), denial: undefined };
  let first: { code?: string; message?: string; detail?: { reason?: string } } | undefined;
  try {
    first = (JSON.parse(body) as { errors?: Array<typeof first> }).errors?.[0];
  } catch {
    first = undefined;
  }
  return {
    status: res.status,
    digest: null,
    denial: { status: res.status, code: first?.code, message: first?.message, reason: first?.detail?.reason, body },
  };
}

export interface VerdictRow {
  scenario: string;
  /** Docker 20.10 CLI, DOCKER_CONTENT_TRUST=1, straight from the registry ('-' when not asked). */
  docker: string;
  /** A plain dockerd pulling through Signet ('?' until known). */
  signet: string;
  /** Signet's denial reason (detail.reason), or the digest it served. */
  reason: string;
  /** What was expected of Signet, when it differs from Docker by design. */
  note: string;
}

/** A fixed-width text table of `rows`, one string per line. */
export function formatTable(rows: readonly VerdictRow[]): string[] {
  const header: VerdictRow = { scenario: 'scenario', docker: 'docker', signet: 'signet', reason: 'signet reason / digest', note: 'note' };
  const cells = [header, ...rows].map((r) => [r.scenario, r.docker, r.signet, r.reason, r.note]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]): string =>
    c
      .map((v, i) => (i < widths.length ? v.padEnd(widths[i] ?? 0) : v))
      .join(' | ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('-+-') + '-+-' + '-'.repeat(4);
  const [head, ...body] = cells;
  return [line(head ?? []), rule, ...body.map(line)];
}

/** Shortens `sha256:<hex>` to `sha256:<first 12>` for the table. */
export function shortDigest(digest: string | undefined): string {
  return digest ? digest.slice(0, 'sha256:'.length + 12) : '-';
}

import assert from 'node:assert/strict';
import type { Containerd } from './containerd.js';
import type { Dockerd } from './dockerd.js';
import { skopeoPull } from './skopeo.js';

/**
 * What every e2e test of a trust format asserts of the real clients: a signed image arrives with
 * its signed digest, a refused one fails the client. `images` are `[name, digest]`: the image as
 * the client names it (containerd: `docker.io/library/app:1.0`; dockerd through
 * registry-mirrors: `app:1.0`).
 */

/** `ctr images pull` of each image through `hostsDir`, then `ctr images check` shows it complete with its digest. */
export async function containerdPulls(containerd: Containerd, images: ReadonlyArray<readonly [string, string]>): Promise<void> {
  for (const [name, digest] of images) {
    const pull = await containerd.ctr(['images', 'pull', '--hosts-dir', containerd.hostsDir, name]);
    assert.equal(pull.code, 0, `ctr pull ${name}: ${pull.stderr}`);
    const check = await containerd.ctr(['images', 'check']);
    assert.match(check.stdout, new RegExp(`${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+\\S+\\s+${digest}\\s+complete`), check.stdout);
  }
}

/** Each pull fails with Signet's 403 (containerd prints the status only). */
export async function containerdRefused(containerd: Containerd, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const pull = await containerd.ctr(['images', 'pull', '--hosts-dir', containerd.hostsDir, name]);
    assert.notEqual(pull.code, 0, `${name} must be refused`);
    assert.match(pull.stderr, /403|denied|DENIED|forbidden/i, `${name}: ${pull.stderr}`);
  }
}

/** `docker pull` of each image prints its signed digest. */
export async function dockerdPulls(dockerd: Dockerd, images: ReadonlyArray<readonly [string, string]>): Promise<void> {
  for (const [name, digest] of images) {
    const pull = await dockerd.docker(['pull', name]);
    assert.equal(pull.code, 0, `docker pull ${name}: ${pull.stdout}\n${pull.stderr}`);
    assert.match(pull.stdout, new RegExp(`Digest: ${digest}`));
  }
}

/** Each pull fails (dockerd then falls back to Docker Hub, unreachable here, and reports that error instead of Signet's). */
export async function dockerdRefused(dockerd: Dockerd, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const pull = await dockerd.docker(['pull', name]);
    assert.notEqual(pull.code, 0, `${name} must be refused: ${pull.stdout}`);
  }
}

/** skopeo is refused each reference (`docker://host/repo:tag`) with Signet's denial. */
export async function skopeoRefused(references: readonly string[]): Promise<void> {
  for (const ref of references) {
    await assert.rejects(
      skopeoPull(ref),
      (err: unknown) => {
        assert.match(String(err), /denied|DENIED|403/);
        return true;
      },
      `${ref} must be refused`,
    );
  }
}

import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { get, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { stopAll } from '../../harness/cleanup.js';
import { NODE_UID, buildSignetImage, dockerInspect, dockerLogs, makeStandInBase, removeContainer, type StandInBase } from '../../harness/container-image.js';
import { cosignKeyPair, signLegacy } from '../../harness/cosign.js';
import { startDockerd, type Dockerd } from '../../harness/dockerd.js';
import { pushBlob, pushImage, pushImageWithLayer, type PushedImage } from '../../harness/images.js';
import { poll } from '../../harness/poll.js';
import { freePort } from '../../harness/ports.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { REPO_ROOT } from '../../harness/signet.js';
import { signetConfig } from '../../harness/signet-config.js';
import { skopeoPull } from '../../harness/skopeo.js';
import { deterministicStream, hashStream } from '../../harness/streams.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// The image users run, built from the repository's Dockerfile on a stand-in Node.js base (no
// Docker Hub here: see harness/container-image.ts), then run the ways README's "Container image"
// section shows: verify-config, the embedded default config, and a mounted config with a /data
// volume, read-only, as the `node` user. skopeo and a second dockerd pull an image signed with a
// cosign key and an unsigned one through the containerised Signet (enforcing); `docker stop`
// lets an in-flight blob stream finish and Signet exit 0.

const IMAGE = 'signet:test';
const BASE = 'signet-node-base:bookworm';
const SOURCE = 'https://signet.example/source';
const CONFIG_IN_IMAGE = '/etc/signet/config.yaml';
const KEY_IN_IMAGE = '/etc/signet/cosign.pub';
const BIG_LAYER_BYTES = 64 * 1024 * 1024;
// docker stop's grace period: above Signet's own (DEFAULTS.shutdownGraceMs, 30 s).
const STOP_GRACE_SECONDS = 60;

interface PackageJson {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/** Opens GET `url` and resolves with the response once headers are in; the body is not read. */
function openStream(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    get(url, resolve).once('error', reject);
  });
}

// debootstrap, chown to the node user and a private dockerd need root.
const SKIP = process.getuid?.() === 0 ? false : 'builds a root file system with debootstrap: needs root';

describe('the container image', { skip: SKIP }, () => {
  let base: StandInBase | undefined;
  let dockerd: Dockerd;
  let registry: Registry;
  let dir: string;
  let signed: PushedImage;
  let big: PushedImage;
  let pkg: PackageJson;

  before(async () => {
    dir = await makeTempDir('image-e2e');
    pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as PackageJson;
    const key = cosignKeyPair('ecdsa-p256');
    await chmod(await key.writePublicKey(dir, 'cosign.pub'), 0o644);
    registry = await startRegistry();
    signed = await pushImage(registry, 'library/signed', '1.0');
    await signLegacy(registry, 'library/signed', signed, key);
    await pushImage(registry, 'library/unsigned', '1.0');
    const layer = await pushBlob(registry, 'library/big', () => deterministicStream(BIG_LAYER_BYTES, 'container-image'));
    big = await pushImageWithLayer(registry, 'library/big', '1.0', layer);
    await signLegacy(registry, 'library/big', big, key);

    [base, dockerd] = await Promise.all([makeStandInBase(), startDockerd({ storageDriver: 'overlay2' })]);
    await base.importInto(dockerd, BASE);
    await buildSignetImage(dockerd, { tag: IMAGE, nodeImage: BASE, buildArgs: { SIGNET_SOURCE: SOURCE } });
  });
  after(async () => {
    await stopAll(dockerd, registry, base && { stop: () => base?.remove() ?? Promise.resolve() });
    await removeDir(dir);
  });

  const waitHealthy = (name: string): Promise<true> =>
    poll(
      `${name} to turn healthy`,
      async () => {
        const status = await dockerInspect(dockerd, name, '{{.State.Status}} {{.State.Health.Status}}');
        if (status.startsWith('exited')) throw new Error(`${name} exited: ${(await dockerLogs(dockerd, name)).stderr}`);
        return status === 'running healthy' ? true : undefined;
      },
      { timeoutMs: 120_000, failFast: true },
    );

  test('holds production dependencies only, no npm cache or build tools, with OCI labels', async (t) => {
    const labels = JSON.parse(await dockerInspect(dockerd, IMAGE, '{{json .Config.Labels}}')) as Record<string, string>;
    assert.equal(labels['org.opencontainers.image.version'], pkg.version, 'the Dockerfile default SIGNET_VERSION is package.json "version"');
    assert.equal(labels['org.opencontainers.image.licenses'], 'Apache-2.0');
    assert.equal(labels['org.opencontainers.image.source'], SOURCE);
    assert.equal(await dockerInspect(dockerd, IMAGE, '{{.Config.User}}'), 'node');

    // As root, to see every home directory: an npm cache or log anywhere would be a leftover.
    const listing = await dockerd.docker([
      'run',
      '--rm',
      '--user',
      '0',
      '--entrypoint',
      'sh',
      IMAGE,
      '-c',
      'ls /app/node_modules; find / -xdev \\( -name .npm -o -name _cacache \\) -print; command -v gcc cc make g++ python3 || true',
    ]);
    assert.equal(listing.code, 0, listing.stderr);
    const lines = listing.stdout.trim().split('\n');
    for (const name of Object.keys(pkg.dependencies)) {
      const top = name.split('/')[0] ?? name;
      assert.ok(lines.includes(top), `production dependency ${name} missing`);
    }
    for (const name of Object.keys(pkg.devDependencies)) {
      if (name.startsWith('@')) continue; // a scope shared with production dependencies (@sigstore)
      assert.ok(!lines.includes(name), `dev dependency ${name} in the image`);
    }
    const scoped = await dockerd.docker(['run', '--rm', '--entrypoint', 'ls', IMAGE, '/app/node_modules/@sigstore']);
    assert.equal(scoped.code, 0, scoped.stderr);
    assert.doesNotMatch(scoped.stdout, /^(mock|sign)$/m, 'a dev dependency under @sigstore');
    const leftovers = lines.filter((line) => line.startsWith('/'));
    assert.deepEqual(leftovers, [], 'npm caches or build tools in the image');

    const size = Number(await dockerInspect(dockerd, IMAGE, '{{.Size}}'));
    const baseSize = Number(await dockerInspect(dockerd, BASE, '{{.Size}}'));
    t.diagnostic(`image ${(size / 1e6).toFixed(0)} MB on a ${(baseSize / 1e6).toFixed(0)} MB base: Signet adds ${((size - baseSize) / 1e6).toFixed(0)} MB`);
  });

  test('verify-config accepts a mounted config and rejects a broken one', async () => {
    const good = join(dir, 'good.yaml');
    const bad = join(dir, 'bad.yaml');
    await writeFile(good, stringify(signetConfig({ upstreams: { 'docker.io': { url: registry.url } } }, { port: 5000, dataDir: '/data', logLevel: 'info' })));
    await writeFile(bad, 'listen:\n  port: not-a-port\n');
    await chmod(good, 0o644);
    await chmod(bad, 0o644);
    const ok = await dockerd.docker(['run', '--rm', '-v', `${good}:${CONFIG_IN_IMAGE}:ro`, IMAGE, 'verify-config', CONFIG_IN_IMAGE]);
    assert.equal(ok.code, 0, `${ok.stdout}\n${ok.stderr}`);
    const refused = await dockerd.docker(['run', '--rm', '-v', `${bad}:${CONFIG_IN_IMAGE}:ro`, IMAGE, 'verify-config', CONFIG_IN_IMAGE]);
    assert.equal(refused.code, 1, `${refused.stdout}\n${refused.stderr}`);
  });

  test('serves on port 5000 with the embedded config, read-only, and turns healthy', async () => {
    // No network of its own (the harness dockerd has no bridge): the container's loopback
    // carries the health check and the probe below.
    const name = 'signet-embedded';
    const started = await dockerd.docker([
      'run',
      '--detach',
      '--name',
      name,
      '--network',
      'none',
      '--read-only',
      '--volume',
      '/data',
      '--health-interval',
      '1s',
      IMAGE,
    ]);
    assert.equal(started.code, 0, started.stderr);
    try {
      await waitHealthy(name);
      const probe = await dockerd.docker([
        'exec',
        name,
        'node',
        '-e',
        "fetch('http://127.0.0.1:5000/v2/').then(async (r) => { console.log(r.status); process.exit(0); }, (e) => { console.error(e); process.exit(1); })",
      ]);
      assert.equal(probe.code, 0, probe.stderr);
      assert.equal(probe.stdout.trim(), '200');
      const uid = await dockerd.docker(['exec', name, 'id', '-u']);
      assert.equal(uid.stdout.trim(), String(NODE_UID), 'Signet runs as the node user');
      const stopped = await dockerd.docker(['stop', '--time', String(STOP_GRACE_SECONDS), name]);
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.equal(await dockerInspect(dockerd, name, '{{.State.ExitCode}}'), '0');
    } finally {
      await removeContainer(dockerd, name);
    }
  });

  /**
   * Runs the image on the host network with a mounted enforcing config, the cosign key and a
   * /data volume, read-only, and waits until its health check passes.
   */
  async function startEnforcing(name: string): Promise<{ url: string; host: string }> {
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const url = `http://${host}`;
    const configPath = join(dir, `${name}.yaml`);
    const config = signetConfig(
      {
        upstreams: { 'docker.io': { url: registry.url } },
        defaultUpstream: 'docker.io',
        extra: {
          policy: {
            default: 'enforce',
            auditLog: '-',
            rules: [{ match: 'docker.io/library/**', require: { cosign: { keys: [KEY_IN_IMAGE], tlog: false } } }],
          },
        },
      },
      { port, dataDir: '/data', logLevel: 'info' },
    );
    await writeFile(configPath, stringify(config));
    await chmod(configPath, 0o644);
    const volume = await dockerd.docker(['volume', 'create', `${name}-data`]);
    assert.equal(volume.code, 0, volume.stderr);
    const started = await dockerd.docker([
      'run',
      '--detach',
      '--name',
      name,
      // The test registry listens on the host's loopback.
      '--network',
      'host',
      '--read-only',
      '--volume',
      `${name}-data:/data`,
      '--volume',
      `${configPath}:${CONFIG_IN_IMAGE}:ro`,
      '--volume',
      `${join(dir, 'cosign.pub')}:${KEY_IN_IMAGE}:ro`,
      '--env',
      `SIGNET_HEALTHCHECK_URL=${url}/healthz`,
      '--health-interval',
      '1s',
      IMAGE,
      'serve',
      '--config',
      CONFIG_IN_IMAGE,
    ]);
    assert.equal(started.code, 0, started.stderr);
    await waitHealthy(name);
    return { url, host };
  }

  async function removeEnforcing(name: string): Promise<void> {
    await removeContainer(dockerd, name);
    await dockerd.docker(['volume', 'rm', '--force', `${name}-data`]);
  }

  describe('with a mounted config and a /data volume, enforcing cosign signatures', () => {
    const name = 'signet-enforcing';
    let url: string;
    let host: string;

    before(async () => {
      ({ url, host } = await startEnforcing(name));
    });
    after(() => removeEnforcing(name));

    test('skopeo gets the signed image and is refused the unsigned one', async () => {
      const pulled = await skopeoPull(`docker://${host}/library/signed:1.0`);
      assert.equal(pulled.top.digest, signed.digest);
      await assert.rejects(skopeoPull(`docker://${host}/library/unsigned:1.0`), /denied|DENIED|403/);
    });

    test('a second dockerd pulls the signed image through it and is refused the unsigned one', async () => {
      const client = await startDockerd({ registryMirrors: [url] });
      try {
        const pull = await client.docker(['pull', 'signed:1.0']);
        assert.equal(pull.code, 0, `docker pull: ${pull.stdout}\n${pull.stderr}`);
        assert.match(pull.stdout, new RegExp(`Digest: ${signed.digest}`));
        const refused = await client.docker(['pull', 'unsigned:1.0']);
        assert.notEqual(refused.code, 0, refused.stdout);
        const images = await client.docker(['images', '--quiet', 'unsigned']);
        assert.equal(images.stdout.trim(), '', 'the unsigned image arrived');
      } finally {
        await client.stop();
      }
    });

    test('writes the audit log to stdout, for the container runtime', async () => {
      for (const repo of ['signed', 'unsigned']) {
        const res = await fetch(`${url}/v2/library/${repo}/manifests/1.0`, { headers: { accept: signed.mediaType } });
        await res.arrayBuffer();
      }
      await poll('allowed and denied decisions in docker logs', async () => {
        const logs = await dockerLogs(dockerd, name);
        const decisions = logs.stdout
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as Record<string, unknown>)
          .filter((entry) => entry.audit === true);
        const allowed = decisions.some((d) => d.repository === 'library/signed' && d.verdict === 'allowed');
        const denied = decisions.some((d) => d.repository === 'library/unsigned' && d.verdict === 'denied');
        return allowed && denied ? true : undefined;
      });
    });
  });

  test('docker stop lets an in-flight blob stream finish and Signet exit 0', async () => {
    const name = 'signet-stopping';
    try {
      const { url } = await startEnforcing(name);
      const manifest = await fetch(`${url}/v2/library/big/manifests/1.0`, { headers: { accept: big.mediaType } });
      assert.equal(manifest.status, 200, await manifest.text());
      const layer = big.blobs.at(-1);
      assert.ok(layer);
      const res = await openStream(`${url}/v2/library/big/blobs/${layer.digest}`);
      assert.equal(res.statusCode, 200);
      // Not read yet: 64 MiB cannot all sit in socket buffers, so the stream is in flight.
      res.pause();
      const stop = dockerd.docker(['stop', '--time', String(STOP_GRACE_SECONDS), name]);
      await poll('Signet to begin its shutdown', async () => ((await dockerLogs(dockerd, name)).stdout.includes('shutting down') ? true : undefined));
      const received = await hashStream(res);
      assert.deepEqual(received, { digest: layer.digest, size: layer.size });
      const stopped = await stop;
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.equal(await dockerInspect(dockerd, name, '{{.State.ExitCode}}'), '0');
    } finally {
      await removeEnforcing(name);
    }
  });
});

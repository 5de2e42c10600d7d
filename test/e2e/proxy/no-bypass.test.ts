import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { startContainerd, type Containerd } from '../../harness/containerd.js';
import { cosignKeyPair } from '../../harness/cosign.js';
import { startDockerd, type Dockerd } from '../../harness/dockerd.js';
import { ociError, startFakeRegistry, type FakeAnswer, type FakeManifest, type FakeRegistry, type FakeRequest } from '../../harness/fake-registry.js';
import { writeLayout } from '../../harness/images.js';
import { run, type RunResult } from '../../harness/process.js';
import { startInProcessSignet, type InProcessSignet } from '../../harness/signet-in-process.js';
import { sha256Digest } from '../../harness/streams.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// Enforcement that client fallback cannot bypass (docs/CLIENTS.md). containerd, dockerd and
// containers/image (podman, CRI-O, skopeo) each try another endpoint when one answers with an
// error. With the configurations docs/CLIENTS.md documents, every pull Signet refuses — 403
// (unsigned under enforce), 404 (unknown tag), 429 (upstream rate limit), 5xx (upstream error,
// upstream down) — fails, and the upstream gets no request except Signet's (User-Agent
// "signet"). The upstream is a fake registry on loopback that clients reach directly under
// the very name they pull (127.0.0.1:<port>), and it records every request: a fallback would
// show there. Where it refuses only Signet (429, 503, down), it serves everyone else, so a
// fallback would even succeed. For contrast, the configurations that do fall back
// (containerd with the real registry as `server`, dockerd `registry-mirrors`, registries.conf
// mirrors without `blocked`) are shown falling back.

const SIGNET_UA = 'signet';
const TAG = '1';
const HANG_GUARD_MS = 5 * 60_000;

interface Refusal {
  /** Repository at the upstream. */
  repo: string;
  why: string;
  /** What Signet answers (5xx: 502 or 503). */
  statuses: readonly number[];
  code: string;
  /** How dockerd reports Signet's answer. */
  docker: RegExp;
}

const REFUSALS: readonly Refusal[] = [
  { repo: 'team/unsigned', why: '403 DENIED (not signed, enforce)', statuses: [403], code: 'DENIED', docker: /denied: .*signature/ },
  { repo: 'team/missing', why: '404 MANIFEST_UNKNOWN (unknown tag)', statuses: [404], code: 'MANIFEST_UNKNOWN', docker: /manifest unknown/ },
  {
    repo: 'team/limited',
    why: '429 TOOMANYREQUESTS (upstream rate-limits Signet)',
    statuses: [429],
    code: 'TOOMANYREQUESTS',
    docker: /toomanyrequests: upstream .* is rate-limiting Signet/,
  },
  { repo: 'team/broken', why: '5xx (upstream answers 503)', statuses: [502, 503], code: 'UNAVAILABLE', docker: /50[23] (Bad Gateway|Service Unavailable)/ },
  { repo: 'team/down', why: '5xx (upstream down for Signet)', statuses: [502, 503], code: 'UNAVAILABLE', docker: /50[23] (Bad Gateway|Service Unavailable)/ },
];

/** How ctr reports Signet's answer: containerd's resolver names the host and status, or "not found" for a 404. */
function ctrSays(r: Refusal, signetHost: string): RegExp {
  return r.code === 'MANIFEST_UNKNOWN' ? /: not found/ : new RegExp(`pulling from host ${signetHost} failed .*: (${r.statuses.join('|')}) `);
}
const SERVED = ['team/ok', 'team/unsigned', 'team/limited', 'team/broken', 'team/down'];

function fromSignet(req: { headers: Record<string, unknown> }): boolean {
  return req.headers['user-agent'] === SIGNET_UA;
}

function manifestAnswer(m: FakeManifest): FakeAnswer {
  return { headers: { 'content-type': m.mediaType, 'docker-content-digest': sha256Digest(m.bytes) }, body: m.bytes };
}

/** One small image per repository, as an OCI layout is written, for the fake upstream. */
async function images(dir: string): Promise<{ manifests: Map<string, FakeManifest>; blobs: Buffer[] }> {
  const manifests = new Map<string, FakeManifest>();
  const blobs: Buffer[] = [];
  for (const repo of SERVED) {
    const layout = join(dir, repo.replace('/', '_'));
    await writeLayout(layout, TAG, { label: repo });
    const read = (digest: string): Promise<Buffer> => readFile(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)));
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; mediaType: string }> };
    const top = index.manifests[0];
    assert.ok(top);
    const bytes = await read(top.digest);
    const parsed = JSON.parse(bytes.toString('utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
    for (const d of [parsed.config.digest, ...parsed.layers.map((l) => l.digest)]) blobs.push(await read(d));
    manifests.set(repo, { repo, tag: TAG, bytes, mediaType: top.mediaType });
  }
  return { manifests, blobs };
}

describe('a refused pull cannot bypass Signet through client fallback', () => {
  let dir: string;
  let up: FakeRegistry; // the upstream, reachable by every client
  let proxy: FakeRegistry; // dockerd's HTTP(S)_PROXY: records where its fallback tries to go
  let signet: InProcessSignet;
  let containerd: Containerd;
  let dockerd: Dockerd;
  let signetHost: string;

  /** Requests the upstream got since `from` (an index into its record) that Signet did not send. */
  const direct = (from: number): FakeRequest[] =>
    up
      .requests()
      .slice(from)
      .filter((r) => !fromSignet(r));
  const describeRequests = (list: FakeRequest[]): string => JSON.stringify(list.map((r) => `${r.method} ${r.url} (${String(r.headers['user-agent'])})`));

  before(async () => {
    dir = await makeTempDir('no-bypass');
    const { manifests, blobs } = await images(dir);
    up = await startFakeRegistry({
      manifests: [...manifests.values()],
      blobs,
      // "Down" for Signet only: its connections are cut, everyone else is served.
      handler: (req, _res, next) => {
        if (req.url?.startsWith('/v2/team/down/') && fromSignet(req)) req.socket.destroy();
        else next();
      },
    });
    // The referrers API, answered with no referrers: the unsigned image has no signature at all.
    const unsigned = manifests.get('team/unsigned');
    assert.ok(unsigned);
    up.route(`/v2/team/unsigned/referrers/${sha256Digest(unsigned.bytes)}`, {
      headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' },
      body: JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }),
    });
    for (const [repo, answer] of [
      ['team/limited', ociError(429, 'TOOMANYREQUESTS', 'rate limit exceeded')],
      ['team/broken', ociError(503, 'UNAVAILABLE', 'service unavailable')],
    ] as const) {
      const m = manifests.get(repo);
      assert.ok(m);
      up.route(`/v2/${repo}/manifests/${TAG}`, (req) => (fromSignet(req) ? answer : manifestAnswer(m)));
    }
    const keyPath = await cosignKeyPair('ecdsa-p256').writePublicKey(dir);
    signet = await startInProcessSignet({
      upstreams: { [up.host]: { url: up.url } },
      defaultUpstream: up.host,
      extra: {
        upstreams: { [up.host]: { retries: { max: 0 } } },
        policy: { rules: [{ match: `${up.host}/team/unsigned`, mode: 'enforce', require: { cosign: { keys: [keyPath], tlog: false } } }] },
      },
    });
    signetHost = `127.0.0.1:${signet.port}`;
    proxy = await startFakeRegistry();
    // Both started at once; whichever started is stopped in `after` even when the other failed.
    const [c, d] = await Promise.allSettled([startContainerd(), startDockerd({ registryMirrors: [signet.url], proxy: proxy.url })]);
    if (c.status === 'fulfilled') containerd = c.value;
    if (d.status === 'fulfilled') dockerd = d.value;
    for (const started of [c, d]) if (started.status === 'rejected') throw started.reason;
  });
  after(async () => {
    await stopAll(dockerd, containerd, signet, up, proxy);
    await removeDir(dir);
  });

  test('Signet answers each refusal with its status and OCI code', async () => {
    for (const r of REFUSALS) {
      const res = await fetch(`${signet.url}/v2/${r.repo}/manifests/${TAG}?ns=${up.host}`);
      const body = (await res.json()) as { errors?: Array<{ code?: string }> };
      assert.ok(r.statuses.includes(res.status), `${r.repo}: HTTP ${res.status} ${JSON.stringify(body)}`);
      assert.equal(body.errors?.[0]?.code, r.code, `${r.repo}: ${JSON.stringify(body)}`);
    }
    assert.equal((await fetch(`${signet.url}/v2/team/ok/manifests/${TAG}?ns=${up.host}`)).status, 200);
  });

  describe('containerd, hosts.toml with Signet as `server` and as the only [host] (docs/CLIENTS.md)', () => {
    // Exactly the documented file, with Signet on plain http here.
    const hostsToml = (): string => `server = "${signet.url}"\n\n[host."${signet.url}"]\n  capabilities = ["pull", "resolve"]\n`;
    const pull = (ref: string, hostsDir = containerd.hostsDir): Promise<RunResult> => containerd.ctr(['images', 'pull', '--hosts-dir', hostsDir, ref]);

    before(async () => {
      await containerd.writeHostsFile(up.host, hostsToml());
    });

    test('an allowed image is pulled through Signet', async () => {
      const from = up.requests().length;
      const result = await pull(`${up.host}/team/ok:${TAG}`);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(direct(from), [], describeRequests(direct(from)));
      assert.ok(up.requests().slice(from).length > 0, 'Signet fetched from the upstream');
    });

    for (const r of REFUSALS) {
      test(`${r.why}: the pull fails and only Signet reached the upstream`, async () => {
        const from = up.requests().length;
        const result = await pull(`${up.host}/${r.repo}:${TAG}`);
        assert.notEqual(result.code, 0, `pulled despite ${r.why}: ${result.stdout}`);
        assert.match(result.stderr, ctrSays(r, signetHost));
        assert.deepEqual(direct(from), [], describeRequests(direct(from)));
      });
    }

    test('contrast: containerd before 1.7.32 refuses a hosts.toml without a [host] table and goes to the registry itself', async (t) => {
      const version = /Server:\s+Version:\s+v?(\d+)\.(\d+)\.(\d+)/.exec((await containerd.ctr(['version'])).stdout);
      assert.ok(version, 'ctr version names the server version');
      const [major, minor, patch] = version.slice(1).map(Number) as [number, number, number];
      // containerd 24007441d "Fix error parsing hosts.toml without any `host` tree" (1.7.32, 2.0)
      if (major > 1 || minor > 7 || (minor === 7 && patch >= 32)) {
        t.skip(`containerd ${major}.${minor}.${patch} parses it`);
        return;
      }
      const other = await makeTempDir('hosts-no-table');
      t.after(() => removeDir(other));
      await containerd.writeHostsFile(up.host, `server = "${signet.url}"\ncapabilities = ["pull", "resolve"]\n`, other);
      const from = up.requests().length;
      const result = await pull(`${up.host}/team/unsigned:${TAG}`, other);
      assert.equal(result.code, 0, `expected the unsigned image to be pulled from the registry itself: ${result.stderr}`);
      assert.ok(
        direct(from).some((r) => r.path === `/v2/team/unsigned/manifests/${TAG}`),
        describeRequests(up.requests().slice(from)),
      );
    });

    test('contrast: with the real registry as `server` and Signet as a [host], containerd falls back and pulls the unsigned image', async (t) => {
      const other = await makeTempDir('hosts-fallback');
      t.after(() => removeDir(other));
      await containerd.writeHostsFile(up.host, `server = "${up.url}"\n\n[host."${signet.url}"]\n  capabilities = ["pull", "resolve"]\n`, other);
      const from = up.requests().length;
      const result = await pull(`${up.host}/team/unsigned:${TAG}`, other);
      assert.equal(result.code, 0, `expected the fallback to succeed: ${result.stderr}`);
      assert.ok(
        direct(from).some((r) => r.path === `/v2/team/unsigned/manifests/${TAG}`),
        describeRequests(up.requests().slice(from)),
      );
    });
  });

  describe("dockerd, pulls by Signet's host name", () => {
    const connects = (from: number): FakeRequest[] => proxy.requests().slice(from);

    test('an allowed image is pulled through Signet', async () => {
      const [fromUp, fromProxy] = [up.requests().length, proxy.requests().length];
      const result = await dockerd.docker(['pull', `${signetHost}/team/ok:${TAG}`]);
      assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
      assert.deepEqual(direct(fromUp), [], describeRequests(direct(fromUp)));
      assert.deepEqual(connects(fromProxy), []);
    });

    for (const r of REFUSALS) {
      test(`${r.why}: the pull fails and only Signet reached the upstream`, async () => {
        const [fromUp, fromProxy] = [up.requests().length, proxy.requests().length];
        const result = await dockerd.docker(['pull', `${signetHost}/${r.repo}:${TAG}`]);
        assert.notEqual(result.code, 0, `pulled despite ${r.why}: ${result.stdout}`);
        assert.match(result.stderr, r.docker);
        assert.deepEqual(direct(fromUp), [], describeRequests(direct(fromUp)));
        assert.deepEqual(connects(fromProxy), [], describeRequests(connects(fromProxy)));
      });
    }

    test('contrast: with registry-mirrors, dockerd answers a denial by going to Docker Hub', async () => {
      const [fromUp, fromProxy] = [up.requests().length, proxy.requests().length];
      // docker.io/team/unsigned: the mirror (Signet, default upstream = the fake) denies it
      const result = await dockerd.docker(['pull', `team/unsigned:${TAG}`]);
      assert.notEqual(result.code, 0, result.stdout);
      assert.ok(
        connects(fromProxy).some((r) => r.method === 'CONNECT' && r.url === 'registry-1.docker.io:443'),
        `no fallback seen: ${describeRequests(connects(fromProxy))}\n${result.stderr}`,
      );
      assert.ok(
        up
          .requests()
          .slice(fromUp)
          .some((r) => r.path === `/v2/team/unsigned/manifests/${TAG}`),
        'Signet was asked first',
      );
    });
  });

  describe('containers/image (podman, CRI-O) registries.conf, through skopeo', () => {
    const inspect = async (conf: string, repo: string): Promise<RunResult> => {
      const path = join(dir, `registries-${String(Math.random()).slice(2)}.conf`);
      await writeFile(path, conf);
      return run('skopeo', ['--registries-conf', path, 'inspect', '--raw', '--retry-times=0', `docker://${up.host}/${repo}:${TAG}`], {
        timeoutMs: HANG_GUARD_MS,
      });
    };
    // The upstream's namespace rewritten to Signet: no mirror, so nothing to fall back to.
    const rewrite = (): string => `unqualified-search-registries = []\n\n[[registry]]\nprefix = "${up.host}"\nlocation = "${signetHost}"\ninsecure = true\n`;
    // Signet as a mirror of a blocked upstream: the mirror is tried, the upstream never.
    const mirror = (blocked: boolean): string =>
      `unqualified-search-registries = []\n\n[[registry]]\nprefix = "${up.host}"\nlocation = "${up.host}"\ninsecure = true\nblocked = ${blocked}\n\n[[registry.mirror]]\nlocation = "${signetHost}"\ninsecure = true\n`;

    // containers/image backs off 2+4+8+16 s on a 429 before it gives up (docker/docker_client.go
    // backoffInitialDelay, backoffNumIterations): the 429 case runs once, where a fallback exists.
    for (const [name, conf, refusals] of [
      ['location rewritten to Signet', rewrite, REFUSALS.filter((r) => r.code !== 'TOOMANYREQUESTS')],
      ['Signet as mirror, upstream blocked', () => mirror(true), REFUSALS],
    ] as const) {
      test(`${name}: an allowed image is read through Signet`, async () => {
        const from = up.requests().length;
        const result = await inspect(conf(), 'team/ok');
        assert.equal(result.code, 0, result.stderr);
        assert.deepEqual(direct(from), [], describeRequests(direct(from)));
      });

      test(`${name}: ${refusals.map((r) => r.statuses[0]).join(', ')}: the read fails and only Signet reached the upstream`, async () => {
        for (const r of refusals) {
          const from = up.requests().length;
          const result = await inspect(conf(), r.repo);
          assert.notEqual(result.code, 0, `read despite ${r.why}: ${result.stdout}`);
          assert.deepEqual(direct(from), [], `${r.why}: ${describeRequests(direct(from))}`);
        }
      });
    }

    test('contrast: Signet as mirror without `blocked`, the upstream is read directly', async () => {
      const from = up.requests().length;
      const result = await inspect(mirror(false), 'team/unsigned');
      assert.equal(result.code, 0, `expected the fallback to succeed: ${result.stderr}`);
      assert.ok(
        direct(from).some((r) => r.path === `/v2/team/unsigned/manifests/${TAG}`),
        describeRequests(up.requests().slice(from)),
      );
    });
  });
});

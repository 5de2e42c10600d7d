/**
 * `npm run demo`: Signet in a minute. Starts a local upstream registry, a notary-server and
 * Signet (enforcing), signs one tag with the real notary CLI, then pulls a signed tag (allowed)
 * and an unsigned one (denied) through Signet with skopeo, and asks `signet check` about both.
 * Everything runs on loopback in temp dirs and is stopped at the end.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { pushImage } from '../test/harness/images.js';
import { createNotaryCli } from '../test/harness/notary-cli.js';
import { startNotaryServer } from '../test/harness/notary-server.js';
import { run } from '../test/harness/process.js';
import { startRegistry } from '../test/harness/registry.js';
import { REPO_ROOT, startSignet } from '../test/harness/signet.js';
import { makeTempDir, removeDir } from '../test/harness/tmp.js';

const bold = (t: string): string => (process.stdout.isTTY ? `\x1b[1m${t}\x1b[0m` : t);
const step = (t: string): void => console.log(`\n${bold(`▸ ${t}`)}`);

async function main(): Promise<void> {
  const ensure = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'ensure-components.mjs')], { stdio: 'inherit' });
  if (ensure.status !== 0) process.exit(ensure.status ?? 1);

  step('Starting an upstream registry (distribution) and a trust server (notary-server)');
  const [registry, notary] = await Promise.all([startRegistry(), startNotaryServer({ tls: false })]);
  const cli = await createNotaryCli({ server: notary });
  const scratch = await makeTempDir('demo');
  let signet: Awaited<ReturnType<typeof startSignet>> | undefined;
  try {
    console.log(`  registry      ${registry.url}\n  notary-server ${notary.url}`);

    step('Pushing library/hello:1.0 and library/hello:2.0 to the registry');
    const signed = await pushImage(registry, 'library/hello', '1.0');
    const unsigned = await pushImage(registry, 'library/hello', '2.0');
    console.log(`  hello:1.0  ${signed.digest}\n  hello:2.0  ${unsigned.digest}`);

    step('Signing hello:1.0 with Docker Content Trust (notary init + addhash + publish)');
    await cli.init('docker.io/library/hello');
    await cli.addHash('docker.io/library/hello', '1.0', signed.size, signed.digest.slice('sha256:'.length));
    console.log('  trust data for docker.io/library/hello published; hello:2.0 stays unsigned');

    step('Starting Signet, enforcing, with docker.io mapped to the local registry');
    const extra = {
      upstreams: { 'docker.io': { trust: { notary: { url: notary.url } } } },
      policy: { default: 'enforce', rules: [{ match: 'docker.io/library/**', mode: 'enforce', require: { notary: { roots: { tofu: true } } } }] },
    };
    signet = await startSignet({ upstreams: { 'docker.io': { url: registry.url } }, defaultUpstream: 'docker.io', extra, dataDir: join(scratch, 'data') });
    console.log(`  signet      ${signet.url}  (config: ${signet.configPath})`);
    console.log(stringify({ upstreams: { 'docker.io': { url: registry.url, ...extra.upstreams['docker.io'] } }, policy: extra.policy }).replace(/^/gm, '    '));

    step(`Pulling the signed tag through Signet: skopeo copy docker://${signet.host}/library/hello:1.0`);
    const ok = await run('skopeo', [
      '--insecure-policy',
      'copy',
      '--src-tls-verify=false',
      `docker://${signet.host}/library/hello:1.0`,
      `oci:${join(scratch, 'pulled')}:1.0`,
    ]);
    console.log(ok.code === 0 ? `  ✔ allowed: served ${signed.digest}, the signed digest` : `  ✘ unexpected failure:\n${ok.stderr}`);

    step(`Pulling the unsigned tag through Signet: skopeo copy docker://${signet.host}/library/hello:2.0`);
    const denied = await run('skopeo', [
      '--insecure-policy',
      'copy',
      '--src-tls-verify=false',
      `docker://${signet.host}/library/hello:2.0`,
      `oci:${join(scratch, 'pulled2')}:2.0`,
    ]);
    const res = await fetch(`${signet.url}/v2/library/hello/manifests/2.0`);
    const body = (await res.json()) as { errors?: Array<{ code: string; message: string }> };
    console.log(
      denied.code !== 0 ? `  ✔ denied: HTTP ${res.status} ${body.errors?.[0]?.code}: ${body.errors?.[0]?.message}` : '  ✘ the unsigned tag was let through',
    );

    step('Asking signet check about both (exit 0 allowed, 1 denied)');
    for (const tag of ['1.0', '2.0']) {
      const check = await run(
        process.execPath,
        ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'check', `hello:${tag}`, '--config', signet.configPath],
        { cwd: REPO_ROOT },
      );
      console.log(`  $ signet check hello:${tag}   (exit ${check.code})\n${check.stdout.replace(/^/gm, '    ')}`);
    }

    step('Audit log (one JSON line per decision)');
    const decisions = (await signet.logLines()).filter((l) => l['audit'] === true);
    for (const d of decisions.slice(-4))
      console.log(`  ${JSON.stringify({ verdict: d['verdict'], reference: d['reference'], digest: d['digest'], reason: d['reason'] })}`);
  } finally {
    step('Stopping everything');
    await signet?.stop();
    await cli.close();
    await Promise.all([registry.stop(), notary.stop()]);
    await removeDir(scratch);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});

#!/usr/bin/env node
// Checks that the real components the e2e tests and benchmarks start are installed
// (`--bench` adds the benchmark's load generator, wrk)
// (Debian packages listed below). Installs them with apt-get when running as root on Debian;
// otherwise prints the install command and exits 1.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const BINARIES = [
  'docker-registry',
  'notary',
  'notary-server',
  'skopeo',
  'containerd',
  'ctr',
  'dockerd',
  'docker',
  'faketime',
  'htpasswd',
  'debootstrap',
  'redis-server',
  'radosgw',
  'radosgw-admin',
  'ceph-mon',
  'ceph-osd',
  'ceph-authtool',
  'monmaptool',
  'nginx',
  'chromium',
];
const PACKAGES = [
  'docker-registry',
  'notary',
  'skopeo',
  'containerd',
  'docker.io',
  'faketime',
  'apache2-utils',
  'debootstrap',
  'redis-server',
  'radosgw',
  'ceph-mon',
  'ceph-osd',
  'ceph-common',
  'nginx-light',
  'chromium',
];
if (process.argv.includes('--bench')) {
  BINARIES.push('wrk');
  PACKAGES.push('wrk');
}
const INSTALL_COMMAND = `apt-get update && apt-get install -y --no-install-recommends ${PACKAGES.join(' ')}`;

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

function missingBinaries() {
  return BINARIES.filter((name) => !onPath(name));
}

function runStreaming(cmd, args) {
  console.error(`+ ${cmd} ${args.join(' ')}`);
  const result = spawnSync(cmd, args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
  }
}

const missing = missingBinaries();
if (missing.length === 0) process.exit(0);

console.error(`ensure-components: missing on PATH: ${missing.join(', ')}`);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot || !existsSync('/etc/debian_version')) {
  console.error('Install them with:');
  console.error(`  ${INSTALL_COMMAND}`);
  process.exit(1);
}

try {
  runStreaming('apt-get', ['update']);
  runStreaming('apt-get', ['install', '-y', '--no-install-recommends', ...PACKAGES]);
} catch (err) {
  console.error(`ensure-components: ${err instanceof Error ? err.message : String(err)}`);
  console.error(`Install them with:\n  ${INSTALL_COMMAND}`);
  process.exit(1);
}

const stillMissing = missingBinaries();
if (stillMissing.length > 0) {
  console.error(`ensure-components: still missing after install: ${stillMissing.join(', ')}`);
  process.exit(1);
}

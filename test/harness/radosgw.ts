import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { poll } from './poll.js';
import { freePort } from './ports.js';
import { runOk, startProcess, type LongRunning } from './process.js';
import { makeTempDir, removeDir } from './tmp.js';

/**
 * Ceph radosgw (Debian's Ceph 16.2) as an S3-compatible object store: one monitor, one OSD
 * on memstore (data in RAM, lost on stop) and the gateway, all on 127.0.0.1 ports picked up
 * front, everything (config, keyrings, monitor store, logs, sockets, pid files) under one temp
 * dir. See RECIPES.md "S3-compatible object storage: Ceph radosgw".
 *
 * The daemons run in the foreground (`-f`) as children of the test process rather than
 * daemonised: process.ts then knows their pids (the same pids as in their pid files, which they
 * still write under the temp dir), stops them in `stop()`, and SIGKILLs them from its exit and
 * signal hooks when the test process is interrupted; tmp.ts removes the dir.
 */

export interface Radosgw {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** A client configured as RECIPES says (path style, checksums only when required). */
  client(): S3Client;
  /** Creates a bucket, waiting through the slow first operations of a fresh gateway. */
  createBucket(name: string): Promise<void>;
  /** The gateway's log (diagnostics). */
  log(): Promise<string>;
  stop(): Promise<void>;
}

/** radosgw's default zonegroup answers to any region name; this one is what clients sign with. */
const REGION = 'us-east-1';
const CLASS_DIR = '/usr/lib/x86_64-linux-gnu/rados-classes';
/** Hang guards, not assertions on speed (a fresh gateway creates its pools on first start). */
const START_TIMEOUT_MS = 90_000;
const FIRST_OPERATION_TIMEOUT_MS = 60_000;

/**
 * A cephx secret as ceph-authtool --gen-print-key makes it: base64 of type (u16 LE, 1 = AES),
 * creation time (u32 seconds, u32 nanoseconds), length (u16 LE, 16) and 16 random bytes.
 * Made here to spare three process starts.
 */
function cephxKey(): string {
  const header = Buffer.alloc(12);
  header.writeUInt16LE(1, 0);
  header.writeUInt32LE(Math.floor(Date.now() / 1000), 2);
  header.writeUInt32LE(0, 6);
  header.writeUInt16LE(16, 10);
  return Buffer.concat([header, randomBytes(16)]).toString('base64');
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startRadosgw(): Promise<Radosgw> {
  const dir = await makeTempDir('rgw');
  const started: LongRunning[] = [];
  const stopDaemons = async (): Promise<void> => {
    // Gateway first, monitor last: the others talk to it while they shut down.
    for (const daemon of started.reverse()) await daemon.stop().catch(() => undefined);
    started.length = 0;
  };
  try {
    const [monV2, monV1, rgwPort] = [await freePort(), await freePort(), await freePort()];
    const conf = join(dir, 'ceph.conf');
    const keyring = join(dir, 'keyring');
    for (const sub of ['run', 'log', 'mon', 'osd']) await mkdir(join(dir, sub));
    const fsid = randomUUID();
    const monAddrs = `[v2:127.0.0.1:${monV2},v1:127.0.0.1:${monV1}]`;
    await writeFile(
      conf,
      [
        '[global]',
        `fsid = ${fsid}`,
        `mon host = ${monAddrs}`,
        'mon initial members = a',
        'public addr = 127.0.0.1',
        'ms bind ipv6 = false',
        'auth cluster required = cephx',
        'auth service required = cephx',
        'auth client required = cephx',
        `keyring = ${keyring}`,
        `run dir = ${join(dir, 'run')}`,
        `admin socket = ${join(dir, 'run')}/$name.asok`,
        `log file = ${join(dir, 'log')}/$name.log`,
        `pid file = ${join(dir, 'run')}/$name.pid`,
        'log to stderr = false',
        `mon data = ${join(dir, 'mon')}/$id`,
        `osd data = ${join(dir, 'osd')}/$id`,
        'osd objectstore = memstore',
        'memstore device bytes = 2147483648',
        'osd pool default size = 1',
        'osd pool default min size = 1',
        'osd pool default pg num = 8',
        'osd pool default pgp num = 8',
        'osd pool default pg autoscale mode = off',
        'osd crush chooseleaf type = 0',
        'mon max pg per osd = 1000',
        'mon allow pool size one = true',
        `osd class dir = ${CLASS_DIR}`,
        '',
        '[client.rgw.a]',
        `rgw frontends = beast endpoint=127.0.0.1:${rgwPort}`,
        '',
      ].join('\n'),
    );
    // One keyring for every client and daemon. ceph-mon --mkfs imports the entities of its
    // keyring into the monitor's auth database (each needs caps, or the whole import fails), so
    // the gateway's key needs no `ceph auth` call later; the OSD's entity comes from `osd new`.
    const osdKey = cephxKey();
    const entities = [
      '[mon.]',
      `\tkey = ${cephxKey()}`,
      '\tcaps mon = "allow *"',
      '[client.admin]',
      `\tkey = ${cephxKey()}`,
      '\tcaps mon = "allow *"',
      '\tcaps osd = "allow *"',
      '\tcaps mgr = "allow *"',
      '\tcaps mds = "allow *"',
      '[client.rgw.a]',
      `\tkey = ${cephxKey()}`,
      '\tcaps mon = "allow rw"',
      '\tcaps osd = "allow rwx"',
    ];
    const monKeyring = join(dir, 'mon.keyring');
    await writeFile(monKeyring, [...entities, ''].join('\n'));
    await writeFile(keyring, [...entities, '[osd.0]', `\tkey = ${osdKey}`, ''].join('\n'));
    const c = ['-c', conf];
    const monmap = join(dir, 'monmap');
    await runOk('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', monAddrs, monmap, ...c]);
    await runOk('ceph-mon', [...c, '--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', monKeyring]);
    started.push(
      await startProcess('ceph-mon', [...c, '-f', '-i', 'a'], {
        logFile: join(dir, 'log', 'mon.out'),
        ready: () => listening(monV2),
        readyTimeoutMs: START_TIMEOUT_MS,
        graceMs: 5_000,
      }),
    );
    // The OSD's id and auth entity come from the monitor (`osd new` with the key we chose); the
    // cluster is fresh, so the id is 0.
    const osdUuid = randomUUID();
    const secret = join(dir, 'osd-secret.json');
    await writeFile(secret, JSON.stringify({ cephx_secret: osdKey }));
    const created = await runOk('ceph', [...c, '--connect-timeout', '60', 'osd', 'new', osdUuid, '-i', secret], { timeoutMs: START_TIMEOUT_MS });
    const osdId = created.stdout.trim();
    if (osdId !== '0') throw new Error(`ceph osd new gave id ${osdId}, expected 0`);
    await mkdir(join(dir, 'osd', '0'));
    await runOk('ceph-osd', [...c, '-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
    started.push(
      await startProcess('ceph-osd', [...c, '-f', '-i', '0'], {
        logFile: join(dir, 'log', 'osd.out'),
        ready: async () => (await readFile(join(dir, 'run', 'osd.0.pid'), 'utf8').catch(() => '')) !== '',
        readyTimeoutMs: START_TIMEOUT_MS,
        graceMs: 5_000,
      }),
    );
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    started.push(
      await startProcess('radosgw', [...c, '-f', '-n', 'client.rgw.a'], {
        logFile: join(dir, 'log', 'rgw.out'),
        // Any HTTP answer (an anonymous bucket listing) means the gateway has its pools.
        ready: async () => (await fetch(endpoint).catch(() => undefined)) !== undefined,
        readyTimeoutMs: START_TIMEOUT_MS,
        graceMs: 5_000,
      }),
    );
    const accessKeyId = randomBytes(10).toString('hex').toUpperCase();
    const secretAccessKey = randomBytes(20).toString('base64url');
    await runOk(
      'radosgw-admin',
      [...c, 'user', 'create', '--uid=signet', '--display-name=signet', `--access-key=${accessKeyId}`, `--secret-key=${secretAccessKey}`],
      { timeoutMs: START_TIMEOUT_MS },
    );
    const client = (): S3Client =>
      new S3Client({
        endpoint,
        region: REGION,
        credentials: { accessKeyId, secretAccessKey },
        forcePathStyle: true,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
    const admin = client();
    let stopped = false;
    return {
      endpoint,
      region: REGION,
      accessKeyId,
      secretAccessKey,
      client,
      async createBucket(name: string): Promise<void> {
        // The first bucket of a fresh gateway takes seconds (it creates its data pools).
        await poll(
          `bucket ${name}`,
          async () => {
            await admin.send(new CreateBucketCommand({ Bucket: name }));
            return true;
          },
          { timeoutMs: FIRST_OPERATION_TIMEOUT_MS },
        );
      },
      log: () => readFile(join(dir, 'log', 'client.rgw.a.log'), 'utf8').catch(() => ''),
      async stop(): Promise<void> {
        if (stopped) return;
        stopped = true;
        admin.destroy();
        await stopDaemons();
        await removeDir(dir);
      },
    };
  } catch (err) {
    await stopDaemons();
    await removeDir(dir);
    throw err;
  }
}

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../test/harness/ports.js';
import { startProcess, type LongRunning } from '../test/harness/process.js';
import { makeTempDir, removeDir } from '../test/harness/tmp.js';
import { peakRssBytes, resetPeakRss } from './proc-memory.js';

/**
 * CNCF distribution 2.8 (`docker-registry`) in pull-through mode (`proxy.remoteurl`): the peer
 * Signet is compared with. Configured like Signet in the benchmark and like Debian's stock
 * config: logs at warn with the access log off (test/harness/registry.ts logs every request at
 * info, which would cost it throughput Signet does not pay), the in-memory blob-descriptor
 * cache on. Every start gets a fresh storage dir: a new instance has empty caches.
 */

export interface DistributionProxy {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** 127.0.0.1:PORT */
  readonly host: string;
  readonly pid: number;
  readonly dataDir: string;
  // Closures over the process, not methods: callers pass them on unbound (own(proxy.stop)).
  readonly peakRssBytes: () => Promise<number>;
  readonly resetPeakRss: () => Promise<void>;
  readonly log: () => Promise<string>;
  readonly stop: () => Promise<void>;
}

export async function startDistributionProxy(remoteurl: string): Promise<DistributionProxy> {
  const dir = await makeTempDir('bdistproxy');
  const dataDir = join(dir, 'data');
  const configPath = join(dir, 'config.yml');
  const logFile = join(dir, 'registry.log');
  let proc: LongRunning | undefined;
  let port: number;
  try {
    await mkdir(dataDir);
    // At log level warn distribution does not print "listening on", so the port is chosen here.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const config = {
        version: 0.1,
        log: { level: 'warn', formatter: 'text', accesslog: { disabled: true } },
        storage: {
          filesystem: { rootdirectory: dataDir },
          cache: { blobdescriptor: 'inmemory' },
          delete: { enabled: true },
          maintenance: { uploadpurging: { enabled: false } },
        },
        http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex') },
        proxy: { remoteurl },
      };
      await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
      const probe = port;
      try {
        proc = await startProcess('docker-registry', ['serve', configPath], {
          logFile,
          graceMs: 5_000,
          ready: async () => {
            const res = await fetch(`http://127.0.0.1:${probe}/v2/`);
            await res.arrayBuffer();
            return res.status === 200;
          },
        });
        break;
      } catch (err) {
        const log = await readFile(logFile, 'utf8').catch(() => '');
        if (attempt >= 3 || !/address already in use/.test(log)) throw err;
      }
    }
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
  const running = proc;
  const host = `127.0.0.1:${port}`;
  return {
    url: `http://${host}`,
    host,
    pid: running.pid,
    dataDir,
    peakRssBytes: () => peakRssBytes(running.pid),
    resetPeakRss: () => resetPeakRss(running.pid),
    log: () => running.log(),
    stop: async () => {
      await running.stop();
      await removeDir(dir);
    },
  };
}

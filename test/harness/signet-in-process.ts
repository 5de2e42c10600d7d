import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { Signet } from '../../src/server/signet.js';
import { readMetric } from './metrics.js';
import { deepMerge, signetConfig, type SignetConfigOptions } from './signet-config.js';
import { makeTempDir, removeDir } from './tmp.js';

/**
 * Signet in the test process, on a port the OS picks, with its storage in a temp dir: for
 * integration tests that need to reach inside (its storage files) or to stop it at a chosen
 * moment. The config is the one a child-process Signet gets (signet-config.ts), parsed by
 * Signet's own loader; the audit log goes to a file so that it stays out of the test output.
 */

export interface InProcessSignet {
  /** http://127.0.0.1:PORT (https:// when the config has listen.tls) */
  readonly url: string;
  readonly port: number;
  /** http://127.0.0.1:PORT of the admin listener, when the config has admin.listen. */
  readonly adminUrl: string | undefined;
  /** Signet's storage directory. */
  readonly dataDir: string;
  /** The audit log file (policy.auditLog), unless the test's `extra` names another. */
  readonly auditLogPath: string;
  /** Sum of the samples of a metric whose labels include `labels` (GET /metrics, on the admin listener if there is one). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /**
   * Stops Signet, giving in-flight responses `graceMs` to finish, then removes its temp dir.
   * Idempotent: the first call decides the grace period.
   */
  stop(graceMs?: number): Promise<void>;
}

/** ms in-flight responses get when a test ends; the tests that care about shutdown pass their own. */
const DEFAULT_GRACE_MS = 200;

export async function startInProcessSignet(opts: SignetConfigOptions): Promise<InProcessSignet> {
  const dir = await makeTempDir('signet-ip');
  const dataDir = join(dir, 'data');
  const auditLogPath = join(dir, 'audit.log');
  try {
    const base = signetConfig({ ...opts, extra: undefined }, { port: 0, dataDir, logLevel: 'silent' });
    const config = deepMerge(deepMerge(base, { policy: { auditLog: auditLogPath } }), opts.extra ?? {});
    const parsed = parseConfig(stringify(config), join(dir, 'signet.yaml'), { env: {} });
    const signet = new Signet({ config: parsed, logger: pino({ level: 'silent' }) });
    const { port } = await signet.start();
    const url = `${parsed.listen.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    const admin = signet.adminAddress;
    const adminUrl = admin ? `http://127.0.0.1:${admin.port}` : undefined;
    let stopped: Promise<void> | undefined;
    return {
      url,
      port,
      adminUrl,
      dataDir,
      auditLogPath,
      metric: (name, labels) => readMetric(adminUrl ?? url, name, labels),
      stop: (graceMs = DEFAULT_GRACE_MS) => {
        stopped ??= signet.stop(graceMs).finally(() => removeDir(dir));
        return stopped;
      },
    };
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
}

import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { startProcess, type LongRunning } from './process.js';
import { makeTempDir, removeDir } from './tmp.js';

/**
 * redis-server (Debian package redis-server) in the foreground on a free loopback port, with
 * append-only persistence in a temp dir, as Signet's replicas expect it (`state.redis`).
 *
 * Pitfalls handled here:
 * - Ready means "answers PING with +PONG": while it replays its append-only file Redis accepts
 *   connections but answers -LOADING.
 * - `restart()` stops with SIGTERM, on which Redis flushes and fsyncs the append-only file before
 *   it exits; SIGKILL (`kill()`) may lose the last second of writes (appendfsync everysec).
 * - The port is chosen up front (Redis cannot report a port it picked) and reused on restart:
 *   Redis binds with SO_REUSEADDR, so the old socket in TIME_WAIT does not block it.
 */
export interface RedisServer {
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** Its working dir: the append-only files and its log. */
  readonly dir: string;
  running(): boolean;
  log(): Promise<string>;
  /** SIGTERM (the append-only file is flushed), then starts it again on the same port and dir. */
  restart(): Promise<void>;
  /** SIGKILL, as a crash; `restart()` starts it again. */
  kill(): Promise<void>;
  /** Stops it and removes its dir. */
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  /** More `redis-server` arguments, e.g. `['--requirepass', 'secret']`. */
  args?: readonly string[];
}

/** True once a Redis at `port` answers PING with PONG. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      // +PONG, or -NOAUTH when a password is required (it is up all the same).
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
  });
}

export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = await makeTempDir('redis');
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--daemonize', 'no', ...(options.args ?? [])];
  const start = (): Promise<LongRunning> =>
    startProcess('redis-server', args, {
      logFile: join(dir, 'redis.log'),
      ready: () => answersPing(port),
      readyTimeoutMs: 30_000,
      graceMs: 10_000,
    });
  let proc: LongRunning;
  try {
    proc = await start();
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    running: () => proc.running(),
    log: () => proc.log(),
    restart: async () => {
      await proc.stop();
      proc = await start();
    },
    kill: async () => {
      proc.child.kill('SIGKILL');
      await proc.stop(); // waits for the exit
    },
    stop: async () => {
      await proc.stop();
      await removeDir(dir);
    },
  };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A nats-server of the test's own (JetStream on, its own port and store folder), for tests that
 * break the server: stop it, restart it with the store kept or wiped. The shared server on 4222 is
 * never touched. Needs Debian's nats-server (or NATS_SERVER_BIN).
 */
export interface OwnNatsServer {
  /** nats://127.0.0.1:<port>; stays the same across restarts, so clients reconnect by themselves. */
  readonly url: string;
  readonly port: number;
  /** The JetStream store folder (a temporary one unless given). */
  readonly storeDir: string;
  /** Starts it again after stop(); resolves once it accepts clients. */
  start(): Promise<void>;
  /** SIGTERM (a clean shutdown) or SIGKILL (a crash); resolves once the process has exited. Idempotent. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** stop(), then an outage of `downMs` (default 0), optionally with the store wiped, then start(). */
  restart(opts?: { wipe?: boolean; downMs?: number }): Promise<void>;
  /** Stops it and removes the store folder if this helper made it. */
  dispose(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface OwnNatsServerOptions {
  /** Default: a free loopback port. */
  port?: number;
  /** Default: a new temporary folder, removed by dispose(). */
  storeDir?: string;
  /** How long start() waits for "Server is ready" (default 10 s). */
  startTimeoutMs?: number;
  /**
   * A config file of the test's own (e.g. an `authorization` block of users and permissions); the
   * command line still sets JetStream, the port and the store folder.
   */
  configFile?: string;
  /** Environment for the server, e.g. the passwords a config reads as $VARIABLES. */
  env?: Record<string, string>;
}

const BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

export async function startNatsServer(opts: OwnNatsServerOptions = {}): Promise<OwnNatsServer> {
  if (!existsSync(BIN)) throw new Error(`no nats-server at ${BIN}: install Debian's nats-server or set NATS_SERVER_BIN`);
  const port = opts.port ?? (await freePort());
  const ownDir = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? (await mkdtemp(join(tmpdir(), 'mlpipe-nats-')));
  const startTimeoutMs = opts.startTimeoutMs ?? 10_000;
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    if (child) return;
    await mkdir(storeDir, { recursive: true });
    const config = opts.configFile ? ['-c', opts.configFile] : [];
    const proc = spawn(BIN, [...config, '-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
    });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => fail(new Error(`nats-server on port ${port} not ready after ${startTimeoutMs} ms: ${log.slice(-500)}`)), startTimeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        proc.kill('SIGKILL');
        child = undefined;
        reject(err);
      };
      proc.once('error', fail);
      proc.once('exit', (code) => fail(new Error(`nats-server on port ${port} exited (${code}) before it was ready: ${log.slice(-500)}`)));
      proc.stderr?.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes('Server is ready')) {
          clearTimeout(timer);
          proc.removeAllListeners('exit');
          proc.stderr?.removeAllListeners('data');
          proc.stderr?.resume(); // keep draining its log so the pipe never fills
          resolve();
        }
      });
    });
  };

  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> => {
    const proc = child;
    if (!proc) return;
    child = undefined;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    const late = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(late);
  };

  const dispose = async (): Promise<void> => {
    await stop('SIGKILL');
    if (ownDir) await rm(storeDir, { recursive: true, force: true });
  };

  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    start,
    stop,
    restart: async ({ wipe = false, downMs = 0 } = {}) => {
      await stop();
      if (wipe) await rm(storeDir, { recursive: true, force: true });
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}

/** A loopback port nobody listens on right now. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

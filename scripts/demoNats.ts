/**
 * The demo's own nats-server (Debian's /usr/sbin/nats-server, or NATS_SERVER_BIN): JetStream, its own
 * port and store under the demo's folder, and the users of libs/bus/src/accounts.ts with passwords
 * made for this run. Each service the demo starts logs in as its own user, as in compose and Helm.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NATS_USERS, renderAuthorization, type NatsUser } from '@mlpipe/bus';

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

export interface DemoNats {
  url: string;
  process: ChildProcess;
  /** NATS_USER and NATS_PASSWORD for a user, to put in a process's environment. */
  credentials(user: NatsUser): { NATS_USER: string; NATS_PASSWORD: string };
  /** A file of NATS_URL, BUS_NAMESPACE, NATS_USER, NATS_PASSWORD lines for a CLI user (`env $(cat FILE) …`). */
  envFile(user: 'jobs-cli' | 'ops'): string;
}

export async function startDemoNats(o: { dir: string; port: number; namespace: string; logFile: string }): Promise<DemoNats> {
  if (!existsSync(NATS_SERVER_BIN)) throw new Error(`no nats-server at ${NATS_SERVER_BIN}: apt-get install nats-server (or set NATS_SERVER_BIN)`);
  mkdirSync(join(o.dir, 'store'), { recursive: true });
  const passwords = Object.fromEntries(NATS_USERS.map((u) => [u, randomBytes(18).toString('base64url')])) as Record<NatsUser, string>;
  const config = join(o.dir, 'auth.conf');
  writeFileSync(config, renderAuthorization({ namespace: o.namespace, passwords: Object.fromEntries(NATS_USERS.map((u) => [u, { literal: passwords[u] }])) }), { mode: 0o600 });
  const url = `nats://127.0.0.1:${o.port}`;
  const envFile = (user: 'jobs-cli' | 'ops') => {
    const file = join(o.dir, `${user}.env`);
    writeFileSync(file, `NATS_URL=${url}\nBUS_NAMESPACE=${o.namespace}\nNATS_USER=${user}\nNATS_PASSWORD=${passwords[user]}\n`, { mode: 0o600 });
    return file;
  };

  const child = spawn(NATS_SERVER_BIN, ['-c', config, '-js', '-a', '127.0.0.1', '-p', String(o.port), '-sd', join(o.dir, 'store')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log = createWriteStream(o.logFile);
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => fail(`not ready after 15 s`), 15_000);
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`the demo's nats-server on port ${o.port} ${why}: ${seen.trim().split('\n').slice(-3).join(' | ')} (log: ${o.logFile})`));
    };
    child.once('error', (err) => fail(`did not start (${err.message})`));
    child.once('exit', (code) => fail(`exited with ${code} before it was ready`));
    child.stderr?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      if (seen.length < 20_000) seen += chunk.toString();
      if (seen.includes('Server is ready')) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        child.removeAllListeners('error');
        resolve();
      }
    });
  });
  return { url, process: child, credentials: (user) => ({ NATS_USER: user, NATS_PASSWORD: passwords[user] }), envFile };
}

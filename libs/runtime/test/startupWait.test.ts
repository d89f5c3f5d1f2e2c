import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, connect as connectTcp, type Server, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connectBus } from '@mlpipe/bus';
import { ConfigError, eventually, TransientError } from '@mlpipe/common';
import { freePort, worthWaitingFor } from '@mlpipe/runtime';
import { createTestDatabase, startNatsServer, startS3Server, type OwnNatsServer } from '@mlpipe/testing';

const root = resolve(import.meta.dirname, '../../..');
const fixture = resolve(import.meta.dirname, 'fixtures/probeService.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface LogLine {
  level: number;
  time: number;
  msg: string;
  attempt?: number;
  dependency?: string;
}

/** The probe service (fixtures/probeService.ts) as a real process: its log lines, its stderr, how and when it exited. */
function startProbe(env: Record<string, string>) {
  const proc: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fixture], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
    const parts = stdout.split('\n');
    stdout = parts.pop() ?? '';
    for (const p of parts) if (p.trim()) lines.push(JSON.parse(p) as LogLine);
  });
  proc.stderr?.on('data', (d: Buffer) => void (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; at: number }>((done) => proc.once('exit', (code) => done({ code, at: Date.now() })));
  const url = `http://127.0.0.1:${env.HTTP_PORT}`;
  return {
    proc,
    lines,
    exited,
    stderrLines: () => stderr.split('\n').filter((l) => l.trim()),
    waits: (dependency: string) => lines.filter((l) => l.dependency === dependency && / unreachable: .*; next try in /.test(l.msg)),
    status: (path: string) => fetch(`${url}${path}`).then((r) => r.status, () => 0),
  };
}
type Probe = ReturnType<typeof startProbe>;

/** A TCP hop to a real server that refuses connections until open(): the server "comes up" then. */
async function lateProxy(targetPort: number) {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  return {
    port,
    open: () =>
      new Promise<void>((done) => {
        server = createServer((inbound) => {
          const outbound = connectTcp(targetPort, '127.0.0.1');
          for (const s of [inbound, outbound]) {
            sockets.add(s);
            s.on('error', () => (inbound.destroy(), outbound.destroy()));
            s.on('close', () => sockets.delete(s));
          }
          inbound.pipe(outbound).pipe(inbound);
        }).listen(port, '127.0.0.1', done);
      }),
    close: () => new Promise<void>((done) => (sockets.forEach((s) => s.destroy()), server ? server.close(() => done()) : done())),
  };
}

const probes: Probe[] = [];
const track = (p: Probe) => (probes.push(p), p);
afterEach(() => {
  for (const p of probes.splice(0)) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
});

describe('worthWaitingFor', () => {
  // Shaped as our clients throw them (libs/bus, libs/db, libs/storage wrap a connect's failure in a TransientError).
  const wrapped = (cause: unknown) => new TransientError('cannot reach NATS at nats://127.0.0.1:4222', { cause });
  const named = (name: string, message: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), { name }, extra);

  it('waits out a server that is down, not there yet or starting up', () => {
    expect(worthWaitingFor(wrapped(named('ConnectionError', 'connection refused', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) })))).toBe(true);
    expect(worthWaitingFor(wrapped(Object.assign(new Error('getaddrinfo ENOTFOUND nats'), { code: 'ENOTFOUND' })))).toBe(true);
    expect(worthWaitingFor(wrapped(Object.assign(new Error('the database system is starting up'), { code: '57P03' })))).toBe(true);
    expect(worthWaitingFor(new TransientError('object store unreachable', { cause: Object.assign(new Error('ECONNRESET'), { code: 'ECONNRESET' }) }))).toBe(true);
  });

  it('does not wait for a wrong setting, however it is wrapped', () => {
    expect(worthWaitingFor(wrapped(named('AuthorizationError', 'Authorization Violation')))).toBe(false);
    expect(worthWaitingFor(wrapped(Object.assign(new TypeError('Invalid URL'), { code: 'ERR_INVALID_URL' })))).toBe(false);
    expect(worthWaitingFor(wrapped(Object.assign(new Error('role "nobody" does not exist'), { code: '28000' })))).toBe(false);
    expect(worthWaitingFor(wrapped(Object.assign(new Error('password authentication failed'), { code: '28P01' })))).toBe(false);
    expect(worthWaitingFor(Object.assign(new Error('The Access Key Id you provided does not exist'), { code: 'InvalidAccessKeyId' }))).toBe(false);
    expect(worthWaitingFor(new ConfigError('no such bucket region'))).toBe(false);
  });
});

describe('a service started while its dependencies are down', () => {
  let nats: OwnNatsServer | undefined;
  afterAll(async () => {
    await nats?.dispose();
  });

  it('waits for NATS (alive, not ready, one line per try), comes up once the server starts 3 s later, and serves', async () => {
    // Given a NATS server of the test's own that is stopped when the service starts ...
    nats = await startNatsServer();
    await nats.stop();
    const namespace = `wait${randomBytes(4).toString('hex')}`;
    const probe = track(startProbe({ NATS_URL: nats.url, BUS_NAMESPACE: namespace, HTTP_PORT: String(await freePort()), STARTUP_WAIT_MS: '60000', PROBE_NEEDS: 'bus' }));

    // ... the service waits instead of exiting: alive, not ready, saying what it waits for.
    await eventually(() => probe.waits('NATS').length >= 1, 20_000, 'the first wait line');
    expect(await probe.status('/healthz')).toBe(200);
    expect(await probe.status('/readyz')).toBe(503);
    expect(probe.waits('NATS')[0]!.msg).toMatch(/^NATS unreachable: cannot reach NATS at nats:\/\/127\.0\.0\.1:\d+.*; next try in 0\.5 s \(try 1, giving up in \d+(\.\d)? s\)$/);
    await sleep(3000);
    expect(probe.proc.exitCode).toBeNull();
    expect(await probe.status('/readyz')).toBe(503);

    // When the server starts, the service connects at its next try, becomes ready and answers.
    await nats.start();
    const back = Date.now();
    await eventually(async () => (await probe.status('/readyz')) === 200, 15_000, 'the probe to be ready');
    const readyAfterMs = Date.now() - back;
    expect(readyAfterMs).toBeLessThan(6000); // one pause at most (they double up to 5 s)
    const client = await connectBus({ url: nats.url, name: 'wait-test', namespace });
    try {
      expect(new TextDecoder().decode((await client.nc.request(`${namespace}.probe.ping`, '', { timeout: 5000 })).data)).toBe('pong');
    } finally {
      await client.close();
    }
    const tries = probe.waits('NATS').map((l) => l.attempt);
    expect(tries.length).toBeGreaterThanOrEqual(3);
    expect(tries).toEqual(tries.map((_, i) => i + 1));
    expect(probe.lines.some((l) => l.msg === 'probe serving: answering pings')).toBe(true);
    console.info(`NATS started 3 s after the first wait line; ready ${readyAfterMs} ms after it; ${tries.length} waits logged`);

    probe.proc.kill('SIGTERM');
    expect((await probe.exited).code).toBe(0);
    expect(probe.stderrLines()).toEqual([]);
  }, 60_000);

  it('past a budget of 2 s with no NATS, exits 1 with one readable line', async () => {
    const port = await freePort(); // nobody listens there
    const probe = track(startProbe({ NATS_URL: `nats://127.0.0.1:${port}`, HTTP_PORT: String(await freePort()), STARTUP_WAIT_MS: '2000', PROBE_NEEDS: 'bus' }));
    const { code, at } = await probe.exited;
    expect(code).toBe(1);
    expect(probe.stderrLines()).toEqual([expect.stringMatching(new RegExp(`^probe: gave up waiting for NATS after 2 s \\(STARTUP_WAIT_MS=2000\\): cannot reach NATS at nats://127\\.0\\.0\\.1:${port}.*\\((connect ECONNREFUSED|connection refused)`))]);
    const waits = probe.waits('NATS');
    expect(waits.length).toBeGreaterThanOrEqual(3); // tries at 0, 0.5, 1.5 s, and a last one at 2 s
    // The budget starts just before the first try fails, right before the first wait line.
    const waitedMs = at - waits[0]!.time;
    expect(waitedMs).toBeGreaterThan(1800);
    expect(waitedMs).toBeLessThan(3500);
    console.info(`gave up ${waitedMs} ms after the first wait line, after ${waits.length} waits`);
  }, 30_000);

  it('a stop request (SIGTERM) while it waits ends the wait at once', async () => {
    const probe = track(startProbe({ NATS_URL: `nats://127.0.0.1:${await freePort()}`, HTTP_PORT: String(await freePort()), STARTUP_WAIT_MS: '60000', PROBE_NEEDS: 'bus' }));
    await eventually(() => probe.waits('NATS').length >= 2, 20_000, 'waits for NATS');
    const asked = Date.now();
    probe.proc.kill('SIGTERM');
    const { code, at } = await probe.exited;
    expect(code).toBe(0);
    expect(at - asked).toBeLessThan(2000);
    expect(probe.stderrLines()).toEqual([]);
  }, 30_000);

  it('a permanent failure (a login PostgreSQL rejects, a NATS that refuses the credentials) exits at once, naming the reason', async () => {
    const spawned = Date.now();
    const rejected = track(startProbe({ DATABASE_URL: 'postgres://nosuchrole@127.0.0.1:5432/mlpipe_wait_test', HTTP_PORT: String(await freePort()), STARTUP_WAIT_MS: '60000', PROBE_NEEDS: 'db' }));
    const authServer = await startAuthNats();
    try {
      const refused = track(startProbe({ NATS_URL: `nats://wrong:creds@127.0.0.1:${authServer.port}`, HTTP_PORT: String(await freePort()), STARTUP_WAIT_MS: '60000', PROBE_NEEDS: 'bus' }));
      const [pgExit, natsExit] = await Promise.all([rejected.exited, refused.exited]);
      expect([pgExit.code, natsExit.code]).toEqual([1, 1]);
      // Well inside the 60 s budget: only the processes' own start-up (tsx, imports) takes time.
      expect(Math.max(pgExit.at, natsExit.at) - spawned).toBeLessThan(20_000);
      const failedAt = (p: Probe) => p.lines.find((l) => l.msg === 'start-up failed')!.time;
      expect(pgExit.at - failedAt(rejected)).toBeLessThan(2000);
      expect(rejected.stderrLines()).toEqual([expect.stringMatching(/^probe: cannot reach PostgreSQL at .* \(role "nosuchrole" does not exist\)$/)]);
      expect(refused.stderrLines()).toEqual([expect.stringMatching(/^probe: cannot reach NATS at .* \(Authorization Violation\)$/)]);
      expect([rejected.waits('PostgreSQL'), refused.waits('NATS')]).toEqual([[], []]);
    } finally {
      authServer.stop();
    }
  }, 30_000);

  it('waits for PostgreSQL and the store the same way, and uses both once they answer', async () => {
    const db = await createTestDatabase();
    const s3 = await startS3Server();
    const pgHop = await lateProxy(5432);
    const s3Hop = await lateProxy(Number(new URL(s3.endpoint).port));
    try {
      const url = new URL(db.url);
      url.port = String(pgHop.port);
      const probe = track(
        startProbe({
          DATABASE_URL: url.toString(),
          STORE_KIND: 's3',
          S3_ENDPOINT: `http://127.0.0.1:${s3Hop.port}`,
          S3_ACCESS_KEY: s3.accessKey,
          S3_SECRET_KEY: s3.secretKey,
          S3_BUCKET: 'probe-wait',
          HTTP_PORT: String(await freePort()),
          STARTUP_WAIT_MS: '60000',
          PROBE_NEEDS: 'db,store',
        }),
      );
      // PostgreSQL first (the order of start-up), then the store; each one's waits end when it answers.
      await eventually(() => probe.waits('PostgreSQL').length >= 2, 20_000, 'waits for PostgreSQL');
      expect(await probe.status('/readyz')).toBe(503);
      await pgHop.open();
      await eventually(() => probe.waits('the object store (s3://probe-wait at http://127.0.0.1:' + s3Hop.port + ')').length >= 2, 15_000, 'waits for the store');
      const pgWaits = probe.waits('PostgreSQL').length;
      expect(await probe.status('/readyz')).toBe(503);
      await s3Hop.open();
      await eventually(async () => (await probe.status('/readyz')) === 200, 15_000, 'the probe to be ready');
      expect(probe.waits('PostgreSQL')).toHaveLength(pgWaits);
      expect(probe.lines.some((l) => l.msg === 'probe serving: postgres says 1, the store says hello')).toBe(true);
      probe.proc.kill('SIGTERM');
      expect((await probe.exited).code).toBe(0);
    } finally {
      await pgHop.close();
      await s3Hop.close();
      await s3.close();
      await db.drop();
    }
  }, 60_000);
});

/** A nats-server of this test's own that wants a user and password (startNatsServer takes no auth settings). */
async function startAuthNats(): Promise<{ port: number; stop(): void }> {
  const port = await freePort();
  const proc = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port), '--user', 'mlpipe', '--pass', 'right'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let said = '';
  await new Promise<void>((ready, failed) => {
    proc.stderr.on('data', (d: Buffer) => ((said += d.toString()), said.includes('Server is ready') && ready()));
    proc.once('exit', (code) => failed(new Error(`nats-server exited (${code}): ${said.slice(-300)}`)));
  });
  return { port, stop: () => void proc.kill('SIGKILL') };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishEvent } from '@mlpipe/bus';
import { eventually } from '@mlpipe/common';
import { createLogger, createMetricsRegistry, freePort } from '@mlpipe/runtime';
import { createModel, initBackend, PIXELS } from '@mlpipe/ml';
import { parseIdx, readSeedFile } from '@mlpipe/dataset';
import { createTestBus, startLiveRegistry, type LiveRegistry, type TestBus } from '@mlpipe/testing';
import { startRegistry, type RunningRegistry } from '@mlpipe/registry/service';
import { startGateway } from '../src/service';
import { decideAliasRefresh } from '../src/core/aliasRefresh';
import { counterValue, startBreakableProxy } from './faults';

const logger = createLogger('resync-test', 'silent');
const root = resolve(import.meta.dirname, '../../..');
const images = parseIdx(readSeedFile('mnist', 't10k-images-idx3-ubyte')).data;
const pixels = (i: number) => Array.from(images.subarray(i * PIXELS, (i + 1) * PIXELS));

/**
 * A nats-server of this test's own (port, JetStream store), so it can be killed and started again
 * without touching the shared one. The store folder outlives a stop, as on a real restart. (The
 * same shape as @mlpipe/testing's startNatsServer, which was not yet in the tree when this was written.)
 */
async function startOwnNats() {
  const port = await freePort();
  const storeDir = await mkdtemp(join(tmpdir(), 'mlpipe-nats-'));
  let child: ChildProcess | undefined;
  const start = async () => {
    const proc = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let said = '';
    await new Promise<void>((ready, failed) => {
      proc.stderr.on('data', (d: Buffer) => {
        said += d.toString();
        if (said.includes('Server is ready')) ready();
      });
      proc.once('exit', (code) => failed(new Error(`nats-server exited (${code}) before it was ready: ${said.slice(-500)}`)));
    });
  };
  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') => {
    const proc = child;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((done) => proc.once('exit', done));
    proc.kill(signal);
    await exited;
  };
  await start();
  return { url: `nats://127.0.0.1:${port}`, start, stop, dispose: async () => (await stop('SIGKILL'), await rm(storeDir, { recursive: true, force: true })) };
}

describe('decideAliasRefresh', () => {
  it('moves on a different version, keeps the same, drops an alias the registry lost, and never gives up a model on a failed read', () => {
    expect(decideAliasRefresh(1, { kind: 'version', version: 2 })).toMatchObject({ action: 'move', to: 2 });
    expect(decideAliasRefresh(2, { kind: 'version', version: 2 })).toMatchObject({ action: 'keep' });
    expect(decideAliasRefresh(2, { kind: 'absent' })).toMatchObject({ action: 'drop' });
    expect(decideAliasRefresh(2, { kind: 'failed', reason: 'the registry did not answer' })).toMatchObject({ action: 'retry', reason: expect.stringMatching(/keeping v2/) });
  });
});

describe('the gateway re-reads its aliases after a NATS outage and every TTL', () => {
  let live: LiveRegistry<RunningRegistry>;

  const setChampion = async (version: number) => {
    const r = await live.registry.app.inject({ method: 'POST', url: '/models/mnist/aliases/champion', headers: { authorization: `Bearer ${(await live.registry.tokens.create('gateway-test', 'admin')).token}` }, payload: { version, reason: 'resync test' } });
    expect(r.statusCode).toBe(200);
  };

  beforeAll(async () => {
    await initBackend('wasm');
    live = await startLiveRegistry(startRegistry);
    // Untrained models serve well enough: the test reads which version answered, not what it said.
    await live.publishModel('job-1', createModel('cnn-small', { seed: 1 }), { accuracy: 0.5 });
    await live.waitForChampion();
    await live.publishModel('job-2', createModel('cnn-small', { seed: 2 }), { accuracy: 0.4 });
    await eventually(async () => (await live.registry.app.inject({ method: 'GET', url: '/models/mnist' })).json().versionList?.length === 2, 20_000, 'version 2 registered');
  }, 60_000);
  afterAll(async () => {
    await live?.close();
  });

  describe('a gateway process on a NATS server that goes away', () => {
    let nats: Awaited<ReturnType<typeof startOwnNats>>;
    let side: TestBus | undefined;
    let gateway: ChildProcess | undefined;
    let log = '';

    afterAll(async () => {
      gateway?.kill('SIGKILL');
      await side?.dispose();
      await nats?.dispose();
    });

    it('serves and stays ready through the outage, then serves the champion moved meanwhile within seconds of the reconnect', async () => {
      await setChampion(1);
      nats = await startOwnNats();
      // A second connection, with the gateway's namespace and streams, to publish on after the restart.
      side = await createTestBus(nats.url);
      const namespace = side.namespace;
      const port = await freePort();
      const store = await mkdtemp(join(tmpdir(), 'mlpipe-resync-store-'));
      // The TTL is far away: only the reconnect (or an event) can explain a new version being served.
      gateway = spawn(process.execPath, ['--import', 'tsx', join(root, 'services/gateway/src/main.ts')], {
        cwd: root,
        env: { ...process.env, NATS_URL: nats.url, BUS_NAMESPACE: namespace, REGISTRY_URL: live.url, HTTP_PORT: String(port), LOG_LEVEL: 'info', GATEWAY_ALIAS_TTL_MS: '600000', PREDICTION_SAMPLE_SHARE: '0', STORE_ROOT: store },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      gateway.stdout?.on('data', (d: Buffer) => void (log += d.toString()));
      gateway.stderr?.on('data', (d: Buffer) => void (log += d.toString()));
      const url = `http://127.0.0.1:${port}`;
      await eventually(() => fetch(`${url}/readyz`).then((r) => r.ok, () => false), 40_000, 'the gateway process to be ready');
      const served = async (i = 0) => {
        const res = await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pixels: pixels(i), range: 'byte' }) });
        expect(res.status).toBe(200);
        return ((await res.json()) as { version: number }).version;
      };
      expect(await served()).toBe(1);

      // Given NATS is gone and the champion moves meanwhile (its event can never reach this gateway) ...
      await nats.stop('SIGKILL'); // a crash, not a goodbye: the gateway sees its socket drop
      await setChampion(2);
      // ... inference needs no NATS: the replica keeps answering with what it has, and says it is ready.
      const during = await Promise.all(Array.from({ length: 20 }, (_, i) => served(i)));
      expect(new Set(during)).toEqual(new Set([1]));
      await new Promise((r) => setTimeout(r, 2000));
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      expect((await fetch(`${url}/v2/health/ready`)).status).toBe(200);
      expect(await served()).toBe(1); // without a reconnect nothing re-reads the alias: this is the stale champion

      // When NATS is back, the gateway reads its aliases again and serves the new champion.
      await nats.start();
      const back = Date.now();
      await eventually(async () => (await served()) === 2, 10_000, 'v2 served after the reconnect');
      const healedMs = Date.now() - back;
      expect(healedMs).toBeLessThan(8000);
      // The log says why (written just after the switch, so it may trail the first answer).
      await eventually(() => /NATS is back: reading the served aliases again/.test(log) && /"trigger":"reconnect"[^\n]*alias refresh: the registry says v2, held v1/.test(log), 5000, 'the reconnect refresh in the log');

      // The live subscription came back with the connection: an event published now is heard.
      await eventually(() => side!.connection.connected(), 10_000, 'the second connection back');
      await setChampion(1);
      await publishEvent(side, 'model.alias.changed', { modelName: 'mnist', alias: 'champion', version: 1, previousVersion: 2, reason: 'resync test', actor: 'test' }, { source: 'test' });
      await eventually(async () => (await served()) === 1, 5000, 'v1 served after a live alias event');
      await rm(store, { recursive: true, force: true });
    }, 90_000);
  });

  describe('an in-process gateway whose alias events never arrive', () => {
    let bus: TestBus;
    let proxy: Awaited<ReturnType<typeof startBreakableProxy>>;
    beforeAll(async () => {
      // Its own namespace on the shared server: the registry's alias events are published elsewhere.
      bus = await createTestBus();
      proxy = await startBreakableProxy(live.url);
    });
    afterAll(async () => {
      await proxy?.close();
      await bus?.dispose();
    });

    it('picks up a move within the TTL, keeps serving through a registry outage, and catches up when it answers again', async () => {
      await setChampion(1);
      const ttlMs = 400;
      const metrics = createMetricsRegistry('resync');
      const gateway = startGateway({ registryUrl: proxy.url, bus, logger, metrics, aliasTtlMs: ttlMs });
      const served = async (i = 0) => {
        const res = await gateway.app.inject({ method: 'POST', url: '/predict', payload: { pixels: pixels(i), range: 'byte' } });
        expect(res.statusCode, res.body).toBe(200);
        return res.json().version as number;
      };
      try {
        expect(await served()).toBe(1);

        await setChampion(2);
        const moved = Date.now();
        await eventually(async () => (await served()) === 2, 5000, 'v2 within the TTL');
        const pickedUpMs = Date.now() - moved;
        expect(pickedUpMs).toBeLessThan(ttlMs + 1500); // one tick, plus loading v2
        expect(await counterValue(metrics, 'mlpipe_alias_refresh_total', { trigger: 'ttl', outcome: 'moved' })).toBe(1);

        // The registry goes away for several ticks: each failed read is counted, and v2 keeps answering.
        proxy.setBroken(true);
        const failedBefore = await counterValue(metrics, 'mlpipe_alias_refresh_total', { outcome: 'failed' });
        await setChampion(1);
        const until = Date.now() + 5 * ttlMs;
        while (Date.now() < until) expect(await served()).toBe(2);
        expect(await counterValue(metrics, 'mlpipe_alias_refresh_total', { outcome: 'failed' })).toBeGreaterThanOrEqual(failedBefore + 3);

        proxy.setBroken(false);
        const repaired = Date.now();
        await eventually(async () => (await served()) === 1, 5000, 'v1 once the registry answers again');
        expect(Date.now() - repaired).toBeLessThan(ttlMs + 1500);
      } finally {
        await gateway.stop();
      }
    }, 60_000);

    it('a refresh never writes back over an alias event that came during it', async () => {
      await setChampion(1);
      const gateway = startGateway({ registryUrl: live.url, bus, logger, metrics: createMetricsRegistry('fence'), aliasTtlMs: 600_000 });
      try {
        await gateway.models.get({ name: 'mnist', alias: 'champion' });
        const [held] = gateway.models.heldAliases();
        expect(held).toMatchObject({ name: 'mnist', alias: 'champion', version: 1 });
        gateway.models.aliasChanged('mnist', 'champion', 1); // an event (back to v1) arrives while the refresh is loading v2
        expect(await gateway.models.moveAlias(held!, 2)).toBe(false);
        expect(gateway.models.heldAliases()).toEqual([{ name: 'mnist', alias: 'champion', version: 1, epoch: held!.epoch + 1 }]);
        expect((await gateway.models.get({ name: 'mnist', alias: 'champion' })).version).toBe(1);
      } finally {
        await gateway.stop();
      }
    });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishEvent } from '@mlpipe/bus';
import { eventually } from '@mlpipe/common';
import { storeKeys, type ModelVersionRegistered } from '@mlpipe/contracts';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { createModel, initBackend, PIXELS } from '@mlpipe/ml';
import { parseIdx, readSeedFile } from '@mlpipe/dataset';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { createTestBus, startLiveRegistry, startS3Server, type LiveRegistry, type TestBus } from '@mlpipe/testing';
import { startRegistry, type RunningRegistry } from '@mlpipe/registry/service';
import { startGateway, type RunningGateway } from '../src/service';
import { decideAliasRefresh } from '../src/core/aliasRefresh';
import { counterValue, startBreakableHop, startBreakableProxy } from './faults';

const logger = createLogger('alias-events-test', 'silent');
const images = parseIdx(readSeedFile('mnist', 't10k-images-idx3-ubyte')).data;
const pixels = (i: number) => Array.from(images.subarray(i * PIXELS, (i + 1) * PIXELS));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('decideAliasRefresh with a version named but not loaded yet', () => {
  it('tries that version again when the registry cannot be asked, and lets the registry overrule it', () => {
    const failed = { kind: 'failed', reason: 'the registry did not answer' } as const;
    expect(decideAliasRefresh(1, failed, 2)).toMatchObject({ action: 'move', to: 2 });
    expect(decideAliasRefresh(1, failed)).toMatchObject({ action: 'retry' });
    expect(decideAliasRefresh(1, { kind: 'version', version: 3 }, 2)).toMatchObject({ action: 'move', to: 3 });
    expect(decideAliasRefresh(1, { kind: 'version', version: 1 }, 2)).toMatchObject({ action: 'keep', reason: expect.stringMatching(/v2, named before, is no longer wanted/) });
    expect(decideAliasRefresh(1, { kind: 'absent' }, 2)).toMatchObject({ action: 'drop' });
  });
});

/**
 * A gateway whose alias events arrive while the registry cannot be reached. The registry and the
 * gateway share one S3 store (a real S3 API behind a hop the test can take down), as in a deployment.
 */
describe('an alias event never unloads a working model', () => {
  let live: LiveRegistry<RunningRegistry>;
  let bus: TestBus;
  let registryHop: Awaited<ReturnType<typeof startBreakableProxy>>;
  let s3: Awaited<ReturnType<typeof startS3Server>>;
  let storeHop: Awaited<ReturnType<typeof startBreakableHop>>;
  let store: ObjectStore;
  const registered = new Map<number, ModelVersionRegistered>();

  const setChampion = async (version: number) => {
    const r = await live.registry.app.inject({ method: 'POST', url: '/models/mnist/aliases/champion', headers: { authorization: `Bearer ${(await live.registry.tokens.create('gateway-test', 'admin')).token}` }, payload: { version, reason: 'alias event test' } });
    expect(r.statusCode).toBe(200);
  };
  /** What the registry publishes with the move; its own events go to its own namespace, so the test hands the gateway its copy. */
  const announceMove = (version: number, previousVersion: number) =>
    publishEvent(bus, 'model.alias.changed', { modelName: 'mnist', alias: 'champion', version, previousVersion, reason: 'alias event test', actor: 'test' }, { source: 'test' });
  const announceRegistration = (version: number) => publishEvent(bus, 'model.version.registered', registered.get(version)!, { source: 'test' });
  const servedBy = (gateway: RunningGateway) => async (i = 0) => {
    const res = await gateway.app.inject({ method: 'POST', url: '/predict', payload: { pixels: pixels(i), range: 'byte' } });
    expect(res.statusCode, res.body).toBe(200);
    return res.json().version as number;
  };

  beforeAll(async () => {
    await initBackend('wasm');
    live = await startLiveRegistry(startRegistry);
    // Untrained models serve well enough: the test reads which version answered, not what it said.
    await live.publishModel('job-1', createModel('cnn-small', { seed: 1 }), { accuracy: 0.5 });
    await live.waitForChampion();
    await live.publishModel('job-2', createModel('cnn-small', { seed: 2 }), { accuracy: 0.4 });
    await eventually(async () => (await live.registry.app.inject({ method: 'GET', url: '/models/mnist' })).json().versionList?.length === 2, 20_000, 'version 2 registered');
    bus = await createTestBus();
    registryHop = await startBreakableProxy(live.url);
    s3 = await startS3Server();
    storeHop = await startBreakableHop(Number(new URL(s3.endpoint).port));
    store = createObjectStore({ kind: 's3', endpoint: `http://127.0.0.1:${storeHop.port}`, bucket: 'alias-events', accessKey: s3.accessKey, secretKey: s3.secretKey, region: 'us-east-1' });
    await store.ensureReady();
    for (const version of [1, 2]) {
      const record = (await live.registry.app.inject({ method: 'GET', url: `/models/mnist/versions/${version}` })).json() as ModelVersionRegistered & { runId: string };
      for (const file of ['modelJson', 'weights'] as const) {
        const key = storeKeys.artefact(record.artefactPrefix, file);
        await store.put(key, await live.store.get(key));
      }
      registered.set(version, {
        modelName: 'mnist', version, runId: record.runId, jobId: record.runId, testAccuracy: record.testAccuracy, datasetVersion: record.datasetVersion,
        trainSamples: record.trainSamples, artefactPrefix: record.artefactPrefix, decision: { outcome: version === 1 ? 'champion' : 'challenger', reason: 'alias event test' },
      });
    }
  }, 90_000);
  afterAll(async () => {
    await storeHop?.close();
    await s3?.close();
    await registryHop?.close();
    await bus?.dispose();
    await live?.close();
  });

  it('with the registry unreachable, an event for a version whose files are in the store: that version is served, every request answered meanwhile', async () => {
    await setChampion(1);
    const metrics = createMetricsRegistry('event-switch');
    // The TTL is far away: only the event can explain a new version being served.
    const gateway = startGateway({ registryUrl: registryHop.url, bus, logger, metrics, aliasTtlMs: 600_000, store });
    const served = servedBy(gateway);
    try {
      expect(await served()).toBe(1);
      // Given v2's registration was heard (it carries where its files are) and the registry then went away ...
      await announceRegistration(2);
      registryHop.setBroken(true);
      await setChampion(2);
      // ... when its move is announced, the gateway loads v2 from the store and switches; no request fails.
      await announceMove(2, 1);
      const announced = Date.now();
      await eventually(async () => (await served()) === 2, 10_000, 'v2 served after its alias event');
      console.info(`registry unreachable: v2 served ${Date.now() - announced} ms after its alias event`);
      expect(await counterValue(metrics, 'mlpipe_alias_refresh_total', { trigger: 'event', outcome: 'moved' })).toBe(1);
      expect(await served(1)).toBe(2);
    } finally {
      registryHop.setBroken(false);
      await gateway.stop();
    }
  }, 30_000);

  it('with the store unreachable too, the old version keeps answering; the switch happens within the TTL once the store is back', async () => {
    await setChampion(1);
    const metrics = createMetricsRegistry('event-retry');
    const ttlMs = 400;
    // A cache of one: loading v2 must not unload the v1 that answers meanwhile.
    const gateway = startGateway({ registryUrl: registryHop.url, bus, logger, metrics, aliasTtlMs: ttlMs, store, cacheSize: 1 });
    const served = servedBy(gateway);
    const failed = (trigger: string) => counterValue(metrics, 'mlpipe_alias_refresh_total', { trigger, outcome: 'failed' });
    try {
      expect(await served()).toBe(1);
      await announceRegistration(2);
      registryHop.setBroken(true);
      await storeHop.down();
      await setChampion(2);
      await announceMove(2, 1);
      await eventually(async () => (await failed('event')) === 1, 10_000, 'the event switch to fail');

      // The registry and the store stay away for several ticks: v1 answers every request, and each tick tries v2 again.
      const until = Date.now() + 5 * ttlMs;
      while (Date.now() < until) expect(await served()).toBe(1);
      expect(await failed('ttl')).toBeGreaterThanOrEqual(3);

      // The store comes back (the registry still does not answer): the next tick loads v2 from it and switches.
      await storeHop.up();
      const back = Date.now();
      await eventually(async () => (await served()) === 2, 5000, 'v2 once the store is back');
      const switchedMs = Date.now() - back;
      console.info(`store back: v2 served ${switchedMs} ms later (TTL ${ttlMs} ms)`);
      expect(switchedMs).toBeLessThan(ttlMs + 1500); // one tick, plus loading v2

      // Once the registry answers again it agrees: v2 stays.
      registryHop.setBroken(false);
      await sleep(3 * ttlMs);
      expect(await served()).toBe(2);
      expect(gateway.models.heldAliases()).toEqual([expect.objectContaining({ alias: 'champion', version: 2 })]);
      expect(gateway.models.heldAliases()[0]).not.toHaveProperty('wanted');
    } finally {
      registryHop.setBroken(false);
      await storeHop.up();
      await gateway.stop();
    }
  }, 40_000);

  it('an older event still loading never overwrites a newer one', async () => {
    await setChampion(1);
    const gateway = startGateway({ registryUrl: live.url, bus, logger, metrics: createMetricsRegistry('event-order'), aliasTtlMs: 600_000, store });
    try {
      expect((await gateway.models.get({ name: 'mnist', alias: 'champion' })).version).toBe(1);
      const toV2 = gateway.models.aliasChanged('mnist', 'champion', 2);
      expect(toV2).toMatchObject({ from: 1, version: 2 });
      gateway.models.aliasChanged('mnist', 'champion', 1); // moved back before v2 had loaded
      expect(await gateway.models.switchAlias(toV2!)).toBe(false);
      expect((await gateway.models.get({ name: 'mnist', alias: 'champion' })).version).toBe(1);
      expect(gateway.models.heldAliases()).toEqual([expect.objectContaining({ version: 1 })]);
      expect(gateway.models.heldAliases()[0]).not.toHaveProperty('wanted');
    } finally {
      await gateway.stop();
    }
  });
});

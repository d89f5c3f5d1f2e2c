import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '@mlpipe/db';
import { createTestBus, createTestDatabase, writeMnistVersion } from '@mlpipe/testing';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { startRegistry, type RunningRegistry } from '../src/service';
import { completed, putArtefacts } from './fixtures';

const logger = createLogger('registry-views-test', 'silent');

describe("the registry's read views for the web UI: a run's registration, gate decisions, dataset versions", () => {
  let bus: Awaited<ReturnType<typeof createTestBus>>;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let root: string;
  let store: ObjectStore;
  let registry: RunningRegistry;
  const get = async (url: string) => registry.app.inject({ method: 'GET', url });

  beforeAll(async () => {
    bus = await createTestBus();
    db = await createTestDatabase();
    pool = await createPool(db.url);
    root = await mkdtemp(join(tmpdir(), 'mlpipe-views-'));
    store = createObjectStore({ kind: 'fs', root });
    registry = await startRegistry({ config: { GATE_MARGIN: 0.01, GATE_CLASS_FLOOR: 0.5 }, bus, pool, store, logger, metrics: createMetricsRegistry('registry') });
    // v1 champion (first), v2 challenger (not enough gain over v1), v3 champion (beats v1), then v1 again by hand.
    for (const [job, acc] of [['job-1', 0.9], ['job-2', 0.905], ['job-3', 0.95]] as const) {
      await putArtefacts(store, job);
      await registry.registrar.register(completed(job, acc));
    }
    await registry.registrar.promote('mnist', 'champion', 1, 'roll back for the test', 'ada');
    const { jobId, modelName, replicaId, backend, hyperparams, datasetVersion, codeVersion } = completed('job-4', 0.5);
    await registry.registrar.runStarted({ jobId, modelName, replicaId, backend, hyperparams, datasetVersion, codeVersion, attempt: 1, resumedFromEpoch: 0 });
  });
  afterAll(async () => {
    await registry?.stop();
    await registry?.app.close();
    await bus?.dispose();
    await pool?.end();
    await db?.drop();
    await rm(root, { recursive: true, force: true });
  });

  it("names the version a run registered and the champion the gate judged it against at the time", async () => {
    const two = (await get('/runs/job-2/registration')).json();
    expect(two.version).toMatchObject({ model: 'mnist', version: 2, runId: 'job-2', testAccuracy: 0.905 });
    expect(two.gate).toMatchObject({ version: 2, outcome: 'challenger', championAtTheTime: { version: 1, testAccuracy: 0.9 } });
    expect(two.gate.reason).toMatch(/does not beat champion v1/);
    // v3 beat v1; the roll-back to v1 afterwards does not change what the gate saw.
    const three = (await get('/runs/job-3/registration')).json();
    expect(three.gate).toMatchObject({ outcome: 'champion', championAtTheTime: { version: 1 } });
    expect(three.version.aliases).toEqual([]);
    expect((await get('/runs/job-1/registration')).json().gate).toMatchObject({ outcome: 'champion', championAtTheTime: null });
    // A run that registered nothing (still running) says so; an unknown run is a 404 with the reason.
    expect((await get('/runs/job-4/registration')).json()).toEqual({ runId: 'job-4', version: null, gate: null });
    const missing = await get('/runs/nope/registration');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toBe('no run nope');
  });

  it("lists every gate decision of a model, newest first, without the manual moves", async () => {
    const { decisions } = (await get('/models/mnist/decisions')).json();
    expect(decisions.map((d: { version: number; outcome: string }) => `v${d.version} ${d.outcome}`)).toEqual(['v3 champion', 'v2 challenger', 'v1 champion']);
    expect((await get('/models/other/decisions')).statusCode).toBe(404);
  });

  it("gives the latest value of every metric of an experiment's runs in one answer", async () => {
    const { runs } = (await get('/experiments/mnist/metrics/latest')).json();
    expect(Object.keys(runs).sort()).toEqual(['job-1', 'job-2', 'job-3']);
    expect(runs['job-2']).toMatchObject({ test_accuracy: 0.905, val_accuracy: 0.95, loss: 0.3 });
    expect((await get('/experiments/nope/metrics/latest')).json()).toEqual({ error: 'no experiment nope', code: 'not_found' });
  });

  it('shows a dataset version with its batches, and refuses a malformed id', async () => {
    const version = await writeMnistVersion(store, 30, 10);
    const res = (await get(`/datasets/mnist/versions/${version.id}`)).json();
    expect(res).toMatchObject({ id: version.id, dataset: 'mnist', trainSamples: 30, testSamples: 10, trainBatchCount: 1, testBatchCount: 1, truncated: false });
    expect(res.batches.map((b: { split: string; samples: number }) => `${b.split}:${b.samples}`)).toEqual(['train:30', 'test:10']);
    expect((await get(`/datasets/mnist/versions/${'e'.repeat(64)}`)).statusCode).toBe(404);
    const bad = await get('/datasets/mnist/versions/not-a-hash');
    expect(bad.statusCode).toBe(400);
  });
});

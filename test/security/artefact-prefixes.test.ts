import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDeadLetters, publishEvent, request } from '@mlpipe/bus';
import { eventually } from '@mlpipe/common';
import { OrchestratorConfigSchema, loadConfig } from '@mlpipe/config';
import { HyperparamsSchema, NUM_CLASSES, storeKeys, type EventData } from '@mlpipe/contracts';
import { createModel, initBackend, saveModel } from '@mlpipe/ml';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { startLiveRegistry, validatedBatch, type LiveRegistry } from '@mlpipe/testing';
import { startRegistry, type RunningRegistry } from '@mlpipe/registry/service';
import { startOrchestrator, type RunningOrchestrator } from '../../services/orchestrator/src/service';
import { startGateway, type RunningGateway } from '../../services/gateway/src/service';
import { startTrainer, type RunningTrainer } from '../../services/trainer/src/service';

const logger = createLogger('artefact-attack', 'silent');

/** A train.job.completed as a trainer sends it, with the artefact folder and file keys given. */
function completion(jobId: string, prefix: string, keys = { modelJsonKey: `${prefix}model.json`, weightsKey: `${prefix}weights.bin` }): EventData<'train.job.completed'> {
  return {
    jobId,
    modelName: 'mnist',
    replicaId: 'forger',
    dataset: 'mnist',
    datasetVersion: 'f'.repeat(64),
    trainSamples: 1,
    hyperparams: HyperparamsSchema.parse({}),
    backend: 'wasm',
    codeVersion: 'test',
    evaluation: { testAccuracy: 0.99, testSamples: 1, perClassAccuracy: Array(NUM_CLASSES).fill(0.99), confusionMatrix: Array.from({ length: NUM_CLASSES }, () => Array(NUM_CLASSES).fill(0)) },
    history: [],
    artefacts: { prefix, ...keys },
    durationSec: 1,
  };
}

/** Dead letters of one type whose reason matches. */
async function deadLettered(live: LiveRegistry, type: string, reason: RegExp) {
  return (await listDeadLetters(live.bus, { type, limit: 100 })).filter((d) => d.record && reason.test(d.record.reason));
}

/**
 * Events naming artefact folders outside their own model or job, sent to the real consumers on real
 * NATS, PostgreSQL and a folder store: the registry's train.job.completed consumer, the
 * orchestrator's model.version.registered consumer, the trainer's job queue and the gateway's
 * registration subscription. Each refuses with the reason (dead letter where there is a durable
 * consumer), and goes on with the next, honest event.
 */
describe('artefact prefixes from events must lie under their own model or job', () => {
  let live: LiveRegistry<RunningRegistry>;
  let orch: RunningOrchestrator;
  let gateway: RunningGateway;
  let trainer: RunningTrainer;
  let gatewayMetrics: ReturnType<typeof createMetricsRegistry>;
  let victimPrefix = '';

  beforeAll(async () => {
    const backend = await initBackend('wasm');
    live = await startLiveRegistry(startRegistry);
    orch = await startOrchestrator({
      config: loadConfig(OrchestratorConfigSchema, { DATABASE_URL: live.databaseUrl, AUTO_TRAIN_ENABLED: 'false' }),
      bus: live.bus,
      pool: live.pool,
      logger,
      metrics: createMetricsRegistry('o'),
    });
    gatewayMetrics = createMetricsRegistry('g');
    gateway = startGateway({ registryUrl: live.url, bus: live.bus, logger, metrics: gatewayMetrics, store: live.store });
    trainer = await startTrainer({ bus: live.bus, store: live.store, logger, metrics: createMetricsRegistry('t'), replicaId: 'sec', backend: backend.name, codeVersion: 'test' });
    // Another job's real files: what a forged event would like to claim.
    victimPrefix = storeKeys.modelArtefacts('mnist', 'job-victim');
    await saveModel(live.store, victimPrefix, createModel('cnn-small', { seed: 1 }));
  });

  afterAll(async () => {
    await trainer?.stop();
    await gateway?.stop();
    await orch?.stop();
    await live?.close();
  });

  it('registry: a completion claiming another job, another model or a path out is dead-lettered with the reason, and the next one registers', async () => {
    const forged: [string, EventData<'train.job.completed'>][] = [
      ['job-thief', completion('job-thief', victimPrefix)],
      ['job-dots', completion('job-dots', `${storeKeys.modelArtefacts('mnist', 'job-dots')}../job-victim/`)],
      ['job-encoded', completion('job-encoded', `${storeKeys.modelArtefacts('mnist', 'job-encoded')}%2e%2e%2fjob-victim/`)],
      ['job-keys', completion('job-keys', storeKeys.modelArtefacts('mnist', 'job-keys'), { modelJsonKey: `${victimPrefix}model.json`, weightsKey: `${victimPrefix}weights.bin` })],
    ];
    for (const [jobId, data] of forged) await publishEvent(live.bus, 'train.job.completed', data, { source: 'forger', eventId: `forged:${jobId}` });
    // The honest job right behind them is registered: the consumer neither crashed nor stalled.
    await live.publishModel('job-honest', createModel('cnn-small', { seed: 2 }), { accuracy: 0.9 });
    await live.waitForChampion();
    const champion = (await (await fetch(`${live.url}/models/mnist/aliases/champion`)).json()) as { runId: string };
    expect(champion.runId).toBe('job-honest');

    const dead = await eventually(async () => {
      const d = await deadLettered(live, 'train.job.completed', /outside its own folder/);
      return d.length === forged.length ? d : undefined;
    }, 20_000, 'four dead letters');
    const reasons = dead.map((d) => d.record?.reason ?? '').sort();
    expect(reasons.find((r) => r.includes('job job-thief'))).toMatch(/not under its job's folder models\/mnist\/job-thief\//);
    expect(reasons.find((r) => r.includes('job job-dots'))).toMatch(/segment "\.\."/);
    expect(reasons.find((r) => r.includes('job job-encoded'))).toMatch(/percent-encoding/);
    expect(reasons.find((r) => r.includes('job job-keys'))).toMatch(/artefact key .* is not in its folder/);
    const versions = (await (await fetch(`${live.url}/models/mnist`)).json()) as { versionList: { runId: string }[] };
    expect(versions.versionList.map((v) => v.runId)).toEqual(['job-honest']);
  });

  it('orchestrator: a registration naming another job\'s files is dead-lettered and never becomes a baseline; an honest one is kept', async () => {
    await orch.repos.datasets.record({ ...validatedBatch.datasetVersion, testSamples: 100 });
    const job = await request(live.bus, 'orchestrator.jobs.submit', { hyperparams: { epochs: 1 } });
    await publishEvent(
      live.bus,
      'model.version.registered',
      { modelName: 'mnist', version: 77, runId: job.jobId, jobId: job.jobId, testAccuracy: 1, datasetVersion: 'f'.repeat(64), trainSamples: 1, artefactPrefix: victimPrefix, decision: { outcome: 'champion', reason: 'forged' } },
      { source: 'forger', eventId: 'forged:registration' },
    );
    const [dead] = await eventually(async () => {
      const d = await deadLettered(live, 'model.version.registered', /announced with artefacts outside its own folder/);
      return d.length ? d : undefined;
    }, 20_000, 'the forged registration dead-lettered');
    expect(dead?.record?.reason).toMatch(new RegExp(`mnist v77 .*not under its job's folder models/mnist/${job.jobId}/`));
    const { rows } = await live.pool.query('select version from orchestrator.model_versions where version = 77');
    expect(rows).toEqual([]);
    // The honest completion of the same job goes through the registry to the orchestrator, which keeps its place.
    await live.publishModel(job.jobId, createModel('cnn-small', { seed: 3 }), { accuracy: 0.95 });
    const kept = await eventually(async () => {
      const r = await live.pool.query<{ artefact_prefix: string }>('select artefact_prefix from orchestrator.model_versions where job_id = $1', [job.jobId]);
      return r.rows[0];
    }, 20_000, "the honest version in the orchestrator's table");
    expect(kept.artefact_prefix).toBe(storeKeys.modelArtefacts('mnist', job.jobId));
  });

  it('trainer: a job whose baseline lies outside its model\'s folder is dead-lettered with the reason', async () => {
    await publishEvent(
      live.bus,
      'train.job.requested',
      {
        jobId: 'job-baited',
        modelName: 'mnist',
        dataset: 'mnist',
        datasetVersion: 'e'.repeat(64),
        hyperparams: HyperparamsSchema.parse({}),
        replicas: 1,
        rank: 0,
        trigger: { kind: 'manual', reason: 'forged' },
        baseline: { version: 1, artefactPrefix: storeKeys.modelArtefacts('fashion', 'job-x') },
      },
      { source: 'forger', eventId: 'forged:job' },
    );
    const [dead] = await eventually(async () => {
      const d = await deadLettered(live, 'train.job.requested', /baseline lies outside its model's folder/);
      return d.length ? d : undefined;
    }, 20_000, 'the baited job dead-lettered');
    expect(dead?.record?.reason).toMatch(/job job-baited's baseline .*not under its model's folder models\/mnist\/<job>\//);
  });

  it("gateway: a registration naming another job's files is ignored and counted, never remembered as the version's place", async () => {
    await publishEvent(
      live.bus,
      'model.version.registered',
      { modelName: 'mnist', version: 99, runId: 'job-gw', jobId: 'job-gw', testAccuracy: 1, datasetVersion: 'f'.repeat(64), trainSamples: 1, artefactPrefix: victimPrefix, decision: { outcome: 'challenger', reason: 'forged' } },
      { source: 'forger', eventId: 'forged:gateway' },
    );
    const refused = async () => (await gatewayMetrics.getSingleMetric('mlpipe_gateway_refused_artefact_places_total')?.get())?.values[0]?.value ?? 0;
    await eventually(async () => (await refused()) >= 1, 10_000, 'the gateway refused the place');
    // Asked for v99, the gateway has no place for it: the registry knows no such version, so 404, not the victim's model.
    const res = await gateway.app.inject({ method: 'POST', url: '/v2/models/mnist/versions/99/infer', payload: { inputs: [{ name: 'image', shape: [1, 784], datatype: 'FP32', data: Array(784).fill(0) }] } });
    expect(res.statusCode).toBe(404);
  });
});

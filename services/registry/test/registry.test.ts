import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { consumeEvents, publishEvent, streamNameOf } from '@mlpipe/bus';
import { createPool, type Pool } from '@mlpipe/db';
import { createTestBus, createTestDatabase } from '@mlpipe/testing';
import { eventually } from '@mlpipe/common';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { DeadLetterSchema, HyperparamsSchema, type Envelope } from '@mlpipe/contracts';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { startRegistry, type RunningRegistry } from '../src/service';
import { H, completed, putArtefacts as putFixtureArtefacts } from './fixtures';

const logger = createLogger('registry-test', 'silent');

describe('registry on real NATS, PostgreSQL and a folder store', () => {
  let bus: Awaited<ReturnType<typeof createTestBus>>;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let root: string;
  let store: ObjectStore;
  let registry: RunningRegistry;
  const modelEvents: Envelope[] = [];
  let stopConsumer: () => Promise<void>;

  const putArtefacts = (jobId: string) => putFixtureArtefacts(store, jobId);
  const get = async (path: string) => registry.app.inject({ method: 'GET', url: path });

  beforeEach(async () => {
    modelEvents.length = 0;
    bus = await createTestBus();
    db = await createTestDatabase();
    pool = await createPool(db.url);
    root = await mkdtemp(join(tmpdir(), 'mlpipe-reg-'));
    store = createObjectStore({ kind: 'fs', root });
    registry = await startRegistry({ config: { GATE_MARGIN: 0.002, GATE_CLASS_FLOOR: 0.9 }, bus, pool, store, logger, metrics: createMetricsRegistry('registry') });
    const c = await consumeEvents(bus, {
      durable: 'test-model-events',
      logger,
      handlers: {
        'model.version.registered': async (e) => void modelEvents.push(e as Envelope),
        'model.alias.changed': async (e) => void modelEvents.push(e as Envelope),
      },
    });
    stopConsumer = c.stop;
  });
  afterEach(async () => {
    await stopConsumer();
    await registry.stop();
    await registry.app.close();
    await bus.dispose();
    await pool.end();
    await db.drop();
    await rm(root, { recursive: true, force: true });
  });

  it('registers versions through the gate, moves aliases, audits and announces every decision', async () => {
    await putArtefacts('job-a');
    await publishEvent(bus, 'train.job.started', {
      jobId: 'job-a', modelName: 'mnist', replicaId: 'r1', attempt: 1, backend: 'wasm', resumedFromEpoch: 0,
      hyperparams: HyperparamsSchema.parse({}), datasetVersion: H, codeVersion: 'test',
    }, { source: 't' });
    await publishEvent(bus, 'train.job.completed', completed('job-a', 0.97), { source: 't', eventId: 'done-a' });
    const champion = await eventually(async () => {
      const r = await get('/models/mnist/aliases/champion');
      return r.statusCode === 200 ? r.json() : undefined;
    });
    expect(champion).toMatchObject({ version: 1, testAccuracy: 0.97, runId: 'job-a', aliases: ['champion'] });

    await putArtefacts('job-b');
    await publishEvent(bus, 'train.job.completed', completed('job-b', 0.971), { source: 't' });
    await eventually(async () => ((await get('/models/mnist/aliases/challenger')).statusCode === 200 ? true : undefined));
    expect((await get('/models/mnist/aliases/champion')).json().version).toBe(1);
    expect((await get('/models/mnist/aliases/challenger')).json().version).toBe(2);

    await eventually(() => (modelEvents.length >= 4 ? true : undefined));
    expect(modelEvents.map((e) => e.type)).toEqual(['model.version.registered', 'model.alias.changed', 'model.version.registered', 'model.alias.changed']);
    expect((modelEvents[2] as Envelope<'model.version.registered'>).data.decision.reason).toMatch(/does not beat champion v1/);

    const audit = (await get('/audit?model=mnist')).json().entries;
    expect(audit.map((e: { action: string; version: number; decision: string }) => `${e.action} v${e.version} ${e.decision}`)).toEqual([
      'alias.set v2 challenger',
      'version.register v2 challenger',
      'alias.set v1 champion',
      'version.register v1 champion',
    ]);
    await expect(pool.query('update registry.audit_log set reason = $1', ['rewritten'])).rejects.toThrow(/append-only: UPDATE/);
    await expect(pool.query('delete from registry.audit_log')).rejects.toThrow(/append-only: DELETE/);

    const run = (await get('/runs/job-a')).json();
    expect(run).toMatchObject({ status: 'finished', backend: 'wasm', metrics: { test_accuracy: 0.97, val_accuracy: 0.95 } });
    const runs = (await get('/experiments/mnist/runs?sort=test_accuracy&order=desc')).json().runs;
    expect(runs.map((r: { runId: string }) => r.runId)).toEqual(['job-b', 'job-a']);
    const confusion = JSON.parse(new TextDecoder().decode(await store.get('models/mnist/job-a/confusion.json')));
    expect(confusion.matrix[0]).toHaveLength(10);
    expect((await get('/models/mnist/versions/1/artefacts/confusion.json')).statusCode).toBe(200);
  });

  it('judges a candidate against the champion scored on the same test data when the trainer did so', async () => {
    await putArtefacts('job-1');
    await publishEvent(bus, 'train.job.completed', completed('job-1', 0.98), { source: 't' });
    await eventually(async () => ((await get('/models/mnist/aliases/champion')).statusCode === 200 ? true : undefined));
    // The new job's test data holds the shifted digits: the champion scores 0.90 there, the candidate 0.96.
    await putArtefacts('job-2');
    await publishEvent(bus, 'train.job.completed', { ...completed('job-2', 0.96), baselineEvaluation: { version: 1, testAccuracy: 0.9, perClassAccuracy: Array(10).fill(0.9) } }, { source: 't' });
    await eventually(async () => ((await get('/models/mnist/aliases/champion')).json().version === 2 ? true : undefined));
    const gate = (await get('/audit?model=mnist')).json().entries.find((e: { action: string; version: number }) => e.action === 'alias.set' && e.version === 2);
    expect(gate.reason).toBe('test accuracy 96.00% beats champion v1 (90.00% on the same test data) by 6.00% ≥ margin 0.20%');
    // A baseline of another version than the current champion is not used.
    await putArtefacts('job-3');
    await publishEvent(bus, 'train.job.completed', { ...completed('job-3', 0.961), baselineEvaluation: { version: 1, testAccuracy: 0.5, perClassAccuracy: Array(10).fill(0.5) } }, { source: 't' });
    await eventually(async () => ((await get('/models/mnist')).json().versions === 3 ? true : undefined));
    expect((await get('/models/mnist/aliases/champion')).json().version).toBe(2);
  });

  it('registers a job once, whatever the redeliveries', async () => {
    await putArtefacts('job-c');
    const data = completed('job-c', 0.98);
    await publishEvent(bus, 'train.job.completed', data, { source: 't', eventId: 'same' });
    await publishEvent(bus, 'train.job.completed', data, { source: 't', eventId: 'same' }); // de-duplicated by JetStream
    await publishEvent(bus, 'train.job.completed', data, { source: 't', eventId: 'a-retry-with-a-new-id' });
    await eventually(async () => ((await get('/models/mnist')).statusCode === 200 ? true : undefined));
    await new Promise((r) => setTimeout(r, 800));
    const model = (await get('/models/mnist')).json();
    expect(model.versions).toBe(1);
    expect(modelEvents.filter((e) => e.type === 'model.version.registered')).toHaveLength(1);
  });

  it('dead-letters a completion whose artefacts are missing, with the reason', async () => {
    await publishEvent(bus, 'train.job.completed', completed('job-ghost', 0.99), { source: 't' });
    const stream = streamNameOf(bus.namespace, 'DLQ');
    const letter = await eventually(async () => {
      const info = await bus.jsm.streams.info(stream);
      if (!info.state.messages) return undefined;
      const m = await bus.jsm.streams.getMessage(stream, { seq: info.state.first_seq });
      return DeadLetterSchema.parse(JSON.parse(new TextDecoder().decode(m!.data)));
    });
    expect(letter.reason).toMatch(/job job-ghost completed but its artefact models\/mnist\/job-ghost\/model.json is missing/);
    expect((await get('/models/mnist')).statusCode).toBe(404);
  });

  it('promotes by hand with an audit entry, and answers bad requests with reasons', async () => {
    await putArtefacts('job-d');
    await putArtefacts('job-e');
    await publishEvent(bus, 'train.job.completed', completed('job-d', 0.97), { source: 't' });
    await publishEvent(bus, 'train.job.completed', completed('job-e', 0.95), { source: 't' });
    await eventually(async () => ((await get('/models/mnist/versions/2')).statusCode === 200 ? true : undefined));
    // The audit actor is the token's principal: an x-actor header is not believed.
    const { token } = await registry.tokens.create('alice', 'admin');
    const admin = { authorization: `Bearer ${token}` };
    const res = await registry.app.inject({
      method: 'POST',
      url: '/models/mnist/aliases/champion',
      headers: { ...admin, 'x-actor': 'mallory' },
      payload: { version: 2, reason: 'rollback test' },
    });
    expect(res.json()).toMatchObject({ alias: 'champion', version: 2, previousVersion: 1, actor: 'alice' });
    expect((await get('/audit?model=mnist&limit=1')).json().entries[0]).toMatchObject({ actor: 'alice', reason: 'rollback test', version: 2 });
    // The move is announced through the outbox: committed with the alias, then published by the relay.
    const moved = await eventually(() => modelEvents.find((e) => e.type === 'model.alias.changed' && (e as Envelope<'model.alias.changed'>).data.actor === 'alice'));
    expect(moved).toMatchObject({ source: 'registry', eventId: expect.stringMatching(/^model\.alias\.changed:mnist:champion:2:[0-9a-f-]{36}$/), data: { alias: 'champion', version: 2, previousVersion: 1, reason: 'rollback test' } });
    // The relay marks its rows in the transaction it commits after the publish, so a subscriber can hear
    // the event before the row says it went out.
    const publishedAt = await eventually(async () => {
      const row = await pool.query<{ published_at: Date | null }>('select published_at from registry.outbox where event_id = $1', [moved.eventId]);
      return row.rows[0]?.published_at ?? undefined;
    });
    expect(publishedAt).toBeInstanceOf(Date);

    const missing = await registry.app.inject({ method: 'POST', url: '/models/mnist/aliases/champion', headers: admin, payload: { version: 9, reason: 'nope' } });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: 'model mnist has no version 9', code: 'not_found' });
    // A refused move commits nothing, so announces nothing: the outbox holds the two registrations' events and the one move.
    const outbox = await pool.query<{ event_type: string; n: number }>('select event_type, count(*)::int as n from registry.outbox group by 1 order by 1');
    expect(outbox.rows).toEqual([{ event_type: 'model.alias.changed', n: 3 }, { event_type: 'model.version.registered', n: 2 }]);
    const badAlias = await registry.app.inject({ method: 'POST', url: '/models/mnist/aliases/king', headers: admin, payload: { version: 1, reason: 'x' } });
    // An actor in the body is no longer part of the request.
    const actorInBody = await registry.app.inject({ method: 'POST', url: '/models/mnist/aliases/champion', headers: admin, payload: { version: 1, reason: 'who am I', actor: 'ceo' } });
    expect(actorInBody.statusCode).toBe(400);
    expect(badAlias.statusCode).toBe(400);
    expect(badAlias.json().code).toBe('invalid');
    expect((await get('/models/..%2Fetc')).statusCode).toBe(400);
    expect((await get('/models/mnist/versions/abc')).statusCode).toBe(400);
    expect((await get('/models/mnist/versions/1/artefacts/secrets.txt')).statusCode).toBe(400);
    expect((await get('/runs/nope')).json()).toEqual({ error: 'no run nope', code: 'not_found' });
  });

  it('publishes an OpenAPI document listing its routes', async () => {
    const doc = (await get('/openapi.json')).json();
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of ['/models/{name}/aliases/{alias}', '/experiments/{name}/runs', '/runs/{id}/metrics', '/audit']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
  });
});

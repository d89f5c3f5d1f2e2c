import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PermissionViolationError } from '@nats-io/nats-core';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NATS_USERS,
  connectBus,
  publishEvent,
  renderAuthorization,
  request,
  streamNameOf,
  subjectOf,
  subscribeEvents,
  type Bus,
  type NatsUser,
} from '@mlpipe/bus';
import { runDlqCli } from '../../libs/bus/src/dlqCli';
import { describeError, eventually } from '@mlpipe/common';
import { DatasetWatcherConfigSchema, OrchestratorConfigSchema, loadConfig } from '@mlpipe/config';
import type { Envelope } from '@mlpipe/contracts';
import { seedDataset } from '@mlpipe/dataset';
import { createPool, type Pool } from '@mlpipe/db';
import { initBackend } from '@mlpipe/ml';
import { createLogger, createMetricsRegistry } from '@mlpipe/runtime';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { createTestDatabase, startNatsServer, type OwnNatsServer } from '@mlpipe/testing';
import { startWatcher } from '../../services/dataset-watcher/src/service';
import { startGateway } from '../../services/gateway/src/service';
import { startOrchestrator } from '../../services/orchestrator/src/service';
import { startRegistry } from '../../services/registry/src/service';
import { startTrainer } from '../../services/trainer/src/service';
import { leaseBucketName } from '../../services/trainer/src/adapters/coordinatorLease';
import { leaseBucketOf } from '../../libs/bus/src/accounts';

const logger = createLogger('nats-permissions', 'silent');
const NS = 'sec';

/** A forged result, as an attacker on the UI's or the gateway's credentials would send it (no client-side checks). */
const forgedCompletion = (jobId: string) =>
  JSON.stringify({
    type: 'train.job.completed',
    schemaVersion: 1,
    eventId: `forged:${jobId}`,
    occurredAt: new Date().toISOString(),
    source: 'trainer/forger',
    data: { jobId, modelName: 'mnist', metrics: { testAccuracy: 0.999 }, artefacts: { prefix: 'models/mnist/forged/' } },
  });

/**
 * The server refuses what a user has no right to: a real nats-server runs the config rendered from
 * libs/bus/src/accounts.ts, every service connects as its own user and runs its real wiring through
 * one whole flow (batch → dataset version → a two-replica job → registered champion → the gateway
 * and UI hear of it), and no service may meet a single refusal on the way. Then the forgeries.
 */
describe('NATS users and permissions (a real nats-server with the generated authorization)', () => {
  let server: OwnNatsServer;
  let dir: string;
  const passwords = Object.fromEntries(NATS_USERS.map((u) => [u, randomBytes(18).toString('base64url')])) as Record<NatsUser, string>;
  const buses: Bus[] = [];
  /** Every refusal any connection of this test met, by user. */
  const refusals: { user: string; operation: string; subject: string }[] = [];
  const stops: (() => Promise<unknown>)[] = [];
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let store: ObjectStore;
  let registryUrl = '';

  const connectAs = async (user: NatsUser, name: string = user): Promise<Bus> => {
    const bus = await connectBus({ url: server.url, name, namespace: NS, user, password: passwords[user], logger });
    buses.push(bus);
    void (async () => {
      for await (const s of bus.nc.status()) {
        if (s.type === 'error' && s.error instanceof PermissionViolationError) refusals.push({ user, operation: s.error.operation, subject: s.error.subject });
      }
    })();
    return bus;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlpipe-nats-auth-'));
    const config = join(dir, 'nats.conf');
    await writeFile(config, renderAuthorization({ namespace: NS, passwords: Object.fromEntries(NATS_USERS.map((u) => [u, { literal: passwords[u] }])) }));
    server = await startNatsServer({ configFile: config });
    db = await createTestDatabase();
    pool = await createPool(db.url, 10);
    store = createObjectStore({ kind: 'fs', root: join(dir, 'store') });
    await initBackend('wasm');
  }, 60_000);

  afterAll(async () => {
    // Bounded: a service stuck on its way down must not keep the server (and its port) alive after the test.
    const bounded = (p: Promise<unknown>) => Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, 5000).unref())]);
    for (const stop of stops.reverse()) await bounded(stop());
    for (const b of buses) await bounded(b.close());
    await pool?.end();
    await db?.drop();
    await server?.dispose();
    await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('runs every service under its own user through a whole flow without one refusal', async () => {
    const metrics = () => createMetricsRegistry('nats-permissions');
    const registry = await startRegistry({ config: { GATE_MARGIN: 0.002, GATE_CLASS_FLOOR: 0 }, bus: await connectAs('registry'), pool, store, logger, metrics: metrics() });
    registryUrl = await registry.app.listen({ port: 0, host: '127.0.0.1' });
    stops.push(() => registry.app.close(), registry.stop);
    const orchestrator = await startOrchestrator({
      config: loadConfig(OrchestratorConfigSchema, {
        DATABASE_URL: db.url,
        AUTO_RECIPE: 'plain',
        AUTO_REPLICAS: '2',
        RETRAIN_MIN_NEW_SAMPLES: '100',
        AUTO_HYPERPARAMS: JSON.stringify({ arch: 'cnn-small', epochs: 1, batchSize: 64, trainSubset: 0, testSubset: 0 }),
      }),
      bus: await connectAs('orchestrator'),
      pool,
      logger,
      metrics: metrics(),
    });
    stops.push(orchestrator.stop);
    // Two replicas: the data-parallel group (join request and reply, frames, the coordinator's lease in KV).
    const dp = { heartbeatMs: 200, heartbeatTimeoutMs: 5000, stepTimeoutMs: 20_000, joinWindowMs: 15_000, joinTimeoutMs: 20_000, outageToleranceMs: 20_000, retransmitMs: 2000, leaseTtlMs: 10_000 };
    for (const id of ['trainer-a', 'trainer-b']) {
      const trainer = await startTrainer({ bus: await connectAs('trainer', id), store, logger, metrics: metrics(), replicaId: id, backend: 'wasm', codeVersion: 'test', dp });
      stops.push(trainer.stop);
    }
    const watcherBus = await connectAs('dataset-watcher');
    const watcher = await startWatcher({ config: loadConfig(DatasetWatcherConfigSchema, { DATA_POLL_MS: '300', DRIFT_POLL_MS: '500' }), bus: watcherBus, pool, store, logger, metrics: metrics() });
    stops.push(watcher.stop);
    const gatewayBus = await connectAs('gateway');
    const gateway = startGateway({ registryUrl, bus: gatewayBus, logger, metrics: metrics(), store });
    stops.push(() => gateway.app.close(), gateway.stop);
    const gatewayHeard: Envelope[] = [];
    const gatewaySub = subscribeEvents(gatewayBus, 'model.alias.changed', (e) => void gatewayHeard.push(e), logger);
    stops.push(async () => gatewaySub.unsubscribe());

    // The UI's calls, as its routes make them: live job events and the job API.
    const uiBus = await connectAs('ui');
    const uiHeard: Envelope[] = [];
    for (const t of ['train.job.started', 'train.job.progress', 'train.job.completed'] as const) {
      const sub = subscribeEvents(uiBus, t, (e) => void uiHeard.push(e), logger);
      stops.push(async () => sub.unsubscribe());
    }

    await seedDataset(store, 'incoming/', 'mnist', { trainLimit: 1200, testLimit: 300 });
    const champion = await eventually(
      async () => {
        const res = await fetch(`${registryUrl}/models/mnist/aliases/champion`);
        return res.ok ? ((await res.json()) as { version: number; runId: string }) : undefined;
      },
      50_000,
      'a champion registered from the seeded batch',
    );
    // The UI may list, submit and cancel jobs, not read one: the server refuses that call, and request() says so.
    await expect(request(uiBus, 'orchestrator.jobs.get', { jobId: champion.runId })).rejects.toThrow(/NATS refused user "ui" a request to orchestrator.jobs.get/);
    const { jobs } = await request(uiBus, 'orchestrator.jobs.list', {});
    expect(jobs.map((j) => j.jobId)).toContain(champion.runId);
    // The data and sweeps pages' reads: the watcher answers its own (watcher.*), the orchestrator its own.
    expect((await request(uiBus, 'watcher.batches.list', {})).batches.filter((b) => b.status === 'validated').length).toBeGreaterThanOrEqual(2);
    expect((await request(uiBus, 'watcher.datasets.list', {})).versions.length).toBeGreaterThan(0);
    expect(await request(uiBus, 'watcher.drift.windows', {})).toEqual({ windows: [] });
    expect(await request(uiBus, 'orchestrator.sweeps.list', {})).toEqual({ sweeps: [] });
    expect(await request(uiBus, 'orchestrator.drift.list', {})).toEqual({ alerts: [] });
    const cli = await connectAs('jobs-cli');
    await eventually(async () => ((await request(cli, 'orchestrator.jobs.get', { jobId: champion.runId })).status === 'succeeded' ? true : undefined), 10_000, 'the job succeeded');
    expect((await request(cli, 'orchestrator.jobs.get', { jobId: champion.runId })).replicas).toBe(2);
    await eventually(() => (gatewayHeard.some((e) => e.type === 'model.alias.changed') ? true : undefined), 10_000, 'the gateway heard the alias move');
    expect(uiHeard.map((e) => e.type)).toEqual(expect.arrayContaining(['train.job.started', 'train.job.progress', 'train.job.completed']));
    // Both replicas trained it: the group formed over the dp subjects, with the coordinator's lease in KV.
    const completed = uiHeard.find((e): e is Envelope<'train.job.completed'> => e.type === 'train.job.completed')!;
    expect(completed.data.distributed?.finalMembers).toHaveLength(2);

    // The ops user reads the dead letters with mlpipe-dlq.
    const out: string[] = [];
    const code = await runDlqCli(['list'], { NATS_URL: server.url, BUS_NAMESPACE: NS, NATS_USER: 'ops', NATS_PASSWORD: passwords.ops }, { out: (l) => out.push(l), err: (l) => out.push(l) });
    expect(out.join('\n')).not.toMatch(/refused|violation/i);
    expect(code).toBe(0);

    // The one refusal was the UI's own probe above.
    expect(refusals).toEqual([{ user: 'ui', operation: 'publish', subject: subjectOf(NS, 'orchestrator.jobs.get') }]);
    refusals.length = 0;
  }, 90_000);

  it('dead-letters a malformed event under the consumer\'s user, and the ops user replays it', async () => {
    // The watcher may publish data events; a malformed one is the orchestrator's to dead-letter.
    const watcher = await connectAs('dataset-watcher', 'watcher-sloppy');
    await watcher.js.publish(subjectOf(NS, 'data.batch.validated'), '{"not":"an envelope"}', { msgID: 'malformed-1' });
    const dlq = (argv: string[]) => {
      const out: string[] = [];
      return runDlqCli(argv, { NATS_URL: server.url, BUS_NAMESPACE: NS, NATS_USER: 'ops', NATS_PASSWORD: passwords.ops }, { out: (l) => out.push(l), err: (l) => out.push(l) }).then((code) => ({ code, out: out.join('\n') }));
    };
    const listed = await eventually(async () => {
      const r = await dlq(['list', '--type', 'data.batch.validated']);
      return r.out.includes('orchestrator-data-events') ? r : undefined;
    }, 15_000, 'the malformed event dead-lettered by the orchestrator');
    expect(listed.code).toBe(0);
    const seq = /^(\d+)\s/m.exec(listed.out)?.[1];
    const replayed = await dlq(['replay', seq!]);
    expect(replayed.out).not.toMatch(/refused|violation/i);
    expect(replayed.code).toBe(0);
    expect(refusals).toEqual([]);
  });

  it('refuses a train.job.completed forged on the UI or the gateway user, and stores nothing', async () => {
    const subject = subjectOf(NS, 'train.job.completed');
    for (const user of ['ui', 'gateway'] as const) {
      const bus = await connectAs(user, `${user}-forger`);
      // Through JetStream: the server's refusal comes back to the publish.
      const viaJetStream = bus.js.publish(subject, forgedCompletion(`forged-by-${user}`), { msgID: `forged-${user}` });
      await expect(viaJetStream).rejects.toThrow(`Permissions Violation for Publish to "${subject}"`);
      // Fire and forget on core NATS: dropped by the server all the same (and reported to the client).
      bus.nc.publish(subject, forgedCompletion(`forged-core-${user}`));
      await bus.nc.flush();
    }
    // Nothing of it reached the stream: read every message of TRAIN as the ops user.
    const ops = await connectAs('ops');
    const train = streamNameOf(NS, 'TRAIN');
    const { state } = await ops.jsm.streams.info(train);
    const jobIds: string[] = [];
    for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
      const m = await ops.jsm.streams.getMessage(train, { seq }).catch(() => null);
      if (m?.subject === subject) jobIds.push(m.json<Envelope<'train.job.completed'>>().data.jobId);
    }
    expect(jobIds).toHaveLength(1); // the real job's
    expect(jobIds.some((id) => id.startsWith('forged'))).toBe(false);
    await eventually(() => refusals.length >= 4 || undefined, 2000, 'four refusals reported');
    expect(new Set(refusals.map((r) => `${r.user} ${r.operation} ${r.subject}`))).toEqual(new Set([`ui publish ${subject}`, `gateway publish ${subject}`]));
    refusals.length = 0;
  });

  it('lets the registry publish model.* and refuses the trainer, the orchestrator and the watcher', async () => {
    const alias = { modelName: 'mnist', alias: 'challenger' as const, version: 1, previousVersion: null, reason: 'permission test', actor: 'test' };
    const registry = await connectAs('registry', 'registry-probe');
    expect((await publishEvent(registry, 'model.alias.changed', alias, { source: 'registry' })).seq).toBeGreaterThan(0);
    for (const user of ['trainer', 'orchestrator', 'dataset-watcher'] as const) {
      const bus = await connectAs(user, `${user}-forger`);
      await expect(publishEvent(bus, 'model.alias.changed', { ...alias, alias: 'champion' }, { source: 'registry' })).rejects.toThrow(`NATS refused user "${user}" publishing model.alias.changed`);
    }
    // Only trainers report on jobs: the orchestrator may request one, not complete it.
    const orchestrator = await connectAs('orchestrator', 'orchestrator-forger-2');
    await expect(orchestrator.js.publish(subjectOf(NS, 'train.job.completed'), forgedCompletion('forged-by-orchestrator'))).rejects.toThrow(/Permissions Violation/);
    refusals.length = 0;
  });

  it('refuses listening in: group frames, other users\' inboxes, and subjects outside the namespace', async () => {
    const gateway = await connectAs('gateway', 'gateway-snoop');
    const refusedSub = (bus: Bus, subject: string) =>
      new Promise<unknown>((resolve) => {
        bus.nc.subscribe(subject, { callback: (err) => resolve(err) });
        setTimeout(() => resolve('not refused within 2 s'), 2000).unref();
      });
    expect(await refusedSub(gateway, subjectOf(NS, 'dp.>'))).toBeInstanceOf(PermissionViolationError);
    expect(await refusedSub(gateway, '_INBOX.>')).toBeInstanceOf(PermissionViolationError);
    expect(await refusedSub(gateway, '_INBOX.trainer.>')).toBeInstanceOf(PermissionViolationError);
    const ui = await connectAs('ui', 'ui-snoop');
    expect(await refusedSub(ui, 'other.train.job.progress')).toBeInstanceOf(PermissionViolationError);
    refusals.length = 0;
  });

  it('logs a refused subject as one warning naming the user, the operation and the subject (not again within the minute)', async () => {
    const lines: { level: number; msg: string; subject?: string; natsUser?: string; operation?: string }[] = [];
    const capture = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
    const bus = await connectBus({ url: server.url, name: 'ui-logged', namespace: NS, user: 'ui', password: passwords.ui, logger: capture });
    buses.push(bus);
    const subject = subjectOf(NS, 'model.alias.changed');
    for (let i = 0; i < 3; i++) bus.nc.publish(subject, '{}');
    await bus.nc.flush();
    await eventually(() => lines.length > 0 || undefined, 3000, 'the refusal logged');
    await new Promise((r) => setTimeout(r, 300));
    expect(lines).toEqual([expect.objectContaining({ level: 40, natsUser: 'ui', operation: 'publish', subject })]);
    expect(lines[0]!.msg).toBe(`NATS refused a publish to ${subject} for user ui: not among its rights (libs/bus/src/accounts.ts)`);
    expect(bus.nc.isClosed()).toBe(false); // a refusal is no reason to drop the connection
    refusals.length = 0;
  });

  it('refuses a wrong password or none with one line that names the user and never the password', async () => {
    const wrong = await connectBus({ url: server.url, name: 'x', namespace: NS, user: 'trainer', password: 'not-the-password' }).catch((e: unknown) => e);
    expect(describeError(wrong)).toMatch(/refused user "trainer"; check NATS_USER and NATS_PASSWORD/);
    const inUrl = server.url.replace('nats://', `nats://trainer:secret-${passwords.ui}@`);
    const leaked = await connectBus({ url: inUrl, name: 'x', namespace: NS }).catch((e: unknown) => e);
    expect(describeError(leaked)).toMatch(/refused user "trainer"/);
    expect(describeError(leaked)).toContain('nats://trainer:***@127.0.0.1');
    expect(describeError(leaked)).not.toContain(passwords.ui);
    const anonymous = await connectBus({ url: server.url, name: 'x', namespace: NS }).catch((e: unknown) => e);
    expect(describeError(anonymous)).toMatch(/refused a client without credentials/);
  });

  it('names the trainer\'s lease buckets as the trainer does', () => {
    for (const ttl of [10_000, 2500]) expect(leaseBucketOf('my-ns', ttl)).toBe(leaseBucketName('my-ns', ttl));
  });
});

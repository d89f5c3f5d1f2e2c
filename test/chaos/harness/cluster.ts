import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { connectBus, ensureStreams, publishEvent, type Bus } from '@mlpipe/bus';
import { startNatsServer, validatedBatch, writeMnistVersion, type OwnNatsServer } from '@mlpipe/testing';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { EventLog } from './events';
import { startChaosObjectStore, type ChaosObjectStore } from './objectStore';
import { startOwnPostgres, type OwnPostgres } from './postgres';
import { defineService, ROOT, type ServiceProcess } from './services';
import { StepTap } from './stepTap';

export interface ClusterOptions {
  /** The scenario's id: its folder under .mlpipe/chaos/ (logs) and its results row. */
  name: string;
  trainers: number;
  /** MNIST samples in the dataset version (jobs take subsets of it). */
  trainSamples?: number;
  testSamples?: number;
  /** TRAINER_* settings every trainer replica gets (none: the shipped defaults). */
  trainerEnv?: Record<string, string>;
}

/**
 * One scenario's world: its own nats-server, PostgreSQL cluster and S3 API; the orchestrator, the
 * registry and N trainer replicas as processes pointed at them under a namespace of their own; a
 * dataset version the orchestrator knows; and the harness's own connection with a step tap and an
 * event log on it. Gateways are added by the scenario that needs them (startGateways).
 */
export interface Cluster {
  readonly name: string;
  readonly logDir: string;
  readonly namespace: string;
  readonly nats: OwnNatsServer;
  readonly pg: OwnPostgres;
  readonly s3: ChaosObjectStore;
  readonly bus: Bus;
  readonly store: ObjectStore;
  readonly orchestrator: ServiceProcess;
  readonly registry: ServiceProcess;
  readonly trainers: ServiceProcess[];
  readonly gateways: ServiceProcess[];
  edge: ServiceProcess | undefined;
  readonly tap: StepTap;
  readonly events: EventLog;
  readonly datasetVersion: string;
  /** Model replicas (gateway processes) and an edge balancing over them. */
  startGateways(count: number): Promise<void>;
  services(): ServiceProcess[];
  /** The last lines of every service's log (or the named ones'), for a failed assertion. */
  logTails(ids?: string[], lines?: number): string;
  /** Kills every process and removes the servers' data (the logs stay); idempotent. */
  dispose(): Promise<void>;
}

const BUCKET = 'mlpipe-chaos';

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const dir = join(ROOT, '.mlpipe', 'chaos', opts.name);
  rmSync(dir, { recursive: true, force: true });
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const namespace = `chaos-${randomBytes(4).toString('hex')}`;
  const [nats, pg, s3] = await Promise.all([startNatsServer(), startOwnPostgres(), startChaosObjectStore()]);
  // Made here: services starting together race to create it (see docs/reliability.md, "found").
  await pg.createDatabase('mlpipe');
  const bus = await connectBus({ url: nats.url, name: `chaos-harness-${opts.name}`, namespace });
  await ensureStreams(bus);
  const tap = new StepTap(bus);
  const events = new EventLog(bus);
  const store = createObjectStore({ kind: 's3', endpoint: s3.endpoint, bucket: BUCKET, accessKey: s3.accessKey, secretKey: s3.secretKey });
  const version = await writeMnistVersion(store, opts.trainSamples ?? 12_000, opts.testSamples ?? 5000);

  const common: Record<string, string> = {
    NATS_URL: nats.url,
    BUS_NAMESPACE: namespace,
    DATABASE_URL: pg.url('mlpipe'),
    STORE_KIND: 's3',
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: BUCKET,
    S3_ACCESS_KEY: s3.accessKey,
    S3_SECRET_KEY: s3.secretKey,
    LOG_LEVEL: 'info',
    CODE_VERSION: 'chaos',
  };
  const orchestrator = await defineService({ service: 'orchestrator', logDir, env: { ...common, AUTO_TRAIN_ENABLED: 'false' } });
  // The gate is not under test: every version passes its class floor, so the first one becomes champion.
  const registry = await defineService({ service: 'registry', logDir, env: { ...common, GATE_CLASS_FLOOR: '0' } });
  const trainers: ServiceProcess[] = [];
  for (let i = 1; i <= opts.trainers; i++) {
    trainers.push(await defineService({ service: 'trainer', id: `trainer-${i}`, logDir, env: { ...common, ...opts.trainerEnv, TRAINER_REPLICA_ID: `trainer-${i}` } }));
  }
  const gateways: ServiceProcess[] = [];
  let disposing: Promise<void> | undefined;
  const cluster: Cluster = {
    name: opts.name,
    logDir,
    namespace,
    nats,
    pg,
    s3,
    bus,
    store,
    orchestrator,
    registry,
    trainers,
    gateways,
    edge: undefined,
    tap,
    events,
    datasetVersion: version.id,
    services: () => [orchestrator, registry, ...trainers, ...gateways, ...(cluster.edge ? [cluster.edge] : [])],
    startGateways: async (count) => {
      for (let i = 0; i < count; i++) {
        const id = `gateway-${String.fromCharCode(97 + gateways.length)}`;
        // No prediction sampling: the store writes are not what these scenarios look at.
        gateways.push(await defineService({ service: 'gateway', id, logDir, env: { ...common, REGISTRY_URL: registry.url, PREDICTION_SAMPLE_SHARE: '0' } }));
      }
      await Promise.all(gateways.map((g) => g.start()));
      cluster.edge = await defineService({ service: 'gateway', id: 'edge', logDir, env: { LOG_LEVEL: 'info', MODEL_REPLICAS: gateways.map((g) => g.url).join(',') } });
      await cluster.edge.start();
    },
    logTails: (ids, lines = 25) =>
      cluster
        .services()
        .filter((s) => !ids || ids.includes(s.id))
        .map((s) => `===== ${s.id} (${s.proc.spec.logFile}) =====\n${s.proc.tail(lines)}`)
        .join('\n'),
    dispose: () =>
      (disposing ??= (async () => {
        tap.close();
        events.close();
        await Promise.all(cluster.services().map((s) => s.proc.dispose()));
        await bus.close().catch(() => undefined);
        await Promise.all([nats.dispose(), pg.dispose(), s3.dispose()]);
      })()),
  };
  try {
    await Promise.all([orchestrator, registry, ...trainers].map((s) => s.start()));
    // The orchestrator learns of data from the watcher's event; the files are already in the store.
    await publishEvent(
      bus,
      'data.batch.validated',
      { ...validatedBatch, samples: version.trainSamples, datasetVersion: version },
      { source: 'chaos-harness' },
    );
  } catch (err) {
    await cluster.dispose();
    throw err;
  }
  return cluster;
}

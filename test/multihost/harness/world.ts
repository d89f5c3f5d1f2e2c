import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectBus, ensureStreams, publishEvent, useStreamLimits, useStreamReplicas, type Bus } from '@mlpipe/bus';
import { eventually } from '@mlpipe/common';
import { createObjectStore } from '@mlpipe/storage';
import { createTestDatabase, TEST_STREAM_LIMITS, validatedBatch, writeMnistVersion } from '@mlpipe/testing';
import { EventLog } from '../../chaos/harness/events';
import { ROOT, type ServiceProcess } from '../../chaos/harness/services';
import { StepTap } from '../../chaos/harness/stepTap';
import { defineHostService } from './hostServices';
import { createHosts, newRunId, removeLeftovers, type Host, type Hosts } from './hosts';
import { startNatsCluster, type NatsCluster } from './natsCluster';

export interface WorldOptions {
  /** The scenario file's id: its folder under .mlpipe/multihost/ (logs, the store). */
  name: string;
  trainSamples?: number;
  testSamples?: number;
  /** TRAINER_* settings of every trainer replica. */
  trainerEnv?: Record<string, string>;
  /** Model replicas on hosts h2 and h3 and an edge over them in the root namespace. */
  gateways?: boolean;
}

/**
 * One scenario file's world: three hosts, a NATS server on each joined into one cluster with every
 * stream replicated three times (STREAM_REPLICAS=3), a trainer replica on each host, optionally
 * gateway replicas on two hosts with an edge over them; the orchestrator and the registry in the
 * root namespace (PostgreSQL stays on its loopback, a database of the run's own), reaching NATS
 * over the bridge; the object store a folder every namespace sees (namespaces share the file system).
 */
export interface World {
  readonly hosts: Hosts;
  readonly nats: NatsCluster;
  readonly namespace: string;
  readonly logDir: string;
  readonly bus: Bus;
  readonly orchestrator: ServiceProcess;
  readonly registry: ServiceProcess;
  readonly trainers: ServiceProcess[];
  readonly gateways: ServiceProcess[];
  readonly edge: ServiceProcess | undefined;
  readonly tap: StepTap;
  readonly events: EventLog;
  readonly datasetVersion: string;
  /** The host a trainer or gateway replica runs on. */
  hostOf(s: ServiceProcess): Host;
  services(): ServiceProcess[];
  logTails(ids?: string[], lines?: number): string;
  dispose(): Promise<void>;
}

/** Clients notice a server behind a cut link after 3 unanswered pings: seconds, not nats.js's default minutes. */
const PING_MS = '1000';

// Runs of this process and of others (a file per run, holding the owner's pid): a run whose owner
// is gone is a leftover, whatever its age; a run of a live process (a parallel file) is left alone.
const RUNS_DIR = '/tmp/mlpipe-multihost-runs';

function clearDeadRuns(): void {
  mkdirSync(RUNS_DIR, { recursive: true });
  const alive = new Set<string>();
  for (const f of readdirSync(RUNS_DIR)) {
    const pid = Number(readFileSync(join(RUNS_DIR, f), 'utf8'));
    try {
      process.kill(pid, 0);
      alive.add(f);
    } catch {
      rmSync(join(RUNS_DIR, f), { force: true });
    }
  }
  removeLeftovers(alive);
}

export async function startWorld(opts: WorldOptions): Promise<World> {
  clearDeadRuns();
  const dir = join(ROOT, '.mlpipe', 'multihost', opts.name);
  rmSync(dir, { recursive: true, force: true });
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  // Claimed before its namespaces exist: a parallel file clearing leftovers meanwhile would
  // otherwise take them for a dead run's and delete them (seen: "Cannot open network namespace").
  const runId = newRunId();
  writeFileSync(join(RUNS_DIR, runId), String(process.pid));
  const hosts = createHosts(3, runId);
  const namespace = `mh-${randomBytes(4).toString('hex')}`;
  const nats = startNatsCluster(hosts, join(dir, 'nats'));
  const cleanups: (() => Promise<void>)[] = [
    async () => {
      await nats.dispose();
      hosts.dispose();
      rmSync(join(RUNS_DIR, hosts.runId), { force: true });
    },
  ];
  const services: ServiceProcess[] = [];
  let bus: Bus | undefined;
  let tap: StepTap | undefined;
  let events: EventLog | undefined;
  let disposing: Promise<void> | undefined;
  const dispose = () =>
    (disposing ??= (async () => {
      tap?.close();
      events?.close();
      await Promise.all(services.map((s) => s.proc.dispose()));
      await bus?.close().catch(() => undefined);
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    })());
  try {
    await Promise.all(nats.servers.map((s) => s.start()));
    await nats.waitHealthy();
    const harnessBus = await connectBus({ url: nats.urls, name: `multihost-harness-${opts.name}`, namespace, pingIntervalMs: Number(PING_MS) });
    bus = harnessBus;
    useStreamLimits(harnessBus, TEST_STREAM_LIMITS);
    useStreamReplicas(harnessBus, 3);
    // Until the cluster has elected its JetStream meta leader, stream creation is refused.
    await eventually(() => ensureStreams(harnessBus).then(() => true, () => false), 60_000, 'the R3 streams to be created');
    tap = new StepTap(harnessBus);
    events = new EventLog(harnessBus);
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const storeRoot = join(dir, 'store');
    const store = createObjectStore({ kind: 'fs', root: storeRoot });
    const version = await writeMnistVersion(store, opts.trainSamples ?? 3000, opts.testSamples ?? 1000);

    const common: Record<string, string> = {
      BUS_NAMESPACE: namespace,
      STORE_KIND: 'fs',
      STORE_ROOT: storeRoot,
      STREAM_REPLICAS: '3',
      NATS_PING_INTERVAL_MS: PING_MS,
      LOG_LEVEL: 'info',
      CODE_VERSION: 'multihost',
    };
    const [h1, h2, h3] = hosts.hosts as [Host, Host, Host];
    const define = (host: Host | undefined, service: 'orchestrator' | 'registry' | 'trainer' | 'gateway', id: string, env: Record<string, string>) =>
      defineHostService({ world: hosts, host, service, id, logDir, env: { ...common, ...env } }).then((s) => (services.push(s), s));
    // A host's replicas know only their own host's server (as a pod knows its local service); the cluster tells them of the others.
    const localNats = (h: Host) => nats.servers.find((s) => s.host === h)?.url ?? nats.urls;
    const orchestrator = await define(undefined, 'orchestrator', 'orchestrator', { NATS_URL: nats.urls, DATABASE_URL: db.url, AUTO_TRAIN_ENABLED: 'false' });
    // The gate is not under test: every version passes its class floor.
    const registry = await define(undefined, 'registry', 'registry', { NATS_URL: nats.urls, DATABASE_URL: db.url, GATE_CLASS_FLOOR: '0' });
    const trainers = await Promise.all(
      [h1, h2, h3].map((h, i) => define(h, 'trainer', `trainer-${i + 1}`, { NATS_URL: localNats(h), ...opts.trainerEnv, TRAINER_REPLICA_ID: `trainer-${i + 1}` })),
    );
    await Promise.all([orchestrator, registry, ...trainers].map((s) => s.start()));
    const gateways: ServiceProcess[] = [];
    let edge: ServiceProcess | undefined;
    if (opts.gateways) {
      for (const [h, id] of [[h2, 'gateway-a'], [h3, 'gateway-b']] as const) {
        gateways.push(await define(h, 'gateway', id, { NATS_URL: localNats(h), REGISTRY_URL: registry.url, PREDICTION_SAMPLE_SHARE: '0' }));
      }
      edge = await define(undefined, 'gateway', 'edge', { MODEL_REPLICAS: gateways.map((g) => g.url).join(','), LOG_LEVEL: 'info' });
    }
    await publishEvent(harnessBus, 'data.batch.validated', { ...validatedBatch, samples: version.trainSamples, datasetVersion: version }, { source: 'multihost-harness' });
    const placed = new Map<ServiceProcess, Host>(trainers.map((t, i) => [t, hosts.hosts[i]!] as const));
    gateways.forEach((g, i) => placed.set(g, i === 0 ? h2 : h3));
    const world: World = {
      hosts,
      nats,
      namespace,
      logDir,
      bus: harnessBus,
      orchestrator,
      registry,
      trainers,
      gateways,
      edge,
      tap,
      events,
      datasetVersion: version.id,
      hostOf: (s) => {
        const h = placed.get(s);
        if (!h) throw new Error(`${s.id} runs on no host (root namespace)`);
        return h;
      },
      services: () => [...services],
      logTails: (ids, lines = 25) =>
        [
          ...services.filter((s) => !ids || ids.includes(s.id)).map((s) => `===== ${s.id} (${s.proc.spec.logFile}) =====\n${s.proc.tail(lines)}`),
          ...(ids ? [] : nats.servers.map((s) => `===== ${s.name} =====\n${s.proc.tail(8)}`)),
        ].join('\n'),
      dispose,
    };
    return world;
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** Gateways are started by the scenario that uses them, once a version is registered (a replica serves the champion). */
export async function startGateways(world: World): Promise<void> {
  await Promise.all(world.gateways.map((g) => g.start()));
  if (world.edge) await world.edge.start();
}


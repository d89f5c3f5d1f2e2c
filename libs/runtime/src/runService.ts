import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import { describeError, type Logger } from '@mlpipe/common';
import { connectBus, useStreamLimits, useStreamReplicas, type Bus } from '@mlpipe/bus';
import { loadConfig, storeSettings, streamLimits, type BaseConfig } from '@mlpipe/config';
import { createPool, ensureDatabase, type Pool } from '@mlpipe/db';
import { createObjectStore, type ObjectStore } from '@mlpipe/storage';
import { createLogger } from './logger';
import { createMetricsRegistry } from './metrics';
import { startOpsServer } from './ops';
import { Shutdown } from './shutdown';
import { startupWait, waitForDependency } from './startupWait';
import { startTelemetry, type Telemetry } from './telemetry';

/** What a service needs the runtime to provide: a pg pool, the bus, the object store, or its own HTTP app. */
export type Need = 'db' | 'bus' | 'store' | 'http';

/** The settings every service has (libs/config's BaseConfig and an HTTP port). */
export type ServiceConfig = BaseConfig & { HTTP_PORT: number };

type Clients<N extends Need> = ('db' extends N ? { pool: Pool } : unknown) &
  ('bus' extends N ? { bus: Bus } : unknown) &
  ('store' extends N ? { store: ObjectStore } : unknown);

export type ServiceContext<C, N extends Need = Need> = {
  config: C;
  logger: Logger;
  metrics: Registry;
  /** True from the moment start() has returned (and the app listens) until shutdown begins. */
  isReady: () => boolean;
  /** Command-line values parsed with the service's `args` options. */
  args: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
} & Clients<N>;

/** What start() hands back: how to stop it, its HTTP app, and for a one-shot run its exit code. */
export interface RunningService {
  /** Stops consumers and waits for in-flight work; runs after the HTTP app has closed. */
  stop?: () => Promise<void> | void;
  /** With need 'http': the service's own app, listened on HTTP_PORT; it serves the ops routes too. */
  app?: FastifyInstance;
  /** A one-shot run (a CLI-ish mode): the process tears down and exits with this code once it resolves. */
  done?: Promise<number>;
}

export interface ServiceDefinition<S extends z.ZodObject, N extends Need> {
  name: string;
  configSchema: S;
  /** The clients to set up; a function of the config for a service with roles (the others stay absent). */
  needs: readonly N[] | ((config: Readonly<z.output<S>>) => readonly N[]);
  start: (ctx: ServiceContext<Readonly<z.output<S>>, N>) => Promise<RunningService>;
  /** Command-line options (node:util parseArgs), for one-shot modes. */
  args?: ParseArgsConfig['options'];
  /** Fields on every log line beside the service name (e.g. the replica id). */
  logBindings?: (config: Readonly<z.output<S>>) => Record<string, unknown>;
  /** The NATS connection name (the service name unless given). */
  busName?: (config: Readonly<z.output<S>>) => string;
  /** How long teardown may take before the process exits anyway. */
  shutdownDeadlineMs?: number;
}

/** Process-wide hooks, replaced in tests. */
export interface RuntimeHooks {
  env?: Record<string, string | undefined>;
  argv?: string[];
  exit?: (code: number) => void;
  /** Listen for SIGTERM/SIGINT (default true). */
  signals?: boolean;
  /** Stops the service like a signal would, once it resolves. */
  stop?: Promise<unknown>;
}

/**
 * The one start-up and teardown of every service process. In order: command line and config (a
 * wrong value stops it naming the key), telemetry (before the service module is imported, so its
 * instrumentation applies), logger, metrics, the ops server (alive, not ready yet), the clients it
 * needs, start(), listen (a service with its own HTTP app takes the port over from the ops server), ready.
 *
 * A client whose server is unreachable (NATS, PostgreSQL, the store down or not up yet) is tried
 * again, one log line per try, for up to STARTUP_WAIT_MS in all; past it, or at once on a permanent
 * failure (a bad URL, a rejected login), start-up fails. See startupWait.ts.
 *
 * Teardown, on SIGTERM/SIGINT, when a one-shot run is done, or when start-up fails, runs once with a
 * deadline, always in this order: not ready → HTTP app (finishes in-flight requests) → the service's
 * stop (consumers, in-flight handlers) → NATS drain → pg pool → ops server → telemetry. Steps whose
 * resource never came up do nothing; a signal while a dependency is awaited ends the wait.
 *
 * Resolves, after teardown, with the exit code it passes to `exit` (process.exit outside tests).
 */
export async function runService<S extends z.ZodObject, N extends Need>(
  def: ServiceDefinition<S, N>,
  hooks: RuntimeHooks = {},
): Promise<number> {
  const exit = hooks.exit ?? ((code: number) => process.exit(code));
  let config: Readonly<z.output<S>> & ServiceConfig;
  let args: ServiceContext<unknown>['args'];
  try {
    args = parseArgs({ args: hooks.argv ?? process.argv.slice(2), options: def.args ?? {}, strict: true }).values;
    config = loadConfig(def.configSchema, hooks.env ?? process.env) as Readonly<z.output<S>> & ServiceConfig;
  } catch (err) {
    return fail(def.name, err, exit);
  }
  const telemetry: Telemetry = startTelemetry(def.name, config.OTEL_EXPORTER_OTLP_ENDPOINT);
  const logger = createLogger(def.name, config.LOG_LEVEL, def.logBindings?.(config) ?? {});
  const metrics = createMetricsRegistry(def.name);
  const needs = new Set<Need>(typeof def.needs === 'function' ? def.needs(config) : def.needs);

  const up: { ops?: FastifyInstance | undefined; pool?: Pool; bus?: Bus; running?: RunningService } = {};
  let ready = false;
  const shutdown = new Shutdown(logger, def.shutdownDeadlineMs);
  shutdown.add('not ready', () => void (ready = false));
  shutdown.add('http (finishes in-flight requests)', () => up.running?.app?.close());
  shutdown.add('service (consumers, in-flight work)', () => up.running?.stop?.());
  shutdown.add('nats', () => up.bus?.close());
  shutdown.add('postgres', () => up.pool?.end());
  shutdown.add('ops server', () => up.ops?.close());
  shutdown.add('telemetry', () => telemetry.shutdown());
  const stopped = stopRequest(hooks);
  const isReady = () => ready && !up.bus?.nc.isClosed();

  // A stop request during start-up also ends a wait for a dependency at once.
  const stopping = new AbortController();
  void stopped.then(() => stopping.abort());

  const startUp = async (): Promise<RunningService> => {
    // Probes answer from the first moment (alive, not ready), also while the dependencies are awaited;
    // a service with its own app gets this server only until that app listens on the same port.
    up.ops = await startOpsServer({ port: config.HTTP_PORT, metrics, isReady });
    const wait = startupWait(config.STARTUP_WAIT_MS, logger, stopping.signal);
    if (needs.has('db')) {
      const url = config.DATABASE_URL;
      const connect = async () => (await ensureDatabase(url), await createPool(url));
      up.pool = await waitForDependency({ name: 'PostgreSQL', connect, release: (pool) => pool.end() }, wait);
    }
    if (needs.has('bus')) {
      const connect = () =>
        connectBus({ url: config.NATS_URL, name: def.busName?.(config) ?? def.name, namespace: config.BUS_NAMESPACE, user: config.NATS_USER, password: config.NATS_PASSWORD, logger, pingIntervalMs: config.NATS_PING_INTERVAL_MS });
      up.bus = await waitForDependency({ name: 'NATS', connect, release: (bus) => bus.close() }, wait);
      // The service's ensureStreams brings existing streams to these limits in place.
      useStreamLimits(up.bus, streamLimits(config));
      useStreamReplicas(up.bus, config.STREAM_REPLICAS);
    }
    const store = needs.has('store') ? createObjectStore(storeSettings(config)) : undefined;
    if (store) await waitForDependency({ name: `the object store (${store.description})`, connect: () => store.ensureReady() }, wait);
    const ctx = { config, logger, metrics, isReady, args, pool: up.pool, bus: up.bus, store } as unknown as ServiceContext<Readonly<z.output<S>>, N>;
    up.running = await def.start(ctx);
    if (needs.has('http')) {
      if (!up.running.app) throw new Error(`${def.name} needs 'http' but start() returned no app`);
      const interim = up.ops;
      up.ops = undefined;
      await interim?.close();
      await up.running.app.listen({ port: config.HTTP_PORT, host: '0.0.0.0' });
    }
    ready = true;
    return up.running;
  };

  // A signal during start-up tears down what is up so far; a failed start-up does the same, then exits 1.
  let outcome: { running: RunningService } | { signal: string };
  try {
    outcome = await Promise.race([startUp().then((running) => ({ running })), stopped.then((signal) => ({ signal }))]);
  } catch (err) {
    logger.error({ err: describeError(err) }, 'start-up failed');
    await shutdown.run('start-up failed');
    return fail(def.name, err, exit);
  }
  let code = 0;
  if ('running' in outcome && outcome.running.done) {
    // One-shot: its exit code, or 1 when a signal interrupts it (the work is not done).
    const finished = outcome.running.done.then(
      (c) => ({ code: c, reason: 'run finished' }),
      (err: unknown) => {
        logger.error({ err: describeError(err) }, 'run failed');
        console.error(`${def.name}: ${describeError(err)}`);
        return { code: 1, reason: 'run failed' };
      },
    );
    const end = await Promise.race([finished, stopped.then((signal) => ({ code: 1, reason: signal }))]);
    code = end.code;
    await shutdown.run(end.reason);
  } else {
    await shutdown.run('running' in outcome ? await stopped : outcome.signal);
  }
  exit(code);
  return code;
}

/** Resolves with the reason to stop: SIGTERM or SIGINT (or the test's own request). */
function stopRequest(hooks: RuntimeHooks): Promise<string> {
  return new Promise((resolve) => {
    void hooks.stop?.then(() => resolve('stop requested'));
    if (hooks.signals === false) return;
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve(signal));
  });
}

function fail(name: string, err: unknown, exit: (code: number) => void): number {
  console.error(`${name}: ${describeError(err)}`);
  exit(1);
  return 1;
}

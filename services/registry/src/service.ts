import type { FastifyInstance } from 'fastify';
import type { RegistryConfig } from '@mlpipe/config';
import { consumeEvents, ensureStreams, type Bus, type RunningConsumer } from '@mlpipe/bus';
import { migrate, type Pool } from '@mlpipe/db';
import type { Logger } from '@mlpipe/common';
import type { ModelAliasChanged } from '@mlpipe/contracts';
import { createOutbox, startOutboxRelay } from '@mlpipe/outbox';
import type { ObjectStore } from '@mlpipe/storage';
import { Counter, Gauge, type Registry } from 'prom-client';
import { createAuthGuard, createOidcVerifier, localResolver, oidcSettingsFrom, TokenStore } from '@mlpipe/auth';
import { buildRegistryApi } from './adapters/http';
import { REGISTRY_SCHEMA, migrations } from './adapters/migrations';
import { predictionLineage } from './adapters/lineage';
import { RegistryQueries } from './adapters/queries';
import { Registrar, type Registration } from './adapters/registrar';

export interface RegistryDeps {
  /** The gate's settings; the auth settings are optional (reads open to anyone without a token, no OIDC). */
  config: Pick<RegistryConfig, 'GATE_MARGIN' | 'GATE_CLASS_FLOOR'> &
    Partial<Pick<RegistryConfig, 'AUTH_ANONYMOUS_ROLE' | 'OIDC_JWKS_URL' | 'OIDC_ISSUER' | 'OIDC_AUDIENCE' | 'OIDC_ROLE_CLAIM' | 'OIDC_NAME_CLAIM'>>;
  bus: Bus;
  pool: Pool;
  store: ObjectStore;
  logger: Logger;
  metrics: Registry;
  /** The process's readiness (the runtime's); the registry is ready only while both are. */
  isReady?: () => boolean;
}

export interface RunningRegistry {
  app: FastifyInstance;
  registrar: Registrar;
  /** The API tokens (kept in this database's auth schema). */
  tokens: TokenStore;
  /** Stops consuming, then the outbox relay (the caller closes the HTTP server). */
  stop(): Promise<void>;
}

const SOURCE = 'registry';

/**
 * Wires the registry: migrations, the training-event consumer, the REST API (not yet listening),
 * and the outbox relay that publishes the versions and alias moves they commit.
 */
export async function startRegistry(deps: RegistryDeps): Promise<RunningRegistry> {
  const { bus, pool, store, logger, metrics } = deps;
  await migrate(pool, REGISTRY_SCHEMA, migrations);
  // The registry's database holds the API tokens; the gateway and UI check tokens through /auth/whoami.
  const tokens = new TokenStore(pool);
  await tokens.migrate();
  const oidc = oidcSettingsFrom({ OIDC_ROLE_CLAIM: 'mlpipe_role', OIDC_NAME_CLAIM: 'preferred_username', ...deps.config });
  const guard = createAuthGuard({
    resolve: localResolver({ tokens, oidc: oidc && createOidcVerifier(oidc) }),
    anonymousRole: deps.config.AUTH_ANONYMOUS_ROLE ?? 'viewer',
  });
  await ensureStreams(bus);
  await store.ensureReady();
  const registrar = new Registrar(pool, store, { margin: deps.config.GATE_MARGIN, classFloor: deps.config.GATE_CLASS_FLOOR }, createOutbox(REGISTRY_SCHEMA, SOURCE));
  const versions = new Counter({ name: 'mlpipe_registry_versions_total', help: 'Model versions registered', labelNames: ['model'], registers: [metrics] });
  const decisions = new Counter({ name: 'mlpipe_registry_gate_decisions_total', help: 'Gate decisions by outcome', labelNames: ['model', 'outcome'], registers: [metrics] });

  // The events themselves were enqueued with the rows (Registrar); here only what this process counts.
  const registered = (r: Registration): void => {
    const v = r.registered;
    versions.inc({ model: v.modelName });
    decisions.inc({ model: v.modelName, outcome: v.decision.outcome });
    logger.info({ model: v.modelName, version: v.version, decision: v.decision }, 'version registered');
    for (const change of r.aliasChanges) aliasMoved(change);
  };
  const championSince = new Gauge({ name: 'mlpipe_registry_champion_promoted_timestamp_seconds', help: 'When the current champion of a model was promoted (Unix seconds)', labelNames: ['model'], registers: [metrics] });
  for (const c of await new RegistryQueries(pool).championsPromotedAt()) championSince.set({ model: c.model }, c.at.getTime() / 1000);
  const aliasMoved = (change: ModelAliasChanged): void => {
    if (change.alias === 'champion') championSince.set({ model: change.modelName }, Date.now() / 1000);
  };

  const consumer: RunningConsumer = await consumeEvents(bus, {
    durable: 'registry-train-events',
    logger,
    metrics,
    maxInFlight: 1,
    handlers: {
      'train.job.started': (e) => registrar.runStarted(e.data),
      'train.job.progress': (e) => registrar.epochMetrics(e.data),
      'train.job.failed': (e) => registrar.runFailed(e.data),
      'train.job.cancelled': (e) => registrar.runCancelled(e.data),
      'train.job.completed': async (e) => {
        const r = await registrar.register(e.data);
        if (r) registered(r);
        else logger.info({ runId: e.data.jobId, sweep: e.data.sweep }, 'sweep trial recorded; the sweep registers its best');
      },
      'train.sweep.completed': async (e) => {
        const r = await registrar.sweepCompleted(e.data);
        logger.info({ sweepId: e.data.sweepId, best: e.data.bestJobId, reason: e.data.reason }, 'sweep finished');
        if (r) registered(r);
      },
    },
  });

  let ready = true;
  const queries = new RegistryQueries(pool);
  const app = await buildRegistryApi({
    queries,
    pool,
    lineage: (id, model) => predictionLineage(id, model, { store, pool, queries }),
    store,
    logger,
    metrics,
    isReady: () => ready && (deps.isReady?.() ?? true),
    guard,
    tokens,
    // The reply is the committed move; its event follows through the relay (within a poll, usually at once).
    promote: async (model, alias, version, reason, actor) => {
      const change = await registrar.promote(model, alias, version, reason, actor);
      aliasMoved(change);
      return change;
    },
  });
  // Last, so nothing above can fail with it running; what was committed meanwhile waits in the table.
  const relay = startOutboxRelay({ pool, bus, schema: REGISTRY_SCHEMA, logger, metrics });
  return {
    app,
    registrar,
    tokens,
    stop: async () => {
      ready = false;
      await consumer.stop();
      // After the consumer, whose last handler may still enqueue.
      await relay.stop();
    },
  };
}

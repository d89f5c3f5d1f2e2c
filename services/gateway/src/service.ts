import type { FastifyInstance } from 'fastify';
import { subscribeEvents, type Bus } from '@mlpipe/bus';
import { ConfigError, type Logger } from '@mlpipe/common';
import type { GatewayConfig } from '@mlpipe/config';
import { initBackend, loadOnnxRuntime } from '@mlpipe/ml';
import { artefactPrefixProblem, type ModelVersionRegistered } from '@mlpipe/contracts';
import type { RunningService, ServiceContext } from '@mlpipe/runtime';
import type { ObjectStore } from '@mlpipe/storage';
import { Counter, type Registry } from 'prom-client';
import { createAuthGuard, remoteResolver, type AuthGuard } from '@mlpipe/auth';
import { buildGateway, type GatewayHttpDeps } from './http';
import { Routing } from './core/routing';
import type { TrafficPolicy } from './core/traffic';
import { ModelCache } from './adapters/modelCache';
import type { ReplicaRuntime } from './adapters/servedModel';
import { runtimeReporting } from './adapters/runtimeMetrics';
import { chooseRuntime, type RuntimeSetting } from './core/runtime';
import { PredictionLog } from './adapters/predictionLog';
import { PredictionRetention } from './adapters/predictionRetention';
import { InferenceMetrics } from './adapters/inferenceMetrics';
import { Predictor } from './app/predictor';
import { Batcher } from './app/batcher';
import { DEFAULT_BATCH_POLICY, type BatchPolicy } from './core/batchQueue';
import { AliasRefresh } from './app/aliasRefresh';
import { grpcAuthOf, type CallAuthorizer } from './grpcAuth';
import { listenGrpc, type GrpcServing } from './grpcServing';
import { buildGrpcGateway } from './grpcGateway';

export interface RunningGateway {
  app: FastifyInstance;
  models: ModelCache;
  /** Writes out sampled predictions now (tests, shutdown). */
  flushPredictions(): Promise<void>;
  setReady(ready: boolean): void;
  /** Serves OIP gRPC beside the HTTP app, through the same predictor and routing (port 0: a free one); stop() closes it. */
  listenGrpc(opts: { port: number; host?: string }): Promise<GrpcServing>;
  stop(): Promise<void>;
}

/** Wires the gateway: the model cache on the registry, alias moves from NATS (and the refresh for missed ones), the predictor and its routing, the HTTP app (not yet listening). */
export function startGateway(deps: {
  registryUrl: string;
  bus: Bus;
  logger: Logger;
  metrics: Registry;
  cacheSize?: number;
  bodyLimitBytes?: number;
  pinnedVersion?: number | undefined;
  traffic?: TrafficPolicy;
  random?: () => number;
  /** With a store, predictions are sampled into it (drift monitoring, lineage). */
  /** retentionMs: logs older than this are deleted (every retentionSweepMs, default 1 h); unset or 0 keeps them. */
  sampling?: { store: ObjectStore; share: number; flushMs: number; retentionMs?: number; retentionSweepMs?: number };
  /** The process's readiness (the runtime's); the gateway is ready only while both are. */
  isReady?: () => boolean;
  /** Held aliases are read from the registry again this often, and after every reconnect (default 30 s). */
  aliasTtlMs?: number;
  /** GATEWAY_AUTH=token: inference needs a valid token (see authGuardOf). */
  guard?: AuthGuard | undefined;
  /** GATEWAY_AUTH=token for gRPC calls (see grpcAuthOf). */
  grpcAuthorize?: CallAuthorizer | undefined;
  /** The gateway's own token for its registry reads (a registry with AUTH_ANONYMOUS_ROLE=none). */
  registryToken?: string | undefined;
  /** The store the registry keeps artefacts in: models load from it directly when the registry cannot be reached. */
  store?: ObjectStore;
  /** Bounds on uploaded images (bytes, declared pixels, decode memory); the schema's defaults without it. */
  imageLimits?: GatewayHttpDeps['imageLimits'];
  /** Dynamic batching (GATEWAY_BATCHING and GATEWAY_BATCH_*); on with the schema's defaults without it. */
  batching?: BatchPolicy & { enabled: boolean };
  /** GATEWAY_RUNTIME as resolved by replicaRuntime (onnx: versions with a verified ONNX export are served by onnxruntime-node); tfjs without it. */
  runtime?: ReplicaRuntime;
}): RunningGateway {
  const reporting = runtimeReporting(deps.metrics, deps.logger);
  const models = new ModelCache({ registryUrl: deps.registryUrl, registryToken: deps.registryToken, capacity: deps.cacheSize ?? 4, store: deps.store, runtime: deps.runtime, ...reporting });
  // What the alias subscription missed (an outage, a lost message) is healed by reading the aliases again.
  const refreshed = new Counter({ name: 'mlpipe_alias_refresh_total', help: 'Held aliases brought in line with the registry, by trigger (event, reconnect, ttl) and outcome (moved; failed: the read or the load failed, the version in hand kept)', labelNames: ['trigger', 'outcome'], registers: [deps.metrics] });
  const aliasRefresh = new AliasRefresh({ models, logger: deps.logger, ttlMs: deps.aliasTtlMs ?? 30_000, onOutcome: (trigger, outcome) => refreshed.inc({ trigger, outcome }) });
  // An alias move takes effect without a restart, once its version is loaded; where versions are
  // kept is remembered from their registration, so they load from the store if the registry is away.
  const aliasSub = subscribeEvents(deps.bus, 'model.alias.changed', (e) => void aliasRefresh.follow(e.data), deps.logger);
  const versionSub = subscribeEvents(deps.bus, 'model.version.registered', (e) => learnVersion(e.data), deps.logger);
  // A live subscription has no dead-letter stream: an announcement whose files lie outside its own
  // model's job folder is logged and counted, and its place is never used.
  const refusedPlaces = new Counter({ name: 'mlpipe_gateway_refused_artefact_places_total', help: 'model.version.registered events ignored because their artefact prefix lies outside their own model and job', registers: [deps.metrics] });
  const learnVersion = (d: ModelVersionRegistered) => {
    const problem = artefactPrefixProblem(d.artefactPrefix, { kind: 'model', modelName: d.modelName, jobId: d.jobId });
    if (!problem) return models.learnVersion(d.modelName, d.version, d);
    refusedPlaces.inc();
    deps.logger.warn({ modelName: d.modelName, version: d.version, jobId: d.jobId, reason: problem }, 'ignoring a model.version.registered whose artefacts lie outside its own folder');
  };
  aliasRefresh.start();
  const unwatch = deps.bus.connection.onReconnect((downMs) => {
    deps.logger.info({ downMs }, 'NATS is back: reading the served aliases again, in case a move was missed');
    void aliasRefresh.refresh('reconnect');
  });
  const sampled = new Counter({ name: 'mlpipe_predictions_sampled_total', help: 'Predictions written to the store for drift monitoring, or dropped when the store stayed unreachable', labelNames: ['outcome'], registers: [deps.metrics] });
  const predictionLog =
    deps.sampling && deps.sampling.share > 0
      ? new PredictionLog({
          store: deps.sampling.store,
          logger: deps.logger,
          sampleShare: deps.sampling.share,
          flushMs: deps.sampling.flushMs,
          onFlushed: (n) => sampled.inc({ outcome: 'written' }, n),
          onDropped: (n) => sampled.inc({ outcome: 'dropped' }, n),
        })
      : undefined;
  // The gateway writes the prediction logs, so it also deletes them past their retention (also with sampling off).
  const deletedLogs = new Counter({ name: 'mlpipe_prediction_logs_deleted_total', help: 'Prediction logs deleted past PREDICTION_RETENTION_MS', registers: [deps.metrics] });
  const retention = deps.sampling?.retentionMs
    ? new PredictionRetention({ store: deps.sampling.store, logger: deps.logger, maxAgeMs: deps.sampling.retentionMs, sweepMs: deps.sampling.retentionSweepMs ?? 3_600_000, onDeleted: (n) => deletedLogs.inc(n) })
    : undefined;
  const routing = new Routing({ pinnedVersion: deps.pinnedVersion, traffic: deps.traffic, random: deps.random });
  const inferenceMetrics = new InferenceMetrics(deps.metrics);
  const batcher = new Batcher({ ...(deps.batching ?? { ...DEFAULT_BATCH_POLICY, enabled: true }), metrics: inferenceMetrics });
  const predictor = new Predictor({ models, metrics: inferenceMetrics, batcher, logger: deps.logger, predictionLog });
  let ready = true;
  const isReady = () => ready && (deps.isReady?.() ?? true);
  const app = buildGateway({
    models,
    routing,
    predictor,
    metrics: deps.metrics,
    logger: deps.logger,
    isReady,
    guard: deps.guard,
    ...(deps.bodyLimitBytes ? { bodyLimitBytes: deps.bodyLimitBytes } : {}),
    ...(deps.imageLimits ? { imageLimits: deps.imageLimits } : {}),
  });
  const grpcServers: GrpcServing[] = [];
  return {
    app,
    models,
    setReady: (r) => void (ready = r),
    flushPredictions: async () => predictionLog?.flush(),
    listenGrpc: async (opts) => {
      const server = buildGrpcGateway({ models, routing, predictor, logger: deps.logger, isReady, authorize: deps.grpcAuthorize });
      const serving = await listenGrpc(server, { ...opts, isReady });
      grpcServers.push(serving);
      return serving;
    },
    stop: async () => {
      // gRPC calls in flight finish first (as the runtime closes the HTTP app before stop), then the batcher runs what is queued.
      await Promise.all(grpcServers.map((g) => g.close()));
      await batcher.flush();
      unwatch();
      aliasRefresh.stop();
      aliasSub.unsubscribe();
      versionSub.unsubscribe();
      await predictionLog?.close();
      await retention?.stop();
    },
  };
}

/** GATEWAY_AUTH=token: tokens are checked with the registry (GET /auth/whoami), each trusted for AUTH_CACHE_MS. */
export function authGuardOf(config: Pick<GatewayConfig, 'GATEWAY_AUTH' | 'REGISTRY_URL' | 'AUTH_CACHE_MS'>): AuthGuard | undefined {
  if (config.GATEWAY_AUTH === 'open') return undefined;
  return createAuthGuard({ resolve: remoteResolver({ registryUrl: config.REGISTRY_URL, cacheMs: config.AUTH_CACHE_MS }), anonymousRole: 'none' });
}

/**
 * The gateway as the runtime starts it, in one of its two roles (see main.ts): the edge over
 * MODEL_REPLICAS (no bus, no store), or a model replica.
 */
export async function serveGateway(ctx: ServiceContext<GatewayConfig, 'bus' | 'store' | 'http'>): Promise<RunningService> {
  const { config, logger, metrics, isReady } = ctx;
  const replicas = config.MODEL_REPLICAS?.split(',').map((u) => u.trim()).filter(Boolean) ?? [];
  if (replicas.length) {
    const { buildEdge } = await import('./edge');
    const { ReplicaPool } = await import('./adapters/replicaPool');
    const pool = new ReplicaPool(replicas, config.REPLICA_TIMEOUT_MS);
    const app = buildEdge({ pool, metrics, logger, isReady, bodyLimitBytes: config.BODY_LIMIT_BYTES, guard: authGuardOf(config) });
    const grpc = config.GATEWAY_GRPC_PORT ? await unlessPortTaken(logger, config.GATEWAY_GRPC_PORT, () => serveGrpcEdge(config, replicas, ctx)) : undefined;
    logger.info({ replicas, grpc: grpc?.addresses }, 'gateway edge balancing over model replicas');
    return {
      app,
      stop: async () => {
        await grpc?.serving.close();
        grpc?.pool.stop();
        pool.stop();
      },
    };
  }
  const backend = await initBackend('auto');
  logger.info(backend, `tensorflow.js backend: ${backend.name}`);
  const runtime = await replicaRuntime(config.GATEWAY_RUNTIME);
  logger.info({ runtime: runtime.runtime, reason: runtime.reason }, `model replica serves with ${runtime.runtime}`);
  const gateway = startGateway({
    registryUrl: config.REGISTRY_URL,
    bus: ctx.bus,
    logger,
    metrics,
    isReady,
    cacheSize: config.MODEL_CACHE_SIZE,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    pinnedVersion: config.MODEL_VERSION,
    traffic: { canaryShare: config.CANARY_SHARE, shadow: config.SHADOW_CHALLENGER },
    sampling: {
      store: ctx.store,
      share: config.PREDICTION_SAMPLE_SHARE,
      flushMs: config.PREDICTION_FLUSH_MS,
      retentionMs: config.PREDICTION_RETENTION_MS,
      retentionSweepMs: config.PREDICTION_RETENTION_SWEEP_MS,
    },
    aliasTtlMs: config.GATEWAY_ALIAS_TTL_MS,
    guard: authGuardOf(config),
    grpcAuthorize: grpcAuthOf(config),
    registryToken: config.REGISTRY_TOKEN,
    store: ctx.store,
    imageLimits: { maxBytes: config.GATEWAY_MAX_IMAGE_BYTES, maxPixels: config.GATEWAY_MAX_IMAGE_PIXELS, maxDecodeMB: config.GATEWAY_MAX_DECODE_MB },
    batching: { enabled: config.GATEWAY_BATCHING === 'on', maxBatchSize: config.GATEWAY_BATCH_MAX_SIZE, maxDelayMs: config.GATEWAY_BATCH_MAX_DELAY_MS, maxQueue: config.GATEWAY_BATCH_MAX_QUEUE },
    runtime,
  });
  if (config.GATEWAY_GRPC_PORT) {
    const grpc = await unlessPortTaken(logger, config.GATEWAY_GRPC_PORT, () => gateway.listenGrpc({ port: config.GATEWAY_GRPC_PORT }));
    if (grpc) logger.info({ port: grpc.port }, 'Open Inference Protocol gRPC listening');
  }
  return { app: gateway.app, stop: () => gateway.stop() };
}

/** GATEWAY_RUNTIME resolved on this machine: onnxruntime-node is loaded only when the setting may use it (core/runtime decides). */
export async function replicaRuntime(setting: RuntimeSetting): Promise<ReplicaRuntime & { reason: string }> {
  const ort = setting === 'tfjs' ? undefined : await loadOnnxRuntime();
  const choice = chooseRuntime(setting, ort !== undefined);
  return choice.runtime === 'onnx' && ort ? { runtime: 'onnx', ort, reason: choice.reason } : { runtime: 'tfjs', reason: choice.reason };
}

/**
 * The edge's gRPC side: the replicas' gRPC addresses are MODEL_REPLICAS_GRPC (in MODEL_REPLICAS order),
 * or each MODEL_REPLICAS host with the same GATEWAY_GRPC_PORT (replicas run with the edge's config).
 */
async function serveGrpcEdge(config: GatewayConfig, replicas: string[], ctx: Pick<ServiceContext<GatewayConfig, 'http'>, 'metrics' | 'logger' | 'isReady'>) {
  const { GrpcReplicaPool } = await import('./adapters/grpcReplicaPool');
  const { buildGrpcEdge } = await import('./grpcEdge');
  const addresses = replicaGrpcAddresses(replicas, config.MODEL_REPLICAS_GRPC, config.GATEWAY_GRPC_PORT);
  const pool = new GrpcReplicaPool(addresses, config.REPLICA_TIMEOUT_MS);
  const server = buildGrpcEdge({ pool, metrics: ctx.metrics, logger: ctx.logger, isReady: ctx.isReady, authorize: grpcAuthOf(config) });
  try {
    const serving = await listenGrpc(server, { port: config.GATEWAY_GRPC_PORT, isReady: () => ctx.isReady() && pool.healthyCount() > 0 });
    return { pool, serving, addresses };
  } catch (err) {
    pool.stop();
    throw err;
  }
}

/**
 * Starts the gRPC side, except that a port already taken costs only gRPC, loudly: several gateways on
 * one host (the tests and the benchmark spawn replicas with only HTTP_PORT apart) share the default
 * GATEWAY_GRPC_PORT, and must not fail their HTTP side for it. In a pod (own network) it does not
 * happen; there the gRPC health probe would show it. Any other failure to listen stops the start-up.
 */
async function unlessPortTaken<T>(logger: Logger, port: number, start: () => Promise<T>): Promise<T | undefined> {
  try {
    return await start();
  } catch (err) {
    if (!/EADDRINUSE/.test((err as Error).message)) throw err;
    logger.error({ err, port }, `gRPC is not served: port ${port} is in use (several gateways on one host?); set GATEWAY_GRPC_PORT to a free port, or 0 to turn gRPC off`);
    return undefined;
  }
}

/** host:port of each replica's gRPC server; a list that does not pair with MODEL_REPLICAS is a ConfigError. */
export function replicaGrpcAddresses(replicaUrls: string[], explicit: string | undefined, grpcPort: number): string[] {
  const listed = explicit?.split(',').map((a) => a.trim()).filter(Boolean) ?? [];
  if (listed.length) {
    if (listed.length !== replicaUrls.length)
      throw new ConfigError(`MODEL_REPLICAS_GRPC has ${listed.length} addresses for ${replicaUrls.length} MODEL_REPLICAS: give one host:port per replica, in the same order`);
    return listed;
  }
  return replicaUrls.map((u) => {
    let host: string;
    try {
      host = new URL(u).hostname;
    } catch (cause) {
      throw new ConfigError(`MODEL_REPLICAS entry "${u}" is not a URL`, { cause });
    }
    return `${host.includes(':') ? `[${host.replace(/^\[|\]$/g, '')}]` : host}:${grpcPort}`;
  });
}

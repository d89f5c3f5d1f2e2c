import { hostname } from 'node:os';
import { z } from 'zod';
import { DEFAULT_STREAM_LIMITS, RECIPE_NAMES } from '@mlpipe/contracts';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const bool = (fallback: boolean) => z.stringbool().default(fallback);

const limit = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

/**
 * What each JetStream stream keeps (docs/events.md#retention): messages older than MAX_AGE_MS or
 * beyond MAX_BYTES are dropped oldest first, and publishing goes on; 0 is no limit. Every service
 * brings the streams to its values at start-up, so give all services the same ones.
 */
const STREAM_LIMIT_SETTINGS = {
  STREAM_DATA_MAX_AGE_MS: limit(DEFAULT_STREAM_LIMITS.DATA.maxAgeMs),
  STREAM_DATA_MAX_BYTES: limit(DEFAULT_STREAM_LIMITS.DATA.maxBytes),
  STREAM_TRAIN_MAX_AGE_MS: limit(DEFAULT_STREAM_LIMITS.TRAIN.maxAgeMs),
  STREAM_TRAIN_MAX_BYTES: limit(DEFAULT_STREAM_LIMITS.TRAIN.maxBytes),
  STREAM_MODEL_MAX_AGE_MS: limit(DEFAULT_STREAM_LIMITS.MODEL.maxAgeMs),
  STREAM_MODEL_MAX_BYTES: limit(DEFAULT_STREAM_LIMITS.MODEL.maxBytes),
  STREAM_DLQ_MAX_AGE_MS: limit(DEFAULT_STREAM_LIMITS.DLQ.maxAgeMs),
  STREAM_DLQ_MAX_BYTES: limit(DEFAULT_STREAM_LIMITS.DLQ.maxBytes),
};

/** Settings every service shares: where the bus, the database and the object store are. */
export const BaseConfigSchema = z
  .object({
    NATS_URL: z.string().default('nats://127.0.0.1:4222'),
    /** This service's NATS user and password (its rights: libs/bus/src/accounts.ts); unset for a server without users. */
    NATS_USER: z.string().min(1).optional(),
    NATS_PASSWORD: z.string().min(1).optional(),
    /** How often the client pings its NATS server; 3 unanswered and it moves to another server of the cluster. */
    NATS_PING_INTERVAL_MS: z.coerce.number().int().min(500).default(120_000),
    BUS_NAMESPACE: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/)
      .default('mlpipe'),
    DATABASE_URL: z.string().default('postgres://postgres@127.0.0.1:5432/mlpipe'),
    STORE_KIND: z.enum(['fs', 's3']).default('fs'),
    STORE_ROOT: z.string().default('.mlpipe/store'),
    S3_ENDPOINT: z.url().optional(),
    S3_BUCKET: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'a DNS-style bucket name')
      .default('mlpipe'),
    S3_ACCESS_KEY: z.string().optional(),
    S3_SECRET_KEY: z.string().optional(),
    S3_REGION: z.string().default('us-east-1'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
    /** How long start-up waits, in all, for NATS, PostgreSQL and the store to be reachable before the process exits (0: one try). */
    STARTUP_WAIT_MS: z.coerce.number().int().min(0).default(120_000),
    ...STREAM_LIMIT_SETTINGS,
    /** Copies of each stream and KV bucket on a NATS cluster (3 on three servers: one may be lost); 1 for a single server. */
    STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  })
  .strict();

type StoreFields = Pick<
  z.output<typeof BaseConfigSchema>,
  'STORE_KIND' | 'S3_ENDPOINT' | 'S3_ACCESS_KEY' | 'S3_SECRET_KEY'
>;

/** Cross-field rule: S3 needs an endpoint and credentials. */
function requireS3Settings(cfg: StoreFields, ctx: z.RefinementCtx): void {
  if (cfg.STORE_KIND !== 's3') return;
  for (const key of ['S3_ENDPOINT', 'S3_ACCESS_KEY', 'S3_SECRET_KEY'] as const) {
    if (!cfg[key]) ctx.addIssue({ code: 'custom', path: [key], message: `${key} is required when STORE_KIND=s3` });
  }
}

function serviceSchema<T extends z.ZodRawShape>(httpPort: number, extra: T) {
  return BaseConfigSchema.extend({ HTTP_PORT: port(httpPort), ...extra }).superRefine((cfg, ctx) => requireS3Settings(cfg as StoreFields, ctx));
}

/**
 * Who may do what (docs/security.md): a request without a token gets AUTH_ANONYMOUS_ROLE (`viewer`:
 * reads stay open, the laptop demo's default; `none`: every route needs a token, for clusters).
 */
const AUTH_SETTINGS = {
  AUTH_ANONYMOUS_ROLE: z.enum(['none', 'viewer']).default('viewer'),
};

export const DatasetWatcherConfigSchema = serviceSchema(8084, {
  DATA_PREFIX: z.string().default('incoming/'),
  DATA_POLL_MS: z.coerce.number().int().min(100).default(2000),
  /** Optional NATS subject on which MinIO publishes bucket notifications; polling still runs as a safety net. */
  DATA_NOTIFY_SUBJECT: z.string().optional(),
  /** Reject a batch whose smallest class is below this share of the mean class count (small batches exempt). */
  DATA_MIN_CLASS_SHARE: z.coerce.number().min(0).max(1).default(0.2),
  /** Reject a batch when more than this share of its samples were already known. */
  DATA_MAX_DUPLICATE_SHARE: z.coerce.number().min(0).max(1).default(0.05),
  /** Reject a batch whose folder holds more bytes than this (checked from the listing, before anything is read). */
  DATA_MAX_BATCH_BYTES: z.coerce.number().int().min(1024).default(256 * 1024 * 1024),
  /** Reject a batch of more samples than this (a whole MNIST split, 60 000, fits). */
  DATA_MAX_BATCH_SAMPLES: z.coerce.number().int().min(1).default(100_000),
  /** Reject a png-csv batch whose labels CSV has more rows than this (checked before its images are read). */
  DATA_MAX_CSV_ROWS: z.coerce.number().int().min(1).default(100_000),
  /** Drift monitoring of the gateway's sampled predictions against each version's training data. */
  DRIFT_ENABLED: bool(true),
  /** Predictions of one model version judged together. */
  DRIFT_WINDOW: z.coerce.number().int().min(20).default(200),
  DRIFT_POLL_MS: z.coerce.number().int().min(100).default(5000),
});

export const OrchestratorConfigSchema = serviceSchema(8082, {
  /** Retrain when this many new labelled train samples arrived since the champion's data. */
  RETRAIN_MIN_NEW_SAMPLES: z.coerce.number().int().min(1).default(500),
  /** After drift on the champion, this many new labelled train samples are enough to retrain. */
  RETRAIN_MIN_NEW_SAMPLES_ON_DRIFT: z.coerce.number().int().min(1).default(50),
  /** The recipe automatically triggered jobs start from (see RECIPES in libs/contracts). */
  AUTO_RECIPE: z.enum(RECIPE_NAMES).default('fast'),
  /** Hyperparameters for automatically triggered jobs (JSON, merged over the recipe). */
  AUTO_HYPERPARAMS: z.string().default('{}'),
  AUTO_MODEL_NAME: z.string().default('mnist'),
  AUTO_TRAIN_ENABLED: bool(true),
  /** Data-parallel replicas of automatically triggered jobs. */
  AUTO_REPLICAS: z.coerce.number().int().min(1).max(64).default(1),
  /** Caps on what one submitted job (or sweep trial) may ask for; past them the request is refused with 400 and the reason. */
  QUOTA_MAX_EPOCHS: z.coerce.number().int().min(1).default(50),
  QUOTA_MAX_REPLICAS: z.coerce.number().int().min(1).max(64).default(8),
  QUOTA_MAX_BATCH_SIZE: z.coerce.number().int().min(1).default(1024),
  /** Set, a submitted job must train on a subset of at most this many samples (trainSubset 1..N; 0, all, is refused); 0: no cap. */
  QUOTA_MAX_TRAIN_SUBSET: z.coerce.number().int().min(0).default(0),
  /** Trials one sweep may have. */
  QUOTA_MAX_SWEEP_TRIALS: z.coerce.number().int().min(1).max(100).default(50),
  /** Queued and running jobs one principal (submittedBy, "anonymous" when absent) may have at once; past it, 429. */
  QUOTA_MAX_ACTIVE_JOBS: z.coerce.number().int().min(1).default(50),
});

export const TrainerConfigSchema = serviceSchema(8085, {
  TRAINER_BACKEND: z.enum(['auto', 'node', 'wasm', 'cpu']).default('auto'),
  /** Unique per replica: the host name (a pod's name) and the process id. */
  TRAINER_REPLICA_ID: z.string().min(1).default(`trainer-${hostname()}-${process.pid}`),
  /**
   * A job whose trainer stops confirming it for this long is handed to another replica. A live
   * replica confirms every quarter of it, so this bounds the hand-over after a replica dies.
   */
  TRAINER_ACK_WAIT_MS: z.coerce.number().int().min(1000).default(20_000),
  /** A job with no progress (step, epoch, evaluation) for this long is given back and the replica freed. */
  TRAINER_WATCHDOG_MS: z.coerce.number().int().min(1000).default(120_000),
  /** Checkpoint mid-epoch once the last checkpoint is this old (0: only at epoch ends). */
  TRAINER_CHECKPOINT_EVERY_MS: z.coerce.number().int().min(0).default(30_000),
  /** How long a store call waits out a transient failure (the store restarting) before the attempt gives up. */
  TRAINER_STORE_RETRY_MS: z.coerce.number().int().min(0).default(300_000),
  TRAINER_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
  /** Data-parallel groups: how often members beat, and when a silent or stalled member is dropped. */
  TRAINER_HEARTBEAT_MS: z.coerce.number().int().min(50).default(1000),
  TRAINER_HEARTBEAT_TIMEOUT_MS: z.coerce.number().int().min(200).default(10_000),
  TRAINER_STEP_TIMEOUT_MS: z.coerce.number().int().min(500).default(60_000),
  /** How long rank 0 waits for the group to fill before starting with fewer replicas. */
  TRAINER_JOIN_WINDOW_MS: z.coerce.number().int().min(0).default(20_000),
  /** How long a worker replica looks for its job's coordinator before giving the task up. */
  TRAINER_JOIN_TIMEOUT_MS: z.coerce.number().int().min(500).default(60_000),
  /** A NATS outage up to this long is ridden out in place by a group; a longer one ends the attempt. */
  TRAINER_OUTAGE_TOLERANCE_MS: z.coerce.number().int().min(1000).default(60_000),
  /** A data-parallel step without progress for this long is announced again (frames lost in an outage). */
  TRAINER_RETRANSMIT_MS: z.coerce.number().int().min(100).default(5000),
  /** Time to live of the coordinator's lease in JetStream KV: a dead coordinator's job is free after it. */
  TRAINER_LEASE_TTL_MS: z.coerce.number().int().min(1000).default(10_000),
  /** Jobs with `exchange: ring`: a member that hears nothing from its ring neighbour this long sends its gradient to the coordinator instead. */
  TRAINER_RING_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  /** Largest NATS message of the gradient exchange (bigger payloads are split); capped by the server's max_payload. */
  TRAINER_MAX_PART_BYTES: z.coerce.number().int().min(1024).optional(),
  CODE_VERSION: z.string().default('dev'),
});

export const RegistryConfigSchema = serviceSchema(8081, {
  /** A new version must beat the champion's test accuracy by at least this much. */
  GATE_MARGIN: z.coerce.number().min(0).max(1).default(0.002),
  /** No class may fall below this test accuracy for a version to become champion. */
  GATE_CLASS_FLOOR: z.coerce.number().min(0).max(1).default(0.9),
  PUBLIC_URL: z.string().default('http://127.0.0.1:8081'),
  ...AUTH_SETTINGS,
  /** Optional OIDC (docs/security.md#oidc): JWTs verified against the identity provider's key set; all three set or none. */
  OIDC_JWKS_URL: z.url().optional(),
  OIDC_ISSUER: z.string().min(1).optional(),
  OIDC_AUDIENCE: z.string().min(1).optional(),
  /** The claim holding the mlpipe role (a name or a list such as groups; dots for nesting). */
  OIDC_ROLE_CLAIM: z.string().min(1).default('mlpipe_role'),
  /** The claim naming the principal (the audit actor); `sub` when the token has none. */
  OIDC_NAME_CLAIM: z.string().min(1).default('preferred_username'),
});

export const GatewayConfigSchema = serviceSchema(8080, {
  REGISTRY_URL: z.string().default('http://127.0.0.1:8081'),
  /** Comma-separated model replica URLs: set, the gateway is an edge that balances over them; unset, it serves models itself. */
  MODEL_REPLICAS: z.string().optional(),
  REPLICA_TIMEOUT_MS: z.coerce.number().int().min(50).default(5000),
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(1024 * 1024),
  MODEL_CACHE_SIZE: z.coerce.number().int().min(1).default(4),
  /** Pin the served version (set by continuous training via the chart); unset, requests without one get the champion. */
  MODEL_VERSION: z.coerce.number().int().positive().optional(),
  /** Share of requests naming only the model that the challenger answers (canary), 0..1. */
  CANARY_SHARE: z.coerce.number().min(0).max(1).default(0),
  /** The challenger also scores champion-answered requests; its answers are logged and counted, not returned. */
  SHADOW_CHALLENGER: bool(false),
  /**
   * Share of predictions sampled (inputs and outputs) into the store for drift monitoring and lineage; 0 turns it off.
   * Below 1 so not every input is kept: a drift window of DRIFT_WINDOW samples then needs DRIFT_WINDOW / share predictions.
   */
  PREDICTION_SAMPLE_SHARE: z.coerce.number().min(0).max(1).default(0.1),
  /** Prediction logs older than this are deleted by the gateway (0 keeps them for ever); default 30 days. */
  PREDICTION_RETENTION_MS: z.coerce.number().int().min(0).default(30 * 24 * 3_600_000),
  /** How often the gateway looks for prediction logs past their retention. */
  PREDICTION_RETENTION_SWEEP_MS: z.coerce.number().int().min(1000).default(3_600_000),
  PREDICTION_FLUSH_MS: z.coerce.number().int().min(100).default(5000),
  /** Served aliases are read from the registry again this often (and after every NATS reconnect), so a missed alias event is healed. */
  GATEWAY_ALIAS_TTL_MS: z.coerce.number().int().min(100).default(30_000),
  /** Inference routes (/v2/..., /predict, /explain, /models): `open` to anyone (the laptop demo), or `token` (any valid token, viewer and up). */
  GATEWAY_AUTH: z.enum(['open', 'token']).default('open'),
  /** The gateway's own token for reading models from the registry (needed where the registry has AUTH_ANONYMOUS_ROLE=none). */
  REGISTRY_TOKEN: z.string().min(1).optional(),
  /** How long a token checked with the registry is trusted before it is checked again (a revoked token works at most this long). */
  AUTH_CACHE_MS: z.coerce.number().int().min(0).default(30_000),
  /** An uploaded image (PNG/JPEG, raw or base64) larger than this is refused with 400 before it is read. */
  GATEWAY_MAX_IMAGE_BYTES: z.coerce.number().int().min(1024).default(1024 * 1024),
  /** An image whose header declares more pixels than this is refused with 400 before any decode (a decompression bomb). */
  GATEWAY_MAX_IMAGE_PIXELS: z.coerce.number().int().min(784).max(16_777_216).default(4_000_000),
  /** Memory the JPEG decoder may allocate for one image, in MB. */
  GATEWAY_MAX_DECODE_MB: z.coerce.number().int().min(1).max(2048).default(128),
  /** Dynamic batching in a model replica: requests for the same version share one model call; `off` runs each alone (for comparison). */
  GATEWAY_BATCHING: z.enum(['on', 'off']).default('on'),
  /** What runs predictions in a model replica: `auto` onnxruntime-node when it loads, else tfjs; `onnx` requires it; `tfjs`. A version without a verified ONNX export is served by tfjs either way (docs/serving.md#runtimes). */
  GATEWAY_RUNTIME: z.enum(['auto', 'onnx', 'tfjs']).default('auto'),
  /** Images per model call at most; a single larger request (OIP allows 256) runs alone. */
  GATEWAY_BATCH_MAX_SIZE: z.coerce.number().int().min(1).max(256).default(32),
  /** How long the first request of a batch waits for others, in ms (fractions allowed; 0: only requests that arrived together). */
  GATEWAY_BATCH_MAX_DELAY_MS: z.coerce.number().min(0).max(100).default(1),
  /** Requests waiting for a model call at most; past it 503 with Retry-After. */
  GATEWAY_BATCH_MAX_QUEUE: z.coerce.number().int().min(1).default(256),
  /** Open Inference Protocol gRPC (inference.GRPCInferenceService and grpc.health.v1.Health) listens here, beside HTTP_PORT; 0 turns it off. */
  GATEWAY_GRPC_PORT: port(9080),
  /** The edge's gRPC address of each replica (host:port, comma-separated, in MODEL_REPLICAS order); unset, each replica's host with GATEWAY_GRPC_PORT. */
  MODEL_REPLICAS_GRPC: z.string().optional(),
});

export const UiConfigSchema = serviceSchema(8083, {
  /** Corrections are dropped here as labelled batches, for the dataset watcher. */
  DATA_PREFIX: z.string().default('incoming/'),
  GATEWAY_URL: z.string().default('http://127.0.0.1:8080'),
  REGISTRY_URL: z.string().default('http://127.0.0.1:8081'),
  ...AUTH_SETTINGS,
  AUTH_CACHE_MS: z.coerce.number().int().min(0).default(30_000),
  /** Signs the session cookie; unset, a random one per process (sessions end with a restart; set it with several replicas). */
  UI_SESSION_SECRET: z.string().min(32).optional(),
  /** Session cookie lifetime, in seconds. */
  UI_SESSION_MAX_AGE_S: z.coerce.number().int().min(60).default(8 * 3600),
  /** Mark the session cookie Secure (sent over HTTPS only): on behind TLS. */
  UI_COOKIE_SECURE: bool(false),
  /** Live job streams (/api/jobs/events) open at once; past it 503. */
  UI_SSE_MAX_CONNECTIONS: z.coerce.number().int().min(1).default(100),
  /** Feedback posts and job submissions per principal (or address) per UI_RATE_WINDOW_MS; past it 429. */
  UI_FEEDBACK_RATE_MAX: z.coerce.number().int().min(1).default(30),
  UI_JOBS_RATE_MAX: z.coerce.number().int().min(1).default(10),
  UI_RATE_WINDOW_MS: z.coerce.number().int().min(1000).default(60_000),
});

export type BaseConfig = z.output<typeof BaseConfigSchema>;
export type DatasetWatcherConfig = z.output<typeof DatasetWatcherConfigSchema>;
export type OrchestratorConfig = z.output<typeof OrchestratorConfigSchema>;
export type TrainerConfig = z.output<typeof TrainerConfigSchema>;
export type RegistryConfig = z.output<typeof RegistryConfigSchema>;
export type GatewayConfig = z.output<typeof GatewayConfigSchema>;
export type UiConfig = z.output<typeof UiConfigSchema>;

/** The stream limits in the shape @mlpipe/bus's useStreamLimits takes. */
export function streamLimits(cfg: Pick<BaseConfig, keyof typeof STREAM_LIMIT_SETTINGS>) {
  return {
    DATA: { maxAgeMs: cfg.STREAM_DATA_MAX_AGE_MS, maxBytes: cfg.STREAM_DATA_MAX_BYTES },
    TRAIN: { maxAgeMs: cfg.STREAM_TRAIN_MAX_AGE_MS, maxBytes: cfg.STREAM_TRAIN_MAX_BYTES },
    MODEL: { maxAgeMs: cfg.STREAM_MODEL_MAX_AGE_MS, maxBytes: cfg.STREAM_MODEL_MAX_BYTES },
    DLQ: { maxAgeMs: cfg.STREAM_DLQ_MAX_AGE_MS, maxBytes: cfg.STREAM_DLQ_MAX_BYTES },
  };
}

/** The object-store settings in the shape @mlpipe/storage's createObjectStore takes. */
export function storeSettings(
  cfg: Pick<BaseConfig, 'STORE_KIND' | 'STORE_ROOT' | 'S3_ENDPOINT' | 'S3_BUCKET' | 'S3_ACCESS_KEY' | 'S3_SECRET_KEY' | 'S3_REGION'>,
):
  | { kind: 'fs'; root: string }
  | { kind: 's3'; endpoint: string; bucket: string; accessKey: string; secretKey: string; region: string } {
  if (cfg.STORE_KIND === 'fs') return { kind: 'fs', root: cfg.STORE_ROOT };
  return {
    kind: 's3',
    endpoint: cfg.S3_ENDPOINT ?? '',
    bucket: cfg.S3_BUCKET,
    accessKey: cfg.S3_ACCESS_KEY ?? '',
    secretKey: cfg.S3_SECRET_KEY ?? '',
    region: cfg.S3_REGION,
  };
}

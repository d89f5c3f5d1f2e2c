import { consumeEvents, ensureStreams, isPermanent, publishEvent, request, subscribeEvents, SupersededDelivery, type Bus, type RunningConsumer } from '@mlpipe/bus';
import { describeError, NotFoundError, TransientError, ValidationError, type Logger } from '@mlpipe/common';
import type { TrainerConfig } from '@mlpipe/config';
import { initBackend } from '@mlpipe/ml';
import type { RunningService, ServiceContext } from '@mlpipe/runtime';
import { artefactPrefixProblem, type TrainJobRequested } from '@mlpipe/contracts';
import { patientStore, type ObjectStore } from '@mlpipe/storage';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ShutdownAbort, runJob, type RunOutcome } from './app/runJob';
import { pruneEndedJobCheckpoints } from './app/pruneCheckpoints';
import { WatchdogAbort } from './app/shutdownAbort';
import type { DpSettings } from './adapters/distributed';
import { DEFAULT_LEASE_SETTINGS, LeaseLost, leaseInTheWay, trainedByAnother } from './adapters/coordinatorLease';
import { OutageTooLong } from './adapters/coordinator';

export interface TrainerDeps {
  bus: Bus;
  store: ObjectStore;
  logger: Logger;
  metrics: Registry;
  replicaId: string;
  backend: string;
  codeVersion: string;
  /** Attempts per job before it is failed for good. */
  maxAttempts?: number;
  /** How long a job may go without a heartbeat before JetStream hands it to another replica. */
  ackWaitMs?: number;
  /** false: take nothing from the queue (single-job mode). */
  consume?: boolean;
  /** Data-parallel group timing (defaults: DEFAULT_DP_SETTINGS). */
  dp?: DpSettings;
  /** A job with no progress for this long is given back (default 120 s). */
  watchdogMs?: number;
  /** Mid-epoch checkpoints once the last is this old (default 30 s; 0: epoch ends only). */
  checkpointEveryMs?: number;
  /** How long a store call waits out a transient failure before the attempt gives up (default 5 min). */
  storeRetryMs?: number;
}

export interface RunningTrainer {
  stop(): Promise<void>;
  /** Runs one job outside the queue (the Kubeflow pod entry point). */
  runOne(job: TrainJobRequested, attempt?: number): Promise<RunOutcome>;
  busy(): boolean;
}

/** A trainer replica: takes jobs from the shared durable consumer, one at a time. */
export async function startTrainer(deps: TrainerDeps): Promise<RunningTrainer> {
  const { bus, logger, metrics } = deps;
  await ensureStreams(bus);
  const maxAttempts = deps.maxAttempts ?? 3;
  const running = new Map<string, AbortController>();
  const jobsTotal = new Counter({ name: 'mlpipe_trainer_jobs_total', help: 'Job attempts by outcome', labelNames: ['outcome'], registers: [metrics] });
  const loss = new Gauge({ name: 'mlpipe_trainer_epoch_loss', help: 'Training loss of the last epoch', labelNames: ['job_id'], registers: [metrics] });
  const valAcc = new Gauge({ name: 'mlpipe_trainer_val_accuracy', help: 'Validation accuracy of the last epoch', labelNames: ['job_id'], registers: [metrics] });
  const speed = new Gauge({ name: 'mlpipe_trainer_samples_per_second', help: 'Training throughput of the last epoch', labelNames: ['job_id'], registers: [metrics] });
  const stepSeconds = new Histogram({
    name: 'mlpipe_trainer_step_seconds',
    help: 'Data-parallel step time on this replica by phase: compute (forward, backward, apply) or exchange (gradient out until the mean is back)',
    labelNames: ['phase'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [metrics],
  });
  const exchangeShare = new Gauge({ name: 'mlpipe_trainer_exchange_share', help: 'Share of step time spent in the gradient exchange (last step)', labelNames: ['job_id'], registers: [metrics] });
  const exchangeBytes = new Counter({ name: 'mlpipe_trainer_exchange_bytes_total', help: 'Bytes this replica sent in gradient exchanges', registers: [metrics] });
  const runningJobs = new Gauge({ name: 'mlpipe_trainer_running_jobs', help: 'Jobs (or group memberships) this replica is working on', registers: [metrics] });
  const lastProgress = new Gauge({ name: 'mlpipe_trainer_last_progress_timestamp_seconds', help: 'When a running job last started, finished an epoch or a data-parallel step (Unix seconds); removed when it ends', labelNames: ['job_id'], registers: [metrics] });
  const receipts = new Counter({ name: 'mlpipe_trainer_gradients_total', help: 'Gradients received by a coordinator, by receipt (accepted, duplicate, stale, ahead, stranger)', labelNames: ['receipt'], registers: [metrics] });
  const framesDropped = new Counter({
    name: 'mlpipe_trainer_dp_frames_dropped_total',
    help: 'Training-group frames and gradients dropped unread, by reason (unsealed: not sealed with the job key; malformed; non-finite; wrong-count)',
    labelNames: ['reason'],
    registers: [metrics],
  });
  const ringFallbacks = new Counter({
    name: 'mlpipe_trainer_ring_fallbacks_total',
    help: 'Steps of ring all-reduce jobs this replica sent through the coordinator instead, by reason (timeout: a ring neighbour stayed silent; non-finite; error)',
    labelNames: ['reason'],
    registers: [metrics],
  });
  const ackWaitMs = deps.ackWaitMs ?? 20_000;
  const watchdogMs = deps.watchdogMs ?? 120_000;
  /** Each running job's "still alive": waiting out a store outage is progress, not a wedge. */
  const alive = new Map<string, () => void>();
  const store = patientStore(deps.store, {
    forMs: deps.storeRetryMs ?? 300_000,
    onRetry: (err, tries, waitMs) => {
      for (const mark of alive.values()) mark();
      logger.warn({ err: describeError(err), tries, waitMs }, 'the store is unavailable; waiting');
    },
  });
  const runnerDeps = {
    ...(deps.dp ? { dp: deps.dp } : {}),
    ...(deps.checkpointEveryMs !== undefined ? { checkpointEveryMs: deps.checkpointEveryMs } : {}),
    onStepTiming: (job: string, t: { computeMs: number; exchangeMs: number; bytesSent: number }) => {
      lastProgress.setToCurrentTime({ job_id: job });
      stepSeconds.observe({ phase: 'compute' }, t.computeMs / 1000);
      stepSeconds.observe({ phase: 'exchange' }, t.exchangeMs / 1000);
      exchangeShare.set({ job_id: job }, t.exchangeMs / Math.max(1e-9, t.computeMs + t.exchangeMs));
      exchangeBytes.inc(t.bytesSent);
    },
    onGradientReceipt: (r: string) => receipts.inc({ receipt: r }),
    onFrameDropped: (why: string) => framesDropped.inc({ reason: why }),
    onRingFallback: (why: string) => ringFallbacks.inc({ reason: why }),
    bus,
    store,
    logger,
    replicaId: deps.replicaId,
    backend: deps.backend,
    codeVersion: deps.codeVersion,
    onEpochMetrics: (job: string, m: { loss: number; valAccuracy?: number | undefined; samplesPerSec: number }) => {
      lastProgress.setToCurrentTime({ job_id: job });
      loss.set({ job_id: job }, m.loss);
      if (m.valAccuracy !== undefined) valAcc.set({ job_id: job }, m.valAccuracy);
      speed.set({ job_id: job }, m.samplesPerSec);
    },
  };

  const cancelSub = subscribeEvents(
    bus,
    'train.job.cancel-requested',
    (e) => running.get(e.data.jobId)?.abort(new Error(`cancelled: ${e.data.reason}`)),
    logger,
  );
  // A cancel published while this replica was cut off never arrives live: ask after every reconnect
  // (a few times: the orchestrator may be reconnecting too).
  const resyncOne = async (jobId: string, controller: AbortController): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const { status } = await request(bus, 'orchestrator.jobs.get', { jobId }, 3000);
        if (status === 'cancelled') controller.abort(new Error('cancelled while this replica was disconnected'));
        return;
      } catch (err) {
        if (attempt >= 5 || controller.signal.aborted) return void logger.warn({ jobId, err: describeError(err) }, 'could not re-read the job after a reconnect');
        await new Promise((r) => setTimeout(r, 1000 * attempt));
      }
    }
  };
  const stopResync = bus.connection.onReconnect(() => {
    for (const [jobId, controller] of running) void resyncOne(jobId, controller);
  });
  const stopListening = () => {
    stopResync();
    cancelSub.unsubscribe();
  };

  /**
   * Runs a job while confirming its message every quarter of the ack wait, so a live replica keeps
   * it and a dead one loses it within the ack wait. The watchdog stops confirming and gives the job
   * back when nothing has made progress for `watchdogMs`: no replica is held by a dead job.
   */
  const runOne = async (job: TrainJobRequested, attempt = 1, confirm: () => void = () => undefined) => {
    const controller = new AbortController();
    running.set(job.jobId, controller);
    runningJobs.inc();
    lastProgress.setToCurrentTime({ job_id: job.jobId }); // a job that never makes progress is stalled from its start
    let progressAt = Date.now();
    const progress = () => void (progressAt = Date.now());
    alive.set(job.jobId, progress);
    const keepalive = setInterval(() => {
      const quiet = Date.now() - progressAt;
      if (quiet > watchdogMs) {
        clearInterval(keepalive);
        logger.error({ jobId: job.jobId, rank: job.rank, quietMs: quiet }, 'watchdog: no progress; giving the job back');
        controller.abort(new WatchdogAbort(quiet));
        return;
      }
      confirm();
    }, Math.max(250, ackWaitMs / 4));
    try {
      const outcome = await runJob({ job, attempt, signal: controller.signal, heartbeat: progress }, runnerDeps);
      jobsTotal.inc({ outcome });
      return outcome;
    } finally {
      clearInterval(keepalive);
      alive.delete(job.jobId);
      running.delete(job.jobId);
      runningJobs.dec();
      lastProgress.remove({ job_id: job.jobId });
    }
  };

  /** The orchestrator may have cancelled the job while it waited in the queue (or, for a worker's message, finished it). */
  const endedBeforeStart = async (jobId: string): Promise<boolean> => {
    try {
      const { status } = await request(bus, 'orchestrator.jobs.get', { jobId }, 3000);
      // A redelivered message of a job that finished meanwhile (its old holder acked late, or a lost ack).
      return status === 'cancelled' || status === 'succeeded' || status === 'failed';
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      logger.warn({ jobId, err: describeError(err) }, 'could not ask the orchestrator about the job; running it');
      return false;
    }
  };

  if (deps.consume === false) {
    return {
      runOne: (job, attempt) => runOne(job, attempt),
      busy: () => running.size > 0,
      stop: async () => stopListening(),
    };
  }
  const consumer: RunningConsumer = await consumeEvents(bus, {
    durable: 'trainer-jobs',
    logger,
    metrics,
    maxInFlight: 1,
    maxDeliver: maxAttempts,
    ackWaitMs,
    // A job whose attempts all died with their replicas (crash, OOM) ends as a dead letter without a
    // failure of its own: report it, so the orchestrator and registry do not wait on it for ever.
    onDeadLetter: (type, reason, event) => {
      if (type !== 'train.job.requested' || !event) return;
      const job = event.data as TrainJobRequested;
      if (job.rank !== 0) return;
      publishEvent(
        bus,
        'train.job.failed',
        { jobId: job.jobId, replicaId: deps.replicaId, attempt: maxAttempts, error: `given up: ${reason}`, retryable: false },
        { source: `trainer/${deps.replicaId}`, eventId: `train.job.failed:${job.jobId}:dead-letter` },
      ).catch((err: unknown) => logger.error({ jobId: job.jobId, err: describeError(err) }, 'could not report a dead-lettered job'));
    },
    handlers: {
      'train.job.requested': async (e, ctx) => {
        const job = e.data;
        // The baseline is loaded from the store: one outside the model's folder dead-letters the request with the reason.
        const baselineProblem = job.baseline && artefactPrefixProblem(job.baseline.artefactPrefix, { kind: 'model', modelName: job.modelName });
        if (baselineProblem) throw new ValidationError(`job ${job.jobId}'s baseline lies outside its model's folder: ${baselineProblem}`);
        if (await endedBeforeStart(job.jobId)) {
          logger.info({ jobId: job.jobId, rank: job.rank }, 'job ended before this replica started on it');
          return;
        }
        // Handed out again while another attempt coordinates the job or finishes it trained (seen after a
        // partition): that attempt settles the message. Checked before the attempt is announced.
        const leaseSettings = { ttlMs: deps.dp?.leaseTtlMs ?? DEFAULT_LEASE_SETTINGS.ttlMs };
        if (job.replicas > 1 && job.rank === 0) {
          // As long as acquire() would wait: a holder that died frees the lease within a TTL.
          const stillHere = setInterval(() => ctx.working(), 2000);
          const inTheWay = await leaseInTheWay(bus, job.jobId, leaseSettings, ctx.deliveryCount, leaseSettings.ttlMs + 2000).finally(() => clearInterval(stillHere));
          if (inTheWay) throw new SupersededDelivery(`attempt ${inTheWay.attempt} on ${inTheWay.holder} ${inTheWay.trained ? 'trained job ' + job.jobId + ' and is finishing it' : 'coordinates job ' + job.jobId}`);
        }
        const trainedBy = job.rank > 0 ? await trainedByAnother(bus, job.jobId, leaseSettings, ctx.deliveryCount) : undefined;
        if (trainedBy) return void logger.info({ jobId: job.jobId, rank: job.rank }, 'job trained by its group already; no worker needed');
        try {
          // The delivery count names the attempt (unique per delivery: group ids, checkpoint folders, event ids).
          await runOne(job, ctx.deliveryCount, () => ctx.working());
        } catch (err) {
          // Another delivery of this message holds the job's lease: only it may settle the message.
          if (err instanceof LeaseLost) throw new SupersededDelivery(err.message);
          // Stopping mid-job, the watchdog, an outage past the tolerance: nothing failed for good. The
          // message goes back and the job resumes from its checkpoint.
          if (err instanceof ShutdownAbort || err instanceof OutageTooLong) {
            logger.warn({ jobId: job.jobId, rank: job.rank, err: describeError(err) }, 'giving the job back');
            throw new TransientError(err.message);
          }
          if (job.rank > 0) {
            // A worker's failure is not the job's: its group drops it and carries on.
            logger.error({ jobId: job.jobId, rank: job.rank, err: describeError(err) }, 'worker replica failed; the group continues without it');
            return;
          }
          // Attempts that ended in an outage do not count (ctx.attempt); the delivery count names the attempt.
          const retryable = !isPermanent(err) && ctx.attempt < maxAttempts;
          jobsTotal.inc({ outcome: retryable ? 'retrying' : 'failed' });
          logger.error({ jobId: job.jobId, attempt: ctx.deliveryCount, err: describeError(err), retryable }, 'job attempt failed');
          await publishEvent(
            bus,
            'train.job.failed',
            { jobId: job.jobId, replicaId: deps.replicaId, attempt: ctx.deliveryCount, error: describeError(err), retryable },
            { source: `trainer/${deps.replicaId}`, eventId: `train.job.failed:${job.jobId}:${ctx.deliveryCount}` },
          );
          // Failed for good: no attempt follows, so only the last checkpoint is kept (a run by hand resumes from it).
          if (!retryable) await pruneEndedJobCheckpoints(runnerDeps.store, job.jobId, 'failed', logger);
          throw err;
        }
      },
    },
  });

  return {
    runOne: (job, attempt) => runOne(job, attempt),
    busy: () => running.size > 0,
    stop: async () => {
      stopListening();
      for (const controller of running.values()) controller.abort(new ShutdownAbort());
      await consumer.stop();
    },
  };
}

/**
 * The trainer as the runtime starts it: config → deps. With `--job-id ID [--rank R]` it runs that job
 * outside the queue and `done` carries the exit code (0 when the job completed or this rank assisted).
 */
export async function serveTrainer(ctx: ServiceContext<TrainerConfig, 'bus' | 'store'>): Promise<RunningService> {
  const { config, bus, store, logger, metrics, args } = ctx;
  const rank = Number(args.rank);
  if (!Number.isInteger(rank) || rank < 0) throw new ValidationError(`--rank must be a whole number ≥ 0, got "${String(args.rank)}"`);
  const jobId = typeof args['job-id'] === 'string' ? args['job-id'] : undefined;
  const backend = await initBackend(config.TRAINER_BACKEND);
  logger.info(backend, `tensorflow.js backend: ${backend.name}`);
  const trainer = await startTrainer({
    bus,
    store,
    logger,
    metrics,
    replicaId: config.TRAINER_REPLICA_ID,
    backend: backend.name,
    codeVersion: config.CODE_VERSION,
    consume: !jobId,
    ackWaitMs: config.TRAINER_ACK_WAIT_MS,
    maxAttempts: config.TRAINER_MAX_ATTEMPTS,
    watchdogMs: config.TRAINER_WATCHDOG_MS,
    checkpointEveryMs: config.TRAINER_CHECKPOINT_EVERY_MS,
    storeRetryMs: config.TRAINER_STORE_RETRY_MS,
    dp: {
      heartbeatMs: config.TRAINER_HEARTBEAT_MS,
      heartbeatTimeoutMs: config.TRAINER_HEARTBEAT_TIMEOUT_MS,
      stepTimeoutMs: config.TRAINER_STEP_TIMEOUT_MS,
      joinWindowMs: config.TRAINER_JOIN_WINDOW_MS,
      joinTimeoutMs: config.TRAINER_JOIN_TIMEOUT_MS,
      outageToleranceMs: config.TRAINER_OUTAGE_TOLERANCE_MS,
      retransmitMs: config.TRAINER_RETRANSMIT_MS,
      leaseTtlMs: config.TRAINER_LEASE_TTL_MS,
      ringTimeoutMs: config.TRAINER_RING_TIMEOUT_MS,
      ...(config.TRAINER_MAX_PART_BYTES ? { maxPartBytes: config.TRAINER_MAX_PART_BYTES } : {}),
    },
  });
  if (!jobId) return { stop: () => trainer.stop() };
  const runById = async (): Promise<number> => {
    const { modelName, dataset, datasetVersion, hyperparams, replicas, trigger, attempts } = await request(bus, 'orchestrator.jobs.get', { jobId });
    if (rank >= replicas) throw new ValidationError(`--rank ${rank} is outside job ${jobId}'s ${replicas} replica(s)`);
    const outcome = await trainer.runOne({ jobId, modelName, dataset, datasetVersion, hyperparams, replicas, rank, trigger }, attempts + 1);
    return outcome === 'completed' || outcome === 'assisted' ? 0 : 1;
  };
  return { stop: () => trainer.stop(), done: runById() };
}

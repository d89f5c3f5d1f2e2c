import type { DatasetWatcherConfig } from '@mlpipe/config';
import { ensureStreams, type Bus } from '@mlpipe/bus';
import { migrate, type Pool } from '@mlpipe/db';
import { describeError, type Logger } from '@mlpipe/common';
import type { ObjectStore } from '@mlpipe/storage';
import { DEFAULT_INCOMING_LIMITS } from '@mlpipe/dataset';
import type { Subscription } from '@nats-io/nats-core';
import { Counter, Histogram, type Registry } from 'prom-client';
import { batchPrefixOf } from './core/batchId';
import { processBatch, type ProcessorDeps } from './adapters/batchProcessor';
import { WatcherRepository } from './adapters/watcherRepository';
import { WATCHER_SCHEMA, migrations } from './adapters/migrations';
import { startDriftMonitor, type RunningDriftMonitor } from './adapters/driftMonitor';
import { WatcherViews } from './adapters/watcherViews';
import { serveWatcherRequests } from './adapters/requestApi';

export interface WatcherDeps {
  config: Pick<DatasetWatcherConfig, 'DATA_PREFIX' | 'DATA_POLL_MS' | 'DATA_NOTIFY_SUBJECT' | 'DATA_MIN_CLASS_SHARE' | 'DATA_MAX_DUPLICATE_SHARE'> &
    Partial<Pick<DatasetWatcherConfig, 'DRIFT_ENABLED' | 'DRIFT_WINDOW' | 'DRIFT_POLL_MS' | 'DATA_MAX_BATCH_BYTES' | 'DATA_MAX_BATCH_SAMPLES' | 'DATA_MAX_CSV_ROWS'>>;
  bus: Bus;
  pool: Pool;
  store: ObjectStore;
  logger: Logger;
  metrics: Registry;
}

export interface RunningWatcher {
  /** Looks at the store now (tests and notifications call this). */
  scan(): Promise<void>;
  /** The drift monitor, when enabled. */
  drift: RunningDriftMonitor | undefined;
  stop(): Promise<void>;
}

/**
 * Watches the incoming prefix: polls the store every DATA_POLL_MS and, when DATA_NOTIFY_SUBJECT is
 * set, also scans as soon as a bucket notification arrives on NATS. Batches are handled one at a
 * time, in key order; a batch that fails for a passing reason is retried on the next scan.
 */
export async function startWatcher(deps: WatcherDeps): Promise<RunningWatcher> {
  const { config, bus, pool, store, logger, metrics } = deps;
  await migrate(pool, WATCHER_SCHEMA, migrations);
  await ensureStreams(bus);
  await store.ensureReady();
  const repo = new WatcherRepository(pool);
  const views = new WatcherViews(pool);
  const batches = new Counter({ name: 'mlpipe_watcher_batches_total', help: 'Batches processed, by outcome', labelNames: ['outcome'], registers: [metrics] });
  const samples = new Counter({ name: 'mlpipe_watcher_samples_total', help: 'Samples accepted', registers: [metrics] });
  const duration = new Histogram({ name: 'mlpipe_watcher_batch_seconds', help: 'Time to process a batch', buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60], registers: [metrics] });
  const processor: ProcessorDeps = {
    store,
    bus,
    repo,
    logger,
    policy: { minClassShare: config.DATA_MIN_CLASS_SHARE, maxDuplicateShare: config.DATA_MAX_DUPLICATE_SHARE, balanceMinSamples: 200 },
    limits: {
      maxBatchBytes: config.DATA_MAX_BATCH_BYTES ?? DEFAULT_INCOMING_LIMITS.maxBatchBytes,
      maxSamples: config.DATA_MAX_BATCH_SAMPLES ?? DEFAULT_INCOMING_LIMITS.maxSamples,
      maxCsvRows: config.DATA_MAX_CSV_ROWS ?? DEFAULT_INCOMING_LIMITS.maxCsvRows,
    },
    onOutcome: (status, n, seconds) => {
      batches.inc({ outcome: status });
      samples.inc(n);
      duration.observe(seconds);
    },
  };

  let scanning: Promise<void> | undefined;
  let again = false;
  const scanOnce = async () => {
    const objects = await store.list(config.DATA_PREFIX);
    for (const o of objects) {
      const prefix = batchPrefixOf(o.key);
      if (!prefix) continue;
      try {
        await processBatch(prefix, processor);
      } catch (err) {
        batches.inc({ outcome: 'error' });
        logger.error({ prefix, err: describeError(err) }, 'batch processing failed; retrying on the next scan');
      }
    }
  };
  const scan = (): Promise<void> => {
    if (scanning) {
      again = true;
      return scanning;
    }
    scanning = (async () => {
      do {
        again = false;
        await scanOnce();
      } while (again);
    })().finally(() => (scanning = undefined));
    return scanning;
  };

  const timer = setInterval(() => void scan().catch((err: unknown) => logger.error({ err: describeError(err) }, 'scan failed')), config.DATA_POLL_MS);
  let notifications: Subscription | undefined;
  if (config.DATA_NOTIFY_SUBJECT) {
    notifications = bus.nc.subscribe(config.DATA_NOTIFY_SUBJECT, {
      callback: () => void scan().catch((err: unknown) => logger.error({ err: describeError(err) }, 'scan failed')),
    });
  }
  void scan().catch((err: unknown) => logger.error({ err: describeError(err) }, 'scan failed'));
  const drift =
    config.DRIFT_ENABLED === false
      ? undefined
      : await startDriftMonitor({
          store,
          bus,
          repo,
          logger,
          metrics,
          windowSize: config.DRIFT_WINDOW ?? 200,
          pollMs: config.DRIFT_POLL_MS ?? 5000,
          recordWindow: (w) => views.recordWindow(w),
        });
  const requests = serveWatcherRequests(bus, views, store, logger);
  logger.info({ prefix: config.DATA_PREFIX, store: store.description, drift: !!drift }, 'dataset watcher started');
  return {
    scan,
    drift,
    stop: async () => {
      clearInterval(timer);
      notifications?.unsubscribe();
      for (const r of requests) r.unsubscribe();
      await scanning;
      await drift?.stop();
    },
  };
}

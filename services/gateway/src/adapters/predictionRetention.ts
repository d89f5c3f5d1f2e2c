import { describeError, type Logger } from '@mlpipe/common';
import { storeKeys } from '@mlpipe/contracts';
import type { ObjectStore } from '@mlpipe/storage';
import { expiredPredictionLogs } from '../core/predictionRetention';

export interface PredictionRetentionOptions {
  store: ObjectStore;
  logger: Logger;
  /** Logs older than this are deleted; 0 keeps them for ever. */
  maxAgeMs: number;
  /** How often the store is looked through. */
  sweepMs: number;
  now?: () => number;
  onDeleted?: (logs: number) => void;
}

/**
 * The gateway writes the prediction logs, so it also deletes them once they are past their
 * retention: every sweepMs (and at start-up) it lists every model's logs and deletes the old ones.
 * Replicas all sweep; a delete is idempotent, so two replicas deleting the same log is harmless.
 * A failed sweep is logged and tried again at the next one.
 */
export class PredictionRetention {
  private readonly timer: NodeJS.Timeout;
  private sweeping: Promise<number> | undefined;

  constructor(private readonly o: PredictionRetentionOptions) {
    this.timer = setInterval(() => void this.sweep().catch(() => undefined), o.sweepMs);
    this.timer.unref();
    void this.sweep().catch(() => undefined);
  }

  /** Deletes the logs past their retention now; resolves with how many went. */
  sweep(): Promise<number> {
    this.sweeping ??= this.deleteExpired()
      .catch((err: unknown) => {
        this.o.logger.warn({ err: describeError(err) }, 'could not delete old prediction logs; trying again at the next sweep');
        throw err;
      })
      .finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping?.catch(() => undefined);
  }

  private async deleteExpired(): Promise<number> {
    const objects = await this.o.store.list(storeKeys.predictionLogs());
    const expired = expiredPredictionLogs(objects, (this.o.now ?? Date.now)(), this.o.maxAgeMs);
    for (const key of expired) await this.o.store.delete(key);
    if (expired.length) {
      this.o.onDeleted?.(expired.length);
      this.o.logger.info({ deleted: expired.length, maxAgeMs: this.o.maxAgeMs }, 'old prediction logs deleted');
    }
    return expired.length;
  }
}

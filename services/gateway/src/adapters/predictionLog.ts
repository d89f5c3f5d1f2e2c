import { randomBytes } from 'node:crypto';
import { describeError, type Logger } from '@mlpipe/common';
import { storeKeys, type PredictionRecord } from '@mlpipe/contracts';
import type { ObjectStore } from '@mlpipe/storage';

export interface PredictionLogOptions {
  store: ObjectStore;
  logger: Logger;
  /** Share of predictions kept, 0..1. */
  sampleShare: number;
  flushMs: number;
  /** A flush happens early when this many records wait. */
  maxBatch?: number;
  /** Records held while the store is unreachable; beyond it the oldest are dropped (and counted). */
  maxPending?: number;
  random?: () => number;
  onFlushed?: (records: number) => void;
  onDropped?: (records: number) => void;
}

/**
 * Samples predictions (inputs and outputs, with their ids) into the object store as JSON-lines
 * objects, one per flush and model, for drift monitoring and lineage. Writing is off the
 * request path; a failed write keeps the records for the next flush.
 */
export class PredictionLog {
  private pending: PredictionRecord[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly instance = randomBytes(4).toString('hex');
  private sequence = 0;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly o: PredictionLogOptions) {
    this.timer = setInterval(() => void this.flush(), o.flushMs);
    this.timer.unref();
  }

  /**
   * Keeps a record with the sampling probability; never throws into the request. The record is built
   * only when it is kept (its base64 input and timestamp are most of a request's allocations otherwise).
   */
  offer(build: () => PredictionRecord): void {
    if ((this.o.random ?? Math.random)() >= this.o.sampleShare) return;
    this.pending.push(build());
    const max = this.o.maxPending ?? 50_000;
    if (this.pending.length > max) {
      const dropped = this.pending.length - max;
      this.pending.splice(0, dropped);
      this.o.onDropped?.(dropped);
    }
    if (this.pending.length >= (this.o.maxBatch ?? 500)) void this.flush();
  }

  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async write(): Promise<void> {
    if (!this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    const byModel = new Map<string, PredictionRecord[]>();
    for (const r of batch) {
      const same = byModel.get(r.model);
      if (same) same.push(r);
      else byModel.set(r.model, [r]);
    }
    for (const [model, records] of byModel) {
      const at = new Date();
      const name = `${at.toISOString().replace(/[:.]/g, '-')}-${this.instance}-${++this.sequence}`;
      const key = storeKeys.predictionLog(model, at.toISOString().slice(0, 10), name);
      try {
        await this.o.store.put(key, new TextEncoder().encode(records.map((r) => JSON.stringify(r)).join('\n') + '\n'), { contentType: 'application/x-ndjson' });
        this.o.onFlushed?.(records.length);
      } catch (err) {
        this.o.logger.warn({ key, records: records.length, err: describeError(err) }, 'could not write sampled predictions; keeping them for the next flush');
        this.pending = [...records, ...this.pending];
      }
    }
  }
}

import { TransientError } from '@mlpipe/common';
import { BatchQueue, type Batch, type BatchPolicy } from '../core/batchQueue';
import type { LoadedModel } from '../adapters/modelCache';
import type { InferenceMetrics } from '../adapters/inferenceMetrics';

/** One request's share of a model call. */
export interface BatchedResult {
  /** One row of class probabilities per image of the request. */
  probabilities: number[][];
  /** What the request waited and the model call it was part of took, in seconds. */
  seconds: number;
}

export interface BatcherOptions extends BatchPolicy {
  /** GATEWAY_BATCHING=off: every request is its own model call, at once (the benchmark's comparison). */
  enabled: boolean;
  metrics: InferenceMetrics;
  now?: () => number;
}

interface Pending {
  images: Uint8Array[];
  resolve: (r: BatchedResult) => void;
  reject: (err: unknown) => void;
}

/** The model call, whichever runtime serves the version; a synchronous throw becomes a rejection. */
async function predictRows(loaded: LoadedModel, images: Uint8Array[]): Promise<number[][]> {
  return loaded.predict(images);
}

/**
 * Dynamic batching in a model replica: requests for the same loaded version are queued by the
 * policy (core/batchQueue) and run as one model call, whose rows go back to each request in order.
 * A full queue refuses at once with a 503 and Retry-After (TransientError `overloaded`), so a burst
 * past what the replica can hold is told to come back rather than left to wait without bound.
 * One model call runs at a time (tfjs WASM/CPU calls block the thread; onnxruntime-node's run
 * too, one turn later, on one intra-op thread), so requests that arrive while one runs are read
 * when it returns and join the next batch: under load, batches form without waiting the delay. A
 * batch that is ready (full, or as many requests as the version's last batch: core/batchQueue) runs
 * at the end of the event-loop turn it became ready in, so a lone request at concurrency 1 costs a
 * setImmediate, not the delay, and every request read in that turn still joins it.
 */
export class Batcher {
  private readonly queue: BatchQueue<LoadedModel, Pending>;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private immediate: NodeJS.Immediate | undefined;
  /** A model call is running: what becomes due meanwhile waits for it, and joins whatever arrives with it. */
  private running = false;

  constructor(private readonly o: BatcherOptions) {
    this.queue = new BatchQueue(o);
    this.now = o.now ?? (() => performance.now());
  }

  /** The request's rows of the model call it ends up in; rejects with `overloaded` when the queue is full. */
  predict(loaded: LoadedModel, images: Uint8Array[]): Promise<BatchedResult> {
    if (!this.o.enabled) return this.runAlone(loaded, images);
    return new Promise<BatchedResult>((resolve, reject) => {
      const offer = this.queue.offer(loaded, { images, resolve, reject }, images.length, this.now());
      if (!offer.accepted) {
        this.o.metrics.queueFull(loaded);
        reject(new TransientError(`${loaded.name} v${loaded.version} is busy: ${offer.reason}; retry shortly`, { code: 'overloaded', retryAfterSeconds: 1 }));
        return;
      }
      this.schedule();
    });
  }

  /** Runs everything still waiting (shutdown: nothing accepted is left unanswered); resolves once all is answered. */
  async flush(): Promise<void> {
    this.cancelTimers();
    await Promise.all(this.queue.takeAll().map((batch) => this.run(batch)));
  }

  private async runAlone(loaded: LoadedModel, images: Uint8Array[]): Promise<BatchedResult> {
    const started = this.now();
    const probabilities = await predictRows(loaded, images);
    const seconds = (this.now() - started) / 1000;
    this.o.metrics.observe(loaded, probabilities, seconds);
    this.o.metrics.batch(loaded, images.length, [0]);
    return { probabilities, seconds };
  }

  /**
   * Wakes up when the next batch is due: at the end of this event-loop turn for a full one (so every
   * request read in this turn can join it), else when the oldest request's delay is up.
   */
  private schedule(): void {
    if (this.running) return; // the call in flight schedules again when it returns
    const due = this.queue.nextDeadline();
    if (due === undefined) return;
    const now = this.now();
    if (due <= now) {
      this.immediate ??= setImmediate(() => this.pump());
      return;
    }
    if (this.timer && this.timerAt <= due) return;
    clearTimeout(this.timer);
    this.timerAt = due;
    this.timer = setTimeout(() => this.pump(due), Math.ceil(due - now));
  }

  /** `dueAt`: the deadline a timer was set for (timers may fire a fraction of a millisecond before it by this clock). */
  private pump(dueAt = Number.NEGATIVE_INFINITY): void {
    this.cancelTimers();
    const batches = this.queue.take(Math.max(this.now(), dueAt));
    if (!batches.length) return this.schedule();
    this.running = true;
    void (async () => {
      for (const batch of batches) await this.run(batch);
      this.running = false;
      this.schedule();
    })();
  }

  private cancelTimers(): void {
    clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  /** One model call for the batch, its rows handed back; never rejects (a failed call rejects its requests). */
  private async run(batch: Batch<LoadedModel, Pending>): Promise<void> {
    const loaded = batch.key;
    const started = this.now();
    let rows: number[][];
    try {
      rows = await predictRows(loaded, batch.requests.flatMap((r) => r.item.images));
    } catch (err) {
      for (const r of batch.requests) r.item.reject(err);
      return;
    }
    const ended = this.now();
    const seconds = (ended - started) / 1000;
    this.o.metrics.observe(loaded, rows, seconds);
    this.o.metrics.batch(loaded, batch.size, batch.requests.map((r) => (started - r.at) / 1000));
    let row = 0;
    for (const r of batch.requests) {
      const probabilities = rows.slice(row, row + r.size);
      row += r.size;
      r.item.resolve({ probabilities, seconds: (ended - r.at) / 1000 });
    }
  }
}

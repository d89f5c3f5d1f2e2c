/**
 * Dynamic batching policy of a model replica, as Triton's and TorchServe's: requests for the same
 * model version wait up to `maxDelayMs` to be run together, at most `maxBatchSize` images per model
 * call, and at most `maxQueue` requests wait at once (past it a request is refused, not queued:
 * backpressure instead of unbounded latency). Pure: the caller passes the clock and runs the batches.
 *
 * The delay is spent only where it buys a batch. Each version's batch aims at the size its last
 * batch had (in images, at most `maxBatchSize`) and runs as soon as its queue holds that many, at the
 * end of the caller's current turn, with whatever else arrived by then. So at concurrency 1 (every
 * batch one image) a request runs at once instead of waiting out the delay for company that never
 * comes; under load the target follows the batches that form, and a queue short of it waits at most
 * `maxDelayMs` for the rest. With nothing known yet (a version's first batch) the target is
 * `maxBatchSize`, as a fixed-delay batcher's.
 */
export interface BatchPolicy {
  /** Images per model call; a single request larger than this runs alone, never split. */
  maxBatchSize: number;
  /** How long the first request of a batch waits for others (ms). 0: only requests that arrived together. */
  maxDelayMs: number;
  /** Requests waiting (not yet in a model call) across all versions; one more is refused. */
  maxQueue: number;
}

/** GatewayConfigSchema's defaults (GATEWAY_BATCH_MAX_SIZE, _MAX_DELAY_MS, _MAX_QUEUE). */
export const DEFAULT_BATCH_POLICY: BatchPolicy = Object.freeze({ maxBatchSize: 32, maxDelayMs: 1, maxQueue: 256 });

export interface Waiting<T> {
  item: T;
  /** Images the request carries (its rows in the stacked model input). */
  size: number;
  /** When it was queued (ms, the caller's clock). */
  at: number;
}

export interface Batch<K, T> {
  key: K;
  requests: Waiting<T>[];
  /** Images in the batch: the model input's first dimension. */
  size: number;
}

export type Offer = { accepted: true } | { accepted: false; reason: string };

/** Versions whose last batch size is remembered (least recently batched forgotten first): a replica serves a few at once. */
const REMEMBERED_KEYS = 16;

/** Per key (a loaded model version) a FIFO of waiting requests; decides what to run and when. */
export class BatchQueue<K, T> {
  private readonly queues = new Map<K, Waiting<T>[]>();
  private count = 0;
  /** Images in each key's last batch: what its next batch waits for, at most, before its delay is up. */
  private readonly lastBatch = new Map<K, number>();

  constructor(private readonly policy: BatchPolicy) {
    if (!(policy.maxBatchSize >= 1 && policy.maxQueue >= 1 && policy.maxDelayMs >= 0)) throw new Error(`invalid batch policy ${JSON.stringify(policy)}`);
  }

  /** Requests waiting now, over every key. */
  get waiting(): number {
    return this.count;
  }

  /** Queues a request, or refuses it when `maxQueue` are waiting already (the reason says so). */
  offer(key: K, item: T, size: number, now: number): Offer {
    if (this.count >= this.policy.maxQueue) {
      return { accepted: false, reason: `${this.count} requests are waiting for a model call, the most this replica queues (GATEWAY_BATCH_MAX_QUEUE=${this.policy.maxQueue})` };
    }
    const queue = this.queues.get(key) ?? [];
    queue.push({ item, size, at: now });
    this.queues.set(key, queue);
    this.count++;
    return { accepted: true };
  }

  /**
   * The batches to run now, taken off the queue: per key, batches that are ready (as many images as
   * the key's target), and the rest once its oldest request has waited `maxDelayMs`.
   * Requests keep their order; a batch never passes `maxBatchSize` images unless one request alone does.
   */
  take(now: number): Batch<K, T>[] {
    const out: Batch<K, T>[] = [];
    for (const [key, queue] of this.queues) {
      while (queue.length && (this.isReady(key, queue) || this.deadlineOf(queue) <= now)) {
        const batch = this.cut(key, queue);
        this.remember(key, batch.size);
        out.push(batch);
      }
      if (!queue.length) this.queues.delete(key);
    }
    return out;
  }

  /** Images a key's next batch waits for before its delay is up: its last batch's size, at most maxBatchSize (nothing known: maxBatchSize). */
  target(key: K): number {
    return Math.min(this.policy.maxBatchSize, this.lastBatch.get(key) ?? this.policy.maxBatchSize);
  }

  /** Everything waiting, in batches, whatever the time (shutdown, batching switched off). */
  takeAll(): Batch<K, T>[] {
    return this.take(Number.POSITIVE_INFINITY);
  }

  /** When `take` will next have a batch (ms; -Infinity: one is ready now), or undefined with none waiting. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const [key, queue] of this.queues) {
      const due = this.isReady(key, queue) ? Number.NEGATIVE_INFINITY : this.deadlineOf(queue);
      if (next === undefined || due < next) next = due;
    }
    return next;
  }

  /** Due without waiting: as many images as the key's target. */
  private isReady(key: K, queue: Waiting<T>[]): boolean {
    return this.images(queue) >= this.target(key);
  }

  private remember(key: K, images: number): void {
    this.lastBatch.delete(key); // re-inserted last: the map's order is how recently each key batched
    this.lastBatch.set(key, images);
    if (this.lastBatch.size > REMEMBERED_KEYS) this.lastBatch.delete(this.lastBatch.keys().next().value as K);
  }

  private images(queue: Waiting<T>[]): number {
    return queue.reduce((n, w) => n + w.size, 0);
  }

  private deadlineOf(queue: Waiting<T>[]): number {
    return (queue[0] as Waiting<T>).at + this.policy.maxDelayMs;
  }

  /** The longest prefix of the queue within maxBatchSize images (at least one request). */
  private cut(key: K, queue: Waiting<T>[]): Batch<K, T> {
    let size = (queue[0] as Waiting<T>).size;
    let n = 1;
    while (n < queue.length && size + (queue[n] as Waiting<T>).size <= this.policy.maxBatchSize) size += (queue[n++] as Waiting<T>).size;
    this.count -= n;
    return { key, requests: queue.splice(0, n), size };
  }
}

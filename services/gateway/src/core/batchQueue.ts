/**
 * Dynamic batching policy of a model replica, as Triton's and TorchServe's: requests for the same
 * model version wait up to `maxDelayMs` to be run together, at most `maxBatchSize` images per model
 * call, and at most `maxQueue` requests wait at once (past it a request is refused, not queued:
 * backpressure instead of unbounded latency). Pure: the caller passes the clock and runs the batches.
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

/** Per key (a loaded model version) a FIFO of waiting requests; decides what to run and when. */
export class BatchQueue<K, T> {
  private readonly queues = new Map<K, Waiting<T>[]>();
  private count = 0;

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
   * The batches to run now, taken off the queue: per key, full batches, and the rest once its oldest
   * request has waited `maxDelayMs`. Requests keep their order; a batch never passes `maxBatchSize`
   * images unless one request alone does.
   */
  take(now: number): Batch<K, T>[] {
    const out: Batch<K, T>[] = [];
    for (const [key, queue] of this.queues) {
      while (queue.length && (this.isFull(queue) || this.deadlineOf(queue) <= now)) out.push(this.cut(key, queue));
      if (!queue.length) this.queues.delete(key);
    }
    return out;
  }

  /** Everything waiting, in batches, whatever the time (shutdown, batching switched off). */
  takeAll(): Batch<K, T>[] {
    return this.take(Number.POSITIVE_INFINITY);
  }

  /** When `take` will next have a batch for a partial queue (ms), or undefined with none waiting. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const queue of this.queues.values()) {
      const due = this.isFull(queue) ? Number.NEGATIVE_INFINITY : this.deadlineOf(queue);
      if (next === undefined || due < next) next = due;
    }
    return next;
  }

  private isFull(queue: Waiting<T>[]): boolean {
    return queue.reduce((n, w) => n + w.size, 0) >= this.policy.maxBatchSize;
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

import { Kvm, type KV } from '@nats-io/kv';
import { streamReplicasOf, type Bus } from '@mlpipe/bus';
import { describeError, type Logger } from '@mlpipe/common';
import { z } from 'zod';

/**
 * Who coordinates a job, held in JetStream KV: the key is created by exactly one coordinator
 * (create fails if it exists) and kept alive by updates on the revision it last wrote (update
 * fails if anyone else wrote since). The bucket's TTL removes a key nobody renewed, so a dead
 * coordinator's lease frees itself. The revision at acquisition is the coordinator's generation:
 * it rises with every new holder, and members ignore frames from a lower one.
 */
export const LeaseValueSchema = z
  .object({
    holder: z.string(),
    attempt: z.number().int(),
    group: z.string(),
    generation: z.number().int().positive(),
    /** Written once by a coordinator whose group trained every step, in place of deleting the key: see release(). */
    trained: z.literal(true).optional(),
  })
  .strict();
export type LeaseValue = z.infer<typeof LeaseValueSchema>;

export interface LeaseSettings {
  /** A lease not renewed for this long is gone (the bucket's max age). */
  ttlMs: number;
}

export const DEFAULT_LEASE_SETTINGS: LeaseSettings = { ttlMs: 10_000 };

const buckets = new WeakMap<Bus, Map<number, Promise<KV>>>();

/** The namespace's lease bucket, created on first use (one per TTL so tests can shorten it). */
export function leaseBucket(bus: Bus, ttlMs: number): Promise<KV> {
  let byTtl = buckets.get(bus);
  if (!byTtl) buckets.set(bus, (byTtl = new Map()));
  let kv = byTtl.get(ttlMs);
  if (!kv) {
    kv = new Kvm(bus.js).create(leaseBucketName(bus.namespace, ttlMs), { history: 1, ttl: ttlMs, replicas: streamReplicasOf(bus) });
    kv.catch(() => byTtl.delete(ttlMs));
    byTtl.set(ttlMs, kv);
  }
  return kv;
}

export function leaseBucketName(namespace: string, ttlMs: number): string {
  return `${namespace.replace(/-/g, '_')}_dp_leases_${ttlMs}`;
}

/** KV keys allow [-/_=.a-zA-Z0-9]; job ids are encoded so any id fits. */
export const leaseKey = (jobId: string) => Buffer.from(jobId).toString('base64url');

/** The lease as it stands, or undefined when nobody holds it. */
export async function readLease(bus: Bus, jobId: string, settings: LeaseSettings): Promise<LeaseValue | undefined> {
  return (await readLeaseEntry(bus, jobId, settings))?.value;
}

async function readLeaseEntry(bus: Bus, jobId: string, settings: LeaseSettings): Promise<{ value: LeaseValue; revision: number } | undefined> {
  const kv = await leaseBucket(bus, settings.ttlMs);
  const entry = await kv.get(leaseKey(jobId));
  if (!entry || entry.operation !== 'PUT') return undefined;
  const parsed = LeaseValueSchema.safeParse(safeJson(entry.string()));
  return parsed.success ? { value: parsed.data, revision: entry.revision } : undefined;
}

export class LeaseLost extends Error {}

/**
 * The lease as left by a coordinator of another attempt (`attempt`: this delivery's) that trained
 * every step of the job and is finishing it (scoring, storing, announcing), or undefined. A job
 * message handed out again meanwhile (after a partition, JetStream may redeliver a message whose
 * holder kept confirming it) has nothing left to do: see release().
 */
export async function trainedByAnother(bus: Bus, jobId: string, settings: LeaseSettings, attempt: number): Promise<LeaseValue | undefined> {
  const lease = await readLease(bus, jobId, settings).catch(() => undefined);
  return lease?.trained && lease.attempt !== attempt ? lease : undefined;
}

/**
 * Waits up to `waitMs` for the job's lease to be free for `attempt`, before a coordinator prepares
 * (and announces) an attempt. Returns the lease that stands in its way, or undefined once it is free
 * (or cannot be read: acquire() decides then). A lease marked trained is returned at once; one
 * held by a live coordinator of another attempt is waited out, as its holder may have died (it then
 * expires within a TTL). A job message handed out again while its holder lives (after a partition)
 * would otherwise announce an attempt that never trains, and the job would count two attempts.
 */
export async function leaseInTheWay(bus: Bus, jobId: string, settings: LeaseSettings, attempt: number, waitMs: number): Promise<LeaseValue | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const lease = await readLease(bus, jobId, settings).catch(() => undefined);
    if (!lease || lease.attempt === attempt) return undefined;
    if (lease.trained || Date.now() >= deadline) return lease;
    await new Promise((r) => setTimeout(r, Math.min(1000, settings.ttlMs / 4)));
  }
}

/**
 * One coordinator's hold on a job's lease. `valid()` is true only while the lease cannot have
 * expired on the server: it counts from when the last successful write was sent, less a margin.
 */
export class CoordinatorLease {
  private revision = 0;
  private sentAt = 0;
  private renewTimer: NodeJS.Timeout | undefined;
  private lost: string | undefined;
  private value: LeaseValue | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly jobId: string,
    private readonly settings: LeaseSettings,
    private readonly logger: Logger,
  ) {}

  get generation(): number {
    return this.value?.generation ?? 0;
  }

  /** Why the lease is gone for good (another coordinator took it), if it is. */
  lostReason(): string | undefined {
    return this.lost;
  }

  valid(): boolean {
    return !this.lost && this.revision > 0 && Date.now() < this.sentAt + this.settings.ttlMs - this.margin();
  }

  /**
   * Takes the lease, waiting up to `waitMs` for a previous holder's to expire. Throws LeaseLost when
   * another coordinator still holds it at the end.
   */
  async acquire(holder: string, attempt: number, group: string, waitMs: number): Promise<number> {
    const kv = await leaseBucket(this.bus, this.settings.ttlMs);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const sent = Date.now();
      try {
        // The generation is the revision the create gets; it is written into the value by the first renewal.
        const revision = await kv.create(leaseKey(this.jobId), JSON.stringify({ holder, attempt, group, generation: 1 }));
        this.value = { holder, attempt, group, generation: revision };
        this.revision = await kv.update(leaseKey(this.jobId), JSON.stringify(this.value), revision);
        this.sentAt = sent;
        this.lost = undefined;
        this.startRenewing();
        return revision;
      } catch (err) {
        const current = await readLease(this.bus, this.jobId, this.settings).catch(() => undefined);
        if (current?.trained && current.attempt !== attempt) throw new LeaseLost(`job ${this.jobId} was trained by ${current.holder} (attempt ${current.attempt}), which is finishing it`);
        if (Date.now() >= deadline) {
          throw new LeaseLost(current ? `job ${this.jobId} is coordinated by ${current.holder} (attempt ${current.attempt}, generation ${current.generation})` : `could not take the lease of job ${this.jobId}: ${describeError(err)}`);
        }
        await new Promise((r) => setTimeout(r, Math.min(1000, this.settings.ttlMs / 4)));
      }
    }
  }

  /**
   * Renews now. false when it could not (no server); throws LeaseLost when someone else wrote
   * the key. After an outage longer than the TTL the key may be gone: then it is taken again, as
   * a new generation, unless another coordinator got there first.
   */
  async renew(): Promise<boolean> {
    if (this.lost || !this.value) return false;
    const kv = await leaseBucket(this.bus, this.settings.ttlMs);
    const sent = Date.now();
    try {
      this.revision = await kv.update(leaseKey(this.jobId), JSON.stringify(this.value), this.revision);
      this.sentAt = sent;
      return true;
    } catch (err) {
      if (!this.bus.connection.connected()) return false;
      const current = await readLeaseEntry(this.bus, this.jobId, this.settings).catch(() => null);
      if (current === null) return false; // could not even read: treat as an outage
      if (current && (current.value.holder !== this.value.holder || current.value.group !== this.value.group)) {
        this.lost = `the lease was taken by ${current.value.holder} (attempt ${current.value.attempt}, generation ${current.value.generation})`;
        throw new LeaseLost(this.lost);
      }
      if (current) {
        // Our own write landed but its answer was lost (an outage): carry on from the revision it made.
        this.revision = current.revision;
        this.logger.warn({ err: describeError(err), revision: current.revision }, 'lease renewal answered late; carrying on from the stored revision');
        return false;
      }
      // Expired while we could not renew: take it again, as a new generation.
      try {
        const revision = await kv.create(leaseKey(this.jobId), JSON.stringify({ ...this.value, generation: 1 }));
        this.value = { ...this.value, generation: revision };
        this.revision = await kv.update(leaseKey(this.jobId), JSON.stringify(this.value), revision);
        this.sentAt = sent;
        this.logger.warn({ generation: revision }, 'the lease expired during an outage; re-acquired it as a new generation');
        return true;
      } catch (again) {
        this.logger.warn({ err: describeError(again) }, 'could not re-acquire the lease');
        return false;
      }
    }
  }

  /**
   * Resolves once the lease is valid (after an outage it is renewed or taken again); throws
   * LeaseLost when another coordinator has it, or when `withinMs` passes first.
   */
  async waitValid(withinMs: number): Promise<void> {
    const giveUpAt = Date.now() + withinMs;
    while (!this.valid()) {
      if (this.lost) throw new LeaseLost(this.lost);
      if (Date.now() >= giveUpAt) throw new LeaseLost(`the lease could not be renewed for ${Math.round(withinMs / 1000)} s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Gives the lease up. By default the key is deleted, so a successor need not wait for the TTL.
   * `trained`: the group trained every step, and the job is being finished outside the lease; the
   * key is marked so (one last write) and left to expire, so that for a TTL a redelivery of the job
   * message (seen after a partition: the consumer's new leader hands out a message its holder kept
   * confirming) is recognised and does not start a second attempt from the last checkpoint.
   */
  async release(opts: { trained?: boolean } = {}): Promise<void> {
    clearInterval(this.renewTimer);
    if (this.lost || !this.value) return;
    const kv = await leaseBucket(this.bus, this.settings.ttlMs).catch(() => undefined);
    if (opts.trained) await kv?.update(leaseKey(this.jobId), JSON.stringify({ ...this.value, trained: true } satisfies LeaseValue), this.revision).catch(() => undefined);
    else await kv?.delete(leaseKey(this.jobId), { previousSeq: this.revision }).catch(() => undefined);
    this.revision = 0;
  }

  stop(): void {
    clearInterval(this.renewTimer);
  }

  private margin(): number {
    return Math.min(2000, this.settings.ttlMs / 5);
  }

  private startRenewing(): void {
    clearInterval(this.renewTimer);
    let renewingSince: number | undefined;
    this.renewTimer = setInterval(() => {
      // One renewal at a time: during an outage a request waits for its timeout, and two updates on
      // one revision would race. One stuck past a TTL no longer holds the others back.
      if (renewingSince !== undefined && Date.now() - renewingSince < this.settings.ttlMs) return;
      const started = (renewingSince = Date.now());
      this.renew()
        .catch((err: unknown) => {
          if (err instanceof LeaseLost) clearInterval(this.renewTimer);
        })
        .finally(() => {
          if (renewingSince === started) renewingSince = undefined;
        });
    }, Math.max(100, this.settings.ttlMs / 4));
    this.renewTimer.unref();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { z } from 'zod';
import type { Logger } from '@mlpipe/common';
import { encodeFrames, Reassembler } from '../core/frames';
import { seal, unseal, SEAL_BYTES } from '../core/frameSeal';
import { decodeGradient, encodeDense } from '../core/gradientCodec';
import { ringNeighbours } from '../core/ringPlan';
import { RingReduce } from '../core/ringReduce';

/**
 * The ring all-reduce over core NATS: chunk messages on
 * `<base>.<generation>.<step>.<round>.<ring step>.<receiver>` (one wildcard subscription per member
 * for the whole job and every generation, opened before the member joins, so a neighbour that runs
 * ahead never publishes into a subject nobody listens on yet: early chunks wait in an inbox), frames
 * split at the server's limit and sealed with the job's key like every other group frame. Chunks of
 * another coordinator generation than the member's current one never count.
 *
 * A member that hears nothing from its left neighbour within `timeoutMs` does not hang: it says so on
 * `<base>.<generation>.abort`, and every member still in the exchange answers with whom it was
 * waiting for. The silent member is the one blamed that blamed nobody (alive members all wait on
 * their left when a ring stalls), so every member reports the same name in a RingTimeout and the
 * caller can fall back to coordinator-reduce for that step. `cancel()` ends an exchange the group
 * has abandoned (a new round was announced) at once, with RingCancelled.
 */

/** Room for a frame's JSON header under the server's message limit (as the group channel leaves). */
const HEADER_ROOM = 4096;

const ChunkMeta = z.object({ from: z.string(), generation: z.number().int(), step: z.number().int(), round: z.number().int(), ringStep: z.number().int(), chunk: z.number().int(), n: z.number().int() });
const Blame = z.object({ from: z.string(), generation: z.number().int(), step: z.number().int(), round: z.number().int(), blames: z.string() });
const Hello = z.object({ from: z.string(), seenAll: z.boolean() });

/** Job ids and member names may hold ".", a NATS token separator, so subjects carry them base64url. */
const token = (s: string) => Buffer.from(s).toString('base64url');
export const ringSubjectBase = (namespace: string, jobId: string): string => `${namespace}.dp.${token(jobId)}.ring`;

export class RingTimeout extends Error {
  readonly code = 'RING_TIMEOUT';
  constructor(
    /** The member the ring waited for in vain. */
    readonly silent: string,
    readonly step: number,
    readonly round: number,
    readonly ringStep: number,
  ) {
    super(`ring all-reduce of step ${step} (round ${round}) stopped at ring step ${ringStep}: ${silent} sent nothing in time; fall back to coordinator-reduce for this step`);
    this.name = 'RingTimeout';
  }
}

/** The exchange was given up by its caller (the group moved on to another round). */
export class RingCancelled extends Error {
  readonly code = 'RING_CANCELLED';
  constructor(
    readonly step: number,
    readonly round: number,
  ) {
    super(`ring all-reduce of step ${step} (round ${round}) cancelled: the group moved on`);
    this.name = 'RingCancelled';
  }
}

export interface RingExchangeOptions {
  nc: NatsConnection;
  /** ringSubjectBase(namespace, jobId). */
  base: string;
  /** The coordinator generation to start with (setGeneration moves it): a stale coordinator's ring never mixes with the current one's. */
  generation: number;
  member: string;
  /** The job's group key: every frame is sealed with it and an unsealed one is dropped. */
  key?: Uint8Array | undefined;
  maxPartBytes?: number | undefined;
  /** How long to wait for the left neighbour's chunk at any one ring step. */
  timeoutMs: number;
  logger?: Logger | undefined;
}

export interface AllReduceInput {
  step: number;
  round?: number;
  /** Members in the group's order: the ring runs member k → k+1. */
  members: readonly string[];
  /** This member's sum of per-sample gradients over its shard. */
  gradientSum: Float32Array;
  /** Samples behind all members' sums together (the global batch): the mean divides by it. */
  count: number;
  /**
   * How long to wait for the left neighbour's first chunk (default: the exchange's timeoutMs). It
   * includes the neighbour's compute, so a step that first loads a joiner's weights needs longer.
   */
  firstChunkTimeoutMs?: number | undefined;
}

interface Exchange {
  key: string;
  step: number;
  round: number;
  members: readonly string[];
  /** Set once a stall is known: the blames heard so far (blamer → blamed). */
  blames: Map<string, string>;
  cancelled: boolean;
  wake: (() => void) | undefined;
}

export class RingExchange {
  bytesSent = 0;
  readonly maxPartBytes: number;
  private readonly subs: Subscription[] = [];
  /** Whole chunks that arrived before their ring step was reached, by `${generation}.${step}.${round}.${ringStep}`. */
  private readonly inbox = new Map<string, { from: string; values: Uint8Array }>();
  /** Blames per exchange (`${generation}.${step}.${round}`), kept so a member that comes late learns of the stall. */
  private readonly blames = new Map<string, Map<string, string>>();
  private current: Exchange | undefined;
  private sequence = 0;
  private generation: number;

  constructor(private readonly opts: RingExchangeOptions) {
    const serverLimit = (opts.nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM - SEAL_BYTES;
    this.maxPartBytes = Math.max(1, Math.min(opts.maxPartBytes ?? serverLimit, serverLimit));
    this.generation = opts.generation;
  }

  private get prefix(): string {
    return `${this.opts.base}.${this.generation}`;
  }

  /** A new coordinator generation (the member joined, or its coordinator took the lease again): older chunks stop counting. */
  setGeneration(generation: number): void {
    if (generation <= this.generation) return;
    this.generation = generation;
    // Chunks of the new generation may already be here (a neighbour that learnt of it first): they stay.
    const older = (key: string) => Number(key.split('.')[0]) < generation;
    for (const key of [...this.inbox.keys()].filter(older)) this.inbox.delete(key);
    for (const key of [...this.blames.keys()].filter(older)) this.blames.delete(key);
  }

  /** Ends the exchange in progress, if any, with RingCancelled. */
  cancel(): void {
    if (!this.current) return;
    this.current.cancelled = true;
    this.current.wake?.();
  }

  /** The exchange in progress: `${step}.${round}`, or undefined. */
  get inProgress(): { step: number; round: number } | undefined {
    const c = this.current;
    return c ? { step: c.step, round: c.round } : undefined;
  }

  /** Subscribes (once, for every step and generation of the job) and waits until the server has the subscriptions. */
  async open(): Promise<void> {
    const assembler = new Reassembler();
    this.listen(`${this.opts.base}.*.*.*.*.${token(this.opts.member)}`, (subject, frame) => {
      const whole = assembler.add(frame);
      if (whole) this.onChunk(subject, whole.meta, whole.payload);
    });
    const blameSubject = `${this.opts.base}.*.abort`;
    this.listen(blameSubject, (_subject, frame) => {
      const whole = new Reassembler().add(frame);
      const blame = whole && Blame.safeParse(whole.meta);
      if (blame?.success) this.onBlame(blame.data);
    });
    await this.opts.nc.flush();
  }

  /**
   * Returns once every member has subscribed and knows the others have (each says hello until it
   * has heard everyone say they heard everyone): for a ring set up just before its first exchange.
   */
  async handshake(members: readonly string[], timeoutMs: number): Promise<void> {
    const subject = `${this.prefix}.hello`;
    const heard = new Map<string, boolean>();
    const others = members.filter((m) => m !== this.opts.member);
    const settled = () => others.every((m) => heard.get(m) === true);
    let wake: () => void = () => undefined;
    const sub = this.opts.nc.subscribe(subject, {
      callback: (_err, msg) => {
        const frame = this.unsealFrame(subject, msg.data);
        const whole = frame && new Reassembler().add(frame);
        const hello = whole && Hello.safeParse(whole.meta);
        if (!hello?.success) return;
        heard.set(hello.data.from, hello.data.seenAll || heard.get(hello.data.from) === true);
        wake();
      },
    });
    await this.opts.nc.flush();
    const deadline = Date.now() + timeoutMs;
    try {
      while (!settled()) {
        if (Date.now() > deadline) throw new Error(`ring handshake: no word from ${others.filter((m) => heard.get(m) !== true).join(', ')} within ${timeoutMs} ms`);
        this.publish(subject, { from: this.opts.member, seenAll: others.every((m) => heard.has(m)) }, new Uint8Array(0));
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 100);
        });
      }
      // Once more, so a member that heard everyone but not this member's last word hears it now.
      this.publish(subject, { from: this.opts.member, seenAll: true }, new Uint8Array(0));
      await this.opts.nc.flush();
    } finally {
      sub.unsubscribe();
    }
  }

  /** The mean of every member's gradient sum, the same bits on every member; RingTimeout if one stays silent. */
  async allReduce(input: AllReduceInput): Promise<Float32Array> {
    const { step, members, gradientSum, count } = input;
    const round = input.round ?? 0;
    const rank = members.indexOf(this.opts.member);
    if (rank < 0) throw new Error(`${this.opts.member} is not among the ring's members (${members.join(', ')})`);
    const reduce = new RingReduce(rank, members.length, gradientSum, count);
    if (reduce.done) return reduce.result();
    const generation = this.generation;
    const exchangeKey = `${generation}.${step}.${round}`;
    this.dropOtherThan(exchangeKey);
    const { left, right } = ringNeighbours(members, rank);
    const exchange: Exchange = { key: exchangeKey, step, round, members, blames: this.blames.get(exchangeKey) ?? new Map(), cancelled: false, wake: undefined };
    this.blames.set(exchangeKey, exchange.blames);
    this.current = exchange;
    try {
      while (!reduce.done) {
        const at = reduce.current!;
        if (exchange.cancelled) throw new RingCancelled(step, round);
        if (exchange.blames.size > 0) return await this.stalled(exchange, left, step, round, at.step);
        const meta = { from: this.opts.member, generation, step, round, ringStep: at.step, chunk: at.send, n: members.length };
        this.publish(`${this.opts.base}.${generation}.${step}.${round}.${at.step}.${token(right)}`, meta, encodeDense(reduce.outgoing(), 'f32').bytes);
        const got = await this.take(exchange, `${exchangeKey}.${at.step}`, left, at.step === 0 ? (input.firstChunkTimeoutMs ?? this.opts.timeoutMs) : this.opts.timeoutMs);
        if (exchange.cancelled) throw new RingCancelled(step, round);
        if (!got) return await this.stalled(exchange, left, step, round, at.step);
        reduce.receive(decodeGradient({ encoding: 'f32', bytes: got }, reduce.incomingLength()));
      }
      return reduce.result();
    } finally {
      this.current = undefined;
    }
  }

  close(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs.length = 0;
  }

  /** The left neighbour's chunk of a ring step, or undefined on a timeout or a stall heard of. */
  private async take(exchange: Exchange, slot: string, left: string, timeoutMs: number): Promise<Uint8Array | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const entry = this.inbox.get(slot);
      if (entry && entry.from === left) {
        this.inbox.delete(slot);
        return entry.values;
      }
      if (exchange.blames.size > 0 || exchange.cancelled) return undefined;
      const wait = deadline - Date.now();
      if (wait <= 0) return undefined;
      await new Promise<void>((r) => {
        const timer = setTimeout(r, wait);
        exchange.wake = () => {
          clearTimeout(timer);
          r();
        };
      });
      exchange.wake = undefined;
    }
  }

  /**
   * This member waits on `left`: it says so, listens a little for the others' blames, and names the
   * member blamed by someone that blamed no one (the one that sent nothing), or its left neighbour.
   */
  private async stalled(exchange: Exchange, left: string, step: number, round: number, ringStep: number): Promise<never> {
    const me = this.opts.member;
    if (!exchange.blames.has(me)) {
      exchange.blames.set(me, left);
      this.publish(`${this.prefix}.abort`, { from: me, generation: this.generation, step, round, blames: left }, new Uint8Array(0));
    }
    await new Promise((r) => setTimeout(r, Math.min(1000, this.opts.timeoutMs / 2)));
    if (exchange.cancelled) throw new RingCancelled(step, round);
    const blamers = new Set(exchange.blames.keys());
    const blamed = new Set(exchange.blames.values());
    const silent = exchange.members.find((m) => m !== me && blamed.has(m) && !blamers.has(m)) ?? left;
    this.opts.logger?.warn({ step, round, ringStep, silent, blames: Object.fromEntries(exchange.blames) }, 'ring all-reduce stalled');
    throw new RingTimeout(silent, step, round, ringStep);
  }

  private onChunk(subject: string, raw: Record<string, unknown>, payload: Uint8Array): void {
    const meta = ChunkMeta.safeParse(raw);
    if (!meta.success) return this.dropped(subject, 'chunk header is not a ring chunk');
    const { generation, step, round, ringStep, from } = meta.data;
    // A later generation's chunks may come before this member hears of it: they wait; older ones never count.
    if (generation < this.generation) return;
    const slot = `${generation}.${step}.${round}.${ringStep}`;
    // Bounded: a neighbour is at most one exchange ahead, so a handful of chunks is all that can wait.
    if (this.inbox.size >= 64) this.inbox.delete(this.inbox.keys().next().value as string);
    this.inbox.set(slot, { from, values: payload });
    if (this.current?.key === `${generation}.${step}.${round}`) this.current.wake?.();
  }

  private onBlame(blame: z.infer<typeof Blame>): void {
    if (blame.generation < this.generation) return;
    const key = `${blame.generation}.${blame.step}.${blame.round}`;
    let blames = this.blames.get(key);
    if (!blames) {
      if (this.blames.size >= 16) this.blames.delete(this.blames.keys().next().value as string);
      blames = new Map();
      this.blames.set(key, blames);
    }
    blames.set(blame.from, blame.blames);
    if (this.current?.key === key) this.current.wake?.();
  }

  /** Chunks and blames of other exchanges are of steps already left (or abandoned) or of nothing. */
  private dropOtherThan(exchangeKey: string): void {
    for (const slot of this.inbox.keys()) if (!slot.startsWith(`${exchangeKey}.`)) this.inbox.delete(slot);
  }

  private listen(subject: string, on: (subject: string, frame: Uint8Array) => void): void {
    const sub = this.opts.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        const frame = this.unsealFrame(msg.subject, msg.data);
        if (!frame) return;
        try {
          on(msg.subject, frame);
        } catch (error) {
          this.dropped(msg.subject, String(error));
        }
      },
    });
    this.subs.push(sub);
  }

  private publish(subject: string, meta: object, payload: Uint8Array): void {
    const id = `${this.opts.member}:${++this.sequence}`;
    for (const frame of encodeFrames(id, meta, payload, this.maxPartBytes)) {
      const out = this.opts.key ? seal(this.opts.key, subject, frame) : frame;
      this.bytesSent += out.byteLength;
      this.opts.nc.publish(subject, out);
    }
  }

  private unsealFrame(subject: string, data: Uint8Array): Uint8Array | undefined {
    if (!this.opts.key) return data;
    const frame = unseal(this.opts.key, subject, data);
    if (!frame) this.dropped(subject, 'no valid seal for this job');
    return frame;
  }

  private dropped(subject: string, detail: string): void {
    this.opts.logger?.warn({ subject, detail }, 'dropped a ring frame');
  }
}

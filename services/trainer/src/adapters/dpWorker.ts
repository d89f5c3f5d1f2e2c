import { performance } from 'node:perf_hooks';
import type * as tf from '@tensorflow/tfjs';
import type { Bus } from '@mlpipe/bus';
import { describeError, type Logger } from '@mlpipe/common';
import {
  DP_PROTOCOL_VERSION,
  DpControlSchema,
  DpJoinReplySchema,
  DpStateMetaSchema,
  type AppliedStep,
  type DpControl,
  type DpStateMeta,
  type ExchangeScheme,
  type Hyperparams,
  type LabelledImages,
  exchangeSchemeOf,
} from '@mlpipe/contracts';
import { applyFlatGradients, augmentFor, computeShardGradients, epochOrder, gradientLength, learningRateAt, loadModelFromBytes, recipeFrom, saveModelToBytes, setLearningRate, type Recipe } from '@mlpipe/ml';
import { decodeGradient, encodeDense, TopKCompressor, type EncodedGradient } from '../core/gradientCodec';
import { applyDecision } from '../core/catchUp';
import { allFinite } from '../core/gradientCheck';
import { batchRange, shardRange, stepPosition } from '../core/sharding';
import { readLease, type LeaseSettings } from './coordinatorLease';
import { DpChannel, type FrameDrop } from './dpChannel';
import type { LinkClock } from './linkClock';
import { RingCancelled, RingExchange, RingTimeout, ringSubjectBase, type RingExchangeOptions } from './ringExchange';

export type WorkerOutcome = 'done' | 'aborted' | 'lost' | 'refused';

/** Half the default step timeout: a ring that fails falls back to the coordinator before the member counts as stalled. */
export const DEFAULT_RING_TIMEOUT_MS = 30_000;

/** What a member sends the coordinator for a step: a gradient frame's header and payload. */
interface Contribution {
  meta: Record<string, unknown>;
  payload: Uint8Array;
}


export interface StepTiming {
  step: number;
  /** Forward, backward and applying the update. */
  computeMs: number;
  /** From sending this replica's gradient to receiving the mean: exchange plus waiting for slower members. */
  exchangeMs: number;
  bytesSent: number;
}

export interface DpWorkerOptions {
  bus: Bus;
  jobId: string;
  member: string;
  logger: Logger;
  train: LabelledImages;
  hyperparams: Hyperparams;
  perEpoch: number;
  /** The coordinating replica starts with its model (fresh or from a checkpoint); others receive one. */
  model?: tf.LayersModel;
  appliedThrough?: number;
  /** How long to keep looking for a coordinator before giving up. */
  joinTimeoutMs: number;
  /** Silence from the coordinator after which the group is considered lost. */
  coordinatorTimeoutMs: number;
  maxPartBytes?: number;
  /** The job's group key: frames without its seal are dropped. */
  groupKey?: Uint8Array;
  onDrop?: (why: FrameDrop) => void;
  /** With `exchange: ring`: how long to wait for the left neighbour's chunk before falling back to the coordinator. */
  ringTimeoutMs?: number;
  /** The same for the first chunk of a step that admits a joiner (it loads the weights before it computes); default 4 × ringTimeoutMs. */
  ringAdmissionTimeoutMs?: number;
  /** Makes the member's ring exchange (tests put a faulty link here). */
  ringExchange?: (o: RingExchangeOptions) => RingExchange;
  /** This member's ring all-reduce of `step` failed and it sent its gradient to the coordinator instead. */
  onRingFallback?: (reason: 'timeout' | 'non-finite' | 'error', step: number) => void;
  clock: LinkClock;
  /** An outage longer than this ends the membership (the job resumes from its checkpoint). */
  outageToleranceMs: number;
  /** The job's coordinator lease: a member whose coordinator's lease is gone for a TTL leaves at once. */
  lease: LeaseSettings;
  signal?: AbortSignal;
  /** Awaited after every applied step (the coordinating replica validates and checkpoints at epoch ends). */
  onApplied?: (applied: AppliedStep, model: tf.LayersModel, members: string[]) => Promise<void> | void;
  onStep?: (t: StepTiming) => void;
}

/**
 * One member of a data-parallel group: joins the job's coordinator, computes its shard of each
 * step's global batch, sends the gradient sum, applies the mean it gets back, and sends its
 * state to joiners when asked. Out of step for any reason, it asks to re-join and is
 * re-synchronised at the next step boundary instead of guessing.
 *
 * Faults: frames of an older coordinator generation are ignored; a step announced again is
 * answered with the gradient already computed; after a reconnect the pending gradient is sent
 * again. Its timeouts run on a clock that stops during an outage; past the tolerance, or once the
 * coordinator's lease has been gone for a TTL, it leaves so the replica is free for other work.
 */
export class DpWorker {
  private readonly channel: DpChannel;
  private model: tf.LayersModel | undefined;
  private appliedThrough: number;
  private group: string | undefined;
  private role: 'outside' | 'waiting' | 'member' = 'outside';
  private members: string[] = [];
  private queue: Promise<void> = Promise.resolve();
  private lastControlAt = 0;
  private gradientSentAt: number | undefined;
  private lastTiming: Omit<StepTiming, 'exchangeMs'> | undefined;
  private readonly states = new Map<number, { meta: DpStateMeta; payload: Uint8Array }>();
  private stateArrived: (() => void) | undefined;
  private readonly topk: TopKCompressor | undefined;
  private readonly recipe: Recipe;
  private finish: ((o: WorkerOutcome) => void) | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private beat: () => void = () => undefined;
  /** The highest coordinator generation seen: frames from a lower one come from a stale coordinator. */
  private generation = 0;
  private attempt = 0;
  /**
   * What was sent for the step in flight, re-sent when the step is announced again; `full` is the
   * gradient itself, for a ring round announced again as coordinator-reduce.
   */
  private lastGradient: (Contribution & { step: number; round: number; full: Contribution; sentAt: number }) | undefined;
  /** The ring member (jobs with `exchange: ring`): subscribed before joining, for the whole job. */
  private readonly ring: RingExchange | undefined;
  /** The mean this member's ring computed for a step and round, applied when the coordinator commits it. */
  private ringMean: { step: number; round: number; mean: Float32Array } | undefined;
  /** How long the ring waits for the first chunk of a step that admits a joiner. */
  private readonly ringAdmissionTimeoutMs: number;

  constructor(private readonly opts: DpWorkerOptions) {
    this.channel = new DpChannel(opts.bus, opts.jobId, opts.member, opts.logger, { maxPartBytes: opts.maxPartBytes, key: opts.groupKey, onDrop: opts.onDrop });
    this.model = opts.model;
    this.appliedThrough = opts.appliedThrough ?? -1;
    this.topk = opts.hyperparams.compression === 'topk' ? new TopKCompressor(opts.hyperparams.topkRatio) : undefined;
    this.recipe = recipeFrom(opts.hyperparams, opts.perEpoch);
    const ringTimeoutMs = opts.ringTimeoutMs ?? DEFAULT_RING_TIMEOUT_MS;
    this.ringAdmissionTimeoutMs = opts.ringAdmissionTimeoutMs ?? 4 * ringTimeoutMs;
    if (exchangeSchemeOf(opts.hyperparams) === 'ring') {
      const ringOptions: RingExchangeOptions = {
        nc: opts.bus.nc,
        base: ringSubjectBase(opts.bus.namespace, opts.jobId),
        generation: 0,
        member: opts.member,
        key: opts.groupKey,
        maxPartBytes: opts.maxPartBytes,
        timeoutMs: ringTimeoutMs,
        logger: opts.logger,
      };
      this.ring = opts.ringExchange ? opts.ringExchange(ringOptions) : new RingExchange(ringOptions);
    }
  }

  /** The model as trained so far (owned by the caller after run()). */
  currentModel(): tf.LayersModel | undefined {
    return this.model;
  }

  get bytesSent(): number {
    return this.channel.bytesSent + (this.ring?.bytesSent ?? 0);
  }

  async run(): Promise<{ outcome: WorkerOutcome; reason?: string }> {
    const s = this.channel.subjects;
    let reason: string | undefined;
    let failed = false;
    const outcome = new Promise<WorkerOutcome>((resolve) => (this.finish = resolve));
    // Control messages may overtake the join reply: they wait until the group is known.
    let joinedGroup: () => void = () => undefined;
    this.queue = new Promise<void>((resolve) => (joinedGroup = resolve));
    this.channel.listen(s.ctl, ({ meta, payload }) => {
      const ctl = DpControlSchema.safeParse(meta);
      if (!ctl.success) return;
      this.lastControlAt = this.opts.clock.now();
      this.cancelAbandonedRing(ctl.data);
      const heardAt = performance.now();
      // After a failed step the worker is leaving: frames already queued are not tried again (each
      // would fail the same way, e.g. on the weights its ended attempt disposed, and log it again).
      this.queue = this.queue.then(() => (failed ? undefined : this.onControl(ctl.data, payload, heardAt))).catch((err: unknown) => {
        failed = true;
        reason = describeError(err);
        this.opts.logger.error({ err: reason }, 'data-parallel step failed on this replica');
        this.finish?.('lost');
      });
    });
    this.channel.listen(s.state, ({ meta, payload }) => {
      const m = DpStateMetaSchema.safeParse(meta);
      if (!m.success || !m.data.to.includes(this.opts.member) || m.data.generation < this.generation) return;
      this.states.set(m.data.appliedThrough, { meta: m.data, payload });
      this.stateArrived?.();
    });
    const onAbort = () => this.finish?.('aborted');
    this.opts.signal?.addEventListener('abort', onAbort, { once: true });
    const { clock } = this.opts;
    let leaseGoneSince: number | undefined;
    let leaseCheckedAt = 0;
    const leave = (why: string) => {
      reason = why;
      this.finish?.('lost');
    };
    const watchdog = setInterval(() => {
      if (clock.outageMs() > this.opts.outageToleranceMs) return leave(`NATS out of reach for more than ${this.opts.outageToleranceMs / 1000} s`);
      if (this.role === 'outside') return;
      if (clock.now() - this.lastControlAt > this.opts.coordinatorTimeoutMs) return leave(`no word from the coordinator for ${this.opts.coordinatorTimeoutMs} ms`);
      if (!clock.connected() || Date.now() - leaseCheckedAt < 2000) return;
      leaseCheckedAt = Date.now();
      readLease(this.opts.bus, this.opts.jobId, this.opts.lease).then(
        (lease) => {
          if (lease && lease.group === this.group) return void (leaseGoneSince = undefined);
          leaseGoneSince ??= clock.now();
          // A coordinator back from an outage takes its lease again within a fraction of the TTL: wait a whole one.
          if (clock.now() - leaseGoneSince > this.opts.lease.ttlMs) {
            leave(lease ? `the job is now coordinated by ${lease.holder} (attempt ${lease.attempt})` : `the coordinator's lease has been gone for ${this.opts.lease.ttlMs / 1000} s`);
          }
        },
        () => undefined,
      );
    }, 500);
    const stopWatchingLink = clock.onReconnect(() => {
      this.beat();
      const g = this.lastGradient;
      if (g && g.step > this.appliedThrough) this.channel.send(this.channel.subjects.grad, g.meta, g.payload);
    });
    try {
      // Before joining: a neighbour's first chunk may come before this member has seen the step.
      await this.ring?.open();
      const joined = await this.join();
      if (joined !== true) return { outcome: joined.outcome, reason: joined.reason };
      joinedGroup();
      const result = await outcome;
      await this.queue.catch(() => undefined);
      return reason === undefined ? { outcome: result } : { outcome: result, reason };
    } finally {
      clearInterval(watchdog);
      stopWatchingLink();
      clearInterval(this.heartbeat);
      this.opts.signal?.removeEventListener('abort', onAbort);
      this.channel.close();
      this.ring?.close();
    }
  }

  /** A ring still waiting for a round the group has left (a new round, another step, an abort) gives up at once. */
  private cancelAbandonedRing(ctl: DpControl): void {
    const at = this.ring?.inProgress;
    if (!at || ctl.group !== this.group || ctl.generation < this.generation) return;
    if (ctl.kind === 'step' && ctl.step === at.step && ctl.round === at.round && ctl.exchange !== 'coordinator') return;
    this.ring?.cancel();
  }

  private async join(): Promise<true | { outcome: WorkerOutcome; reason: string }> {
    const { clock } = this.opts;
    const deadline = clock.now() + this.opts.joinTimeoutMs;
    const subject = this.channel.subjects.join;
    for (;;) {
      if (this.opts.signal?.aborted) return { outcome: 'aborted', reason: 'aborted before joining' };
      if (clock.outageMs() > this.opts.outageToleranceMs) return { outcome: 'lost', reason: `NATS out of reach for more than ${this.opts.outageToleranceMs / 1000} s` };
      try {
        const request = this.channel.encodeJson(subject, { protocol: DP_PROTOCOL_VERSION, member: this.opts.member });
        const msg = await this.opts.bus.nc.request(subject, request, { timeout: 2000 });
        const answer = this.channel.decodeJson(`${subject}.reply`, msg.data);
        if (!answer) throw new Error('a join reply without the job key\'s seal');
        const reply = DpJoinReplySchema.parse(answer);
        if (reply.retry) throw new Error(`not now: ${reply.reason ?? 'refused for the moment'}`);
        if (!reply.accepted || !reply.group || !reply.generation || !reply.attempt) return { outcome: 'refused', reason: reply.reason ?? 'refused' };
        // Two coordinators may answer (a stale one and its successor): only the lease holder's answer counts.
        const lease = await readLease(this.opts.bus, this.opts.jobId, this.opts.lease);
        if (reply.generation < this.generation || (lease && lease.group !== reply.group)) throw new Error(`a stale coordinator answered (generation ${reply.generation})`);
        this.group = reply.group;
        this.generation = reply.generation;
        this.ring?.setGeneration(reply.generation);
        this.attempt = reply.attempt;
        this.role = 'waiting';
        this.lastControlAt = clock.now();
        const beatEvery = reply.heartbeatMs ?? 1000;
        clearInterval(this.heartbeat);
        this.beat = () => this.channel.publishJson(this.channel.subjects.heartbeat, { group: this.group, member: this.opts.member, appliedThrough: this.appliedThrough });
        this.beat();
        this.heartbeat = setInterval(this.beat, beatEvery);
        return true;
      } catch (err) {
        if (clock.now() >= deadline) return { outcome: 'lost', reason: `no coordinator answered within ${this.opts.joinTimeoutMs} ms (${describeError(err)})` };
        this.opts.logger.debug({ err: describeError(err), connected: clock.connected(), server: this.opts.bus.nc.getServer() }, 'join not answered yet; asking again');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** Asks to be re-synchronised: the coordinator drops this replica and re-admits it with fresh state. */
  private async rejoin(why: string): Promise<void> {
    this.opts.logger.warn({ why }, 're-joining the group');
    this.role = 'outside';
    const joined = await this.join();
    if (joined !== true) this.finish?.(joined.outcome);
  }

  /** `heardAt`: when the frame arrived; it may have waited in the queue behind a long step. */
  private async onControl(ctl: DpControl, payload: Uint8Array, heardAt: number): Promise<void> {
    if (ctl.group !== this.group || ctl.generation < this.generation) return;
    // The coordinator took its lease again after an outage longer than the TTL: a new generation.
    // What this member sends from now on (weights to a joiner above all) carries it, or a member
    // that joined under the new generation would ignore it as stale.
    this.generation = ctl.generation;
    this.ring?.setGeneration(ctl.generation);
    if (ctl.kind === 'abort') return void this.finish?.('aborted');
    const g = this.lastGradient;
    if (ctl.kind === 'step' && g && g.step === ctl.step && g.round === ctl.round && this.appliedThrough === ctl.step - 1) {
      // The step announced again (frames were lost, or it was slow): the answer is the one already
      // computed (the gradient itself once the round fell back from the ring), and the weights
      // again to joiners that may have lost them.
      if (ctl.transfer?.from === this.opts.member && this.model) await this.sendState(ctl.transfer.to);
      const answer = ctl.exchange === 'coordinator' ? g.full : g;
      // Sent after this announcement arrived (it waited behind the ring): that send answered it already.
      const answered = g.sentAt > heardAt && (answer === g || g.meta.encoding !== 'ring');
      if (!answered) this.channel.send(this.channel.subjects.grad, answer.meta, answer.payload);
      return;
    }
    if (this.gradientSentAt !== undefined && this.lastTiming) {
      this.opts.onStep?.({ ...this.lastTiming, exchangeMs: performance.now() - this.gradientSentAt });
      this.gradientSentAt = undefined;
    }
    if (ctl.kind === 'step') this.members = ctl.members;
    const applyStarted = performance.now();
    // Behind the group, it asks once to re-join; the frame that re-admits it brings the weights.
    const stateToThisReplica = ctl.kind === 'step' && ctl.transfer?.to.includes(this.opts.member) === true;
    const decision = applyDecision({ kind: ctl.kind, applyStep: ctl.apply?.step, stateToThisReplica }, { appliedThrough: this.appliedThrough, hasModel: this.model !== undefined, role: this.role });
    if (decision === 'rejoin') return this.rejoin(`missed step ${this.appliedThrough + 1}`);
    if (decision === 'apply' && ctl.apply && this.model) {
      const mean = this.meanToApply(ctl.apply, payload, gradientLength(this.model));
      if (!mean) return this.rejoin(`no ring result of step ${ctl.apply.step} to apply`);
      // Every member sets the same scheduled rate for the same global step before its optimizer runs.
      setLearningRate(this.model, learningRateAt(ctl.apply.step, this.recipe.schedule));
      applyFlatGradients(this.model, mean);
      this.appliedThrough = ctl.apply.step;
      await this.opts.onApplied?.(ctl.apply, this.model, this.members);
    }
    const applyMs = performance.now() - applyStarted;
    if (ctl.kind === 'done') {
      this.beat(); // tells the coordinator the last step arrived
      return void this.finish?.('done');
    }

    if (ctl.transfer?.from === this.opts.member && this.model) await this.sendState(ctl.transfer.to);
    const rank = ctl.members.indexOf(this.opts.member);
    if (rank < 0) {
      if (this.role === 'member') return this.rejoin(`dropped from the group at step ${ctl.step}`);
      return;
    }
    const admitted = this.role !== 'member';
    this.role = 'member';
    if (!this.model || this.appliedThrough !== ctl.step - 1) {
      if (!ctl.transfer?.to.includes(this.opts.member)) return this.rejoin(`not synchronised for step ${ctl.step}`);
      await this.receiveState(ctl.step - 1);
    }
    // Said once per admission: a re-admitted replica may have caught up by applying every step the
    // link held back (TCP delivers them late, in order) instead of by the weights sent to it.
    if (admitted) this.opts.logger.info({ step: ctl.step, appliedThrough: this.appliedThrough, members: ctl.members.length }, 'admitted to the group at a step boundary');
    await this.contribute(ctl.step, ctl.round, ctl.members, ctl.exchange ?? 'coordinator', applyMs, ctl.transfer !== undefined);
  }

  /** The committed step's mean: from the frame, or (a ring step) the one this member's ring computed for that round. */
  private meanToApply(apply: AppliedStep, payload: Uint8Array, length: number): Float32Array | undefined {
    if (apply.encoding !== 'ring') return decodeGradient({ encoding: apply.encoding, bytes: payload }, length);
    const held = this.ringMean;
    this.ringMean = undefined;
    return held && held.step === apply.step && held.round === apply.round ? held.mean : undefined;
  }

  /**
   * Computes this member's gradient of the step and hands it on: to the coordinator, or into the
   * ring with the round's members (reporting only counts to the coordinator). A ring that fails
   * sends the gradient to the coordinator instead; one the group abandoned sends nothing.
   */
  private async contribute(step: number, round: number, members: string[], exchange: ExchangeScheme, applyMs: number, admitting: boolean): Promise<void> {
    const rank = members.indexOf(this.opts.member);
    const started = performance.now();
    const bytesBefore = this.bytesSent;
    const g = this.computeGradient(step, rank, members.length);
    const full: Contribution = { meta: { ...g.meta, step, round }, payload: g.encoded.bytes };
    this.gradientSentAt = performance.now();
    this.lastTiming = { step, computeMs: this.gradientSentAt - started + applyMs, bytesSent: 0 };
    const sent = (c: Contribution) => {
      this.lastGradient = { step, round, ...c, full, sentAt: performance.now() };
      this.channel.send(this.channel.subjects.grad, c.meta, c.payload);
    };
    if (exchange !== 'ring' || !this.ring) sent(full);
    else {
      const fallBack = (reason: 'timeout' | 'non-finite' | 'error', why: string) => {
        this.opts.logger.warn({ step, round, err: why }, 'ring all-reduce failed: sending the gradient to the coordinator');
        this.opts.onRingFallback?.(reason, step);
        sent(full);
      };
      try {
        const mean = await this.ring.allReduce({ step, round, members, gradientSum: g.gradSum, count: g.globalCount, firstChunkTimeoutMs: admitting ? this.ringAdmissionTimeoutMs : undefined });
        // Every member checks what the ring made: a poisoned chunk goes to the coordinator's checks instead.
        if (!allFinite(mean)) fallBack('non-finite', `the ring's mean of step ${step} is not finite`);
        else {
          this.ringMean = { step, round, mean };
          sent({ meta: { ...full.meta, encoding: 'ring' }, payload: new Uint8Array(0) });
        }
      } catch (err) {
        // Abandoned: the coordinator announced another round; a re-announcement of this one gets the gradient.
        if (err instanceof RingCancelled) this.lastGradient = { step, round, ...full, full, sentAt: -Infinity };
        else fallBack(err instanceof RingTimeout ? 'timeout' : 'error', describeError(err));
      }
    }
    this.lastTiming.bytesSent = this.bytesSent - bytesBefore;
  }

  private computeGradient(step: number, rank: number, size: number) {
    const model = this.model as tf.LayersModel;
    const hp = this.opts.hyperparams;
    const position = stepPosition(step, this.opts.perEpoch);
    const global = batchRange(position.batch, hp.batchSize, this.opts.train.count);
    const shard = shardRange(global, rank, size);
    const order = epochOrder(this.opts.train.count, hp.seed, position.epoch);
    const g = computeShardGradients(model, this.opts.train, order, shard.start, shard.count, augmentFor(this.recipe, hp.seed, position.epoch));
    // Computed here from the group's weights: not finite means the model diverged, which no retry mends.
    if (!Number.isFinite(g.lossSum) || !allFinite(g.gradSum)) throw new Error(`the model diverged at step ${step}: its gradient is not finite (lower the learning rate)`);
    const encoded: EncodedGradient = this.topk ? this.topk.encode(g.gradSum) : encodeDense(g.gradSum, hp.compression === 'fp16' ? 'f16' : 'f32');
    const meta = { group: this.group, attempt: this.attempt, generation: this.generation, member: this.opts.member, count: g.count, lossSum: g.lossSum, correct: g.correct, encoding: encoded.encoding as string };
    return { gradSum: g.gradSum, encoded, meta, globalCount: global.count };
  }

  private async sendState(to: string[]): Promise<void> {
    const bytes = await saveModelToBytes(this.model as tf.LayersModel);
    const payload = new Uint8Array(bytes.modelJson.byteLength + bytes.weights.byteLength);
    payload.set(bytes.modelJson, 0);
    payload.set(bytes.weights, bytes.modelJson.byteLength);
    const meta: DpStateMeta = { group: this.group as string, attempt: this.attempt, generation: this.generation, appliedThrough: this.appliedThrough, from: this.opts.member, to, modelJsonBytes: bytes.modelJson.byteLength };
    this.channel.send(this.channel.subjects.state, meta, payload);
  }

  private async receiveState(appliedThrough: number): Promise<void> {
    const deadline = this.opts.clock.now() + this.opts.coordinatorTimeoutMs;
    while (!this.states.has(appliedThrough)) {
      if (this.opts.clock.now() > deadline) throw new Error(`no weights arrived for step ${appliedThrough + 1}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.stateArrived = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const { meta, payload } = this.states.get(appliedThrough) as { meta: DpStateMeta; payload: Uint8Array };
    this.states.clear();
    const model = await loadModelFromBytes(
      { modelJson: payload.subarray(0, meta.modelJsonBytes), weights: payload.subarray(meta.modelJsonBytes) },
      this.recipe.optimizer,
    );
    this.model?.dispose();
    this.model = model;
    this.appliedThrough = appliedThrough;
    this.opts.logger.info({ from: meta.from, appliedThrough }, 'received the group weights');
  }
}

import { performance } from 'node:perf_hooks';
import type { Msg } from '@nats-io/nats-core';
import type { Bus } from '@mlpipe/bus';
import { describeError, type Logger } from '@mlpipe/common';
import {
  DP_PROTOCOL_VERSION,
  DpGradientMetaSchema,
  DpHeartbeatSchema,
  DpJoinRequestSchema,
  type AppliedStep,
  type DpControl,
  type DpJoinReply,
  type EpochSummary,
  type ExchangeScheme,
} from '@mlpipe/contracts';
import { decodeGradient, encodeDense } from '../core/gradientCodec';
import { gradientFault } from '../core/gradientCheck';
import { EpochTally, Membership, StepRound, type EpochTallyState, type Receipt, type ReducedStep } from '../core/group';
import { stepPosition } from '../core/sharding';
import { LeaseLost, type CoordinatorLease } from './coordinatorLease';
import { DpChannel, type FrameDrop } from './dpChannel';
import type { LinkClock } from './linkClock';

export interface GroupChange {
  change: 'formed' | 'joined' | 'dropped';
  replica: string;
  reason: string;
  step: number;
  epoch: number;
  members: string[];
}

/** The attempt ends because NATS stayed out of reach past the tolerance; it resumes from its checkpoint. */
export class OutageTooLong extends Error {}

export interface CoordinatorOptions {
  bus: Bus;
  jobId: string;
  group: string;
  attempt: number;
  /** Held for the whole run: steps are committed only while it is valid. */
  lease: CoordinatorLease;
  clock: LinkClock;
  /** An outage longer than this ends the attempt (members keep their state until then). */
  outageToleranceMs: number;
  /** A step without progress for this long is announced again (frames lost in an outage are re-sent). */
  retransmitMs: number;
  /** Loss and accuracy sums of the epoch in progress when resuming mid-epoch. */
  partialEpoch?: EpochTallyState;
  logger: Logger;
  /** The replica hosting the coordinator: first member, the source of the initial weights. */
  host: string;
  maxMembers: number;
  startStep: number;
  totalSteps: number;
  perEpoch: number;
  gradientLength: number;
  /** Mean gradients go back in half precision when the job asks for compression. */
  broadcast: 'f32' | 'f16';
  /** How the members combine gradients: through here, or a ring among themselves (reporting counts here). */
  exchange: ExchangeScheme;
  /** How long to wait for the group to fill before starting with whoever came. */
  joinWindowMs: number;
  stepTimeoutMs: number;
  heartbeatMs: number;
  heartbeatTimeoutMs: number;
  maxPartBytes?: number;
  /** The job's group key: frames without its seal are dropped. */
  groupKey?: Uint8Array;
  /** The samples of the shard `rank` of `size` members computes at `step`: a gradient claiming other counts is dropped. */
  shardCount: (step: number, rank: number, size: number) => number;
  onChange?: (c: GroupChange) => void;
  onReceipt?: (r: Receipt) => void;
  /** A frame or gradient dropped unread, and why. */
  onDrop?: (why: FrameDrop | 'non-finite' | 'wrong-count') => void;
}

/**
 * The coordinator of a synchronous data-parallel group (coordinator-reduce): it tells the
 * members which step to compute and who is in it, waits for every member's gradient, and sends
 * back one mean gradient that every member applies. A member silent past the heartbeat timeout,
 * or without a gradient within the step timeout, is dropped and the step is restarted with the
 * rest (new shards): a step is applied by all members of its final round or by none.
 *
 * Faults: its timeouts run on a clock that stops while NATS is out of reach, a step that makes no
 * progress is announced again (members answer a repeated step with the gradient they already
 * computed), and a step is committed only under a valid lease. So an outage within the tolerance
 * costs no step, and a stale coordinator commits none.
 *
 * With `exchange: ring` it stays the control plane (membership, rounds, commits, tallies) but sees
 * no gradients: members all-reduce in a ring and report only counts and losses, and the next step
 * tells them to apply their ring's result. A member whose ring failed sends its gradient instead;
 * the round is then announced again as coordinator-reduce, so every member sends its gradient and
 * the mean is made here (a step is still applied by all of its round or by none).
 */
export class Coordinator {
  private readonly channel: DpChannel;
  private readonly membership = new Membership();
  private readonly tally: EpochTally;
  private round: StepRound | undefined;
  private roundCounter = 0;
  private wake: (() => void) | undefined;
  private aborted: string | undefined;
  private finished = false;
  private epochStarted = performance.now();
  private changes = 0;
  private joinSub: { unsubscribe(): void } | undefined;
  private readonly applied = new Map<string, number>();
  private announceAgain = false;
  /** The ring round whose members were last asked for their gradients after a fall-back. */
  private askedForGradients = -1;
  private stopWatchingLink: (() => void) | undefined;
  /** Seconds the epoch in progress had run before a resume. */
  private carriedSeconds: number;

  constructor(private readonly opts: CoordinatorOptions) {
    this.channel = new DpChannel(opts.bus, opts.jobId, `coord-${opts.group}`, opts.logger, { maxPartBytes: opts.maxPartBytes, key: opts.groupKey, onDrop: opts.onDrop });
    this.tally = new EpochTally(opts.partialEpoch);
    this.carriedSeconds = opts.partialEpoch?.seconds ?? 0;
  }

  /** The epoch in progress, for a mid-epoch checkpoint. */
  epochSoFar(): EpochTallyState {
    return this.tally.state(this.carriedSeconds + (performance.now() - this.epochStarted) / 1000);
  }

  private fence(): { attempt: number; generation: number } {
    return { attempt: this.opts.attempt, generation: this.opts.lease.generation };
  }

  get membershipChanges(): number {
    return this.changes;
  }

  members(): string[] {
    return this.membership.current();
  }

  /** Starts answering joins, heartbeats and gradients. */
  listen(): void {
    const { bus } = this.opts;
    const s = this.channel.subjects;
    // An error (a subscription the server refused) comes without a message to answer.
    this.joinSub = bus.nc.subscribe(s.join, {
      callback: (err, msg) => {
        if (!err) this.onJoin(msg);
      },
    });
    this.channel.listen(s.heartbeat, ({ meta }) => {
      const hb = DpHeartbeatSchema.safeParse(meta);
      if (!hb.success || hb.data.group !== this.opts.group) return;
      this.membership.seen(hb.data.member, this.opts.clock.now());
      if (hb.data.appliedThrough !== undefined) this.applied.set(hb.data.member, hb.data.appliedThrough);
      if (this.finished) this.wake?.();
    });
    this.channel.listen(s.grad, ({ meta, payload }) => this.onGradient(meta, payload));
    this.stopWatchingLink = this.opts.clock.onReconnect(() => {
      this.announceAgain = true;
      this.wake?.();
    });
  }

  abort(reason: string): void {
    if (this.finished) return;
    this.aborted = reason;
    this.channel.send(this.channel.subjects.ctl, { kind: 'abort', group: this.opts.group, ...this.fence(), reason } satisfies DpControl);
    this.wake?.();
  }

  /** Runs every remaining step; resolves after the final mean gradient went out. */
  async run(): Promise<void> {
    const o = this.opts;
    try {
      await this.waitForMembers();
      let pending: { reduced: ReducedStep; applied: AppliedStep; payload: Uint8Array } | undefined;
      let transfer: { from: string; to: string[] } | undefined = this.admit(o.startStep, true);
      for (let step = o.startStep; step < o.totalSteps; step++) {
        const reduced = await this.runStep(step, pending, transfer);
        transfer = undefined;
        const position = stepPosition(step, o.perEpoch);
        this.tally.add(reduced);
        const encoded = reduced.mean && encodeDense(reduced.mean, o.broadcast);
        const applied: AppliedStep = encoded
          ? { step, encoding: encoded.encoding as 'f32' | 'f16', count: reduced.count }
          : { step, encoding: 'ring', round: reduced.round, count: reduced.count };
        if (position.endsEpoch) applied.epochEnd = this.closeEpoch(position.epoch);
        pending = { reduced, applied, payload: encoded ? encoded.bytes : new Uint8Array(0) };
        if (step + 1 < o.totalSteps && this.membership.hasWaiting()) transfer = this.admit(step + 1, false);
      }
      this.finished = true;
      if (pending) await this.sayDone(pending.applied, pending.payload);
    } finally {
      this.close();
    }
  }

  /**
   * Sends the last step and keeps re-sending it until every member reports having applied it (or
   * falls silent): a 'done' lost in an outage would otherwise leave members waiting for good.
   */
  private async sayDone(applied: AppliedStep, payload: Uint8Array): Promise<void> {
    const o = this.opts;
    const send = () => this.channel.send(this.channel.subjects.ctl, { kind: 'done', group: o.group, ...this.fence(), apply: applied } satisfies DpControl, payload);
    await this.committable();
    send();
    let sentAt = Date.now();
    for (;;) {
      const waiting = this.membership.current().filter((m) => (this.applied.get(m) ?? -1) < applied.step);
      const silent = new Set(this.membership.silent(o.clock.now(), o.heartbeatTimeoutMs));
      if (waiting.every((m) => silent.has(m))) return;
      this.checkOutage();
      if (o.clock.connected() && (this.announceAgain || Date.now() - sentAt >= o.retransmitMs)) {
        this.announceAgain = false;
        send();
        sentAt = Date.now();
      }
      await this.sleep(o.heartbeatMs);
    }
  }

  /** Ends the attempt when NATS has been out of reach past the tolerance, or the lease went to another coordinator. */
  private checkOutage(): void {
    const lost = this.opts.lease.lostReason();
    if (lost) throw new LeaseLost(lost);
    const outage = this.opts.clock.outageMs();
    if (outage > this.opts.outageToleranceMs) throw new OutageTooLong(`NATS out of reach for ${Math.round(outage / 1000)} s (tolerance ${this.opts.outageToleranceMs / 1000} s)`);
  }

  /** Waits until a step may be committed: connected, under a valid lease. */
  private async committable(): Promise<void> {
    const { clock, lease, outageToleranceMs } = this.opts;
    const since = clock.now();
    while (!(clock.connected() && lease.valid())) {
      if (this.aborted) throw new Error(this.aborted);
      this.checkOutage();
      // Connected, yet the lease will not renew: give the job back rather than wait for ever.
      if (clock.now() - since > outageToleranceMs) throw new LeaseLost(`the job lease could not be renewed for ${Math.round(outageToleranceMs / 1000)} s while connected`);
      await this.sleep(Math.min(200, this.opts.heartbeatMs));
    }
  }

  close(): void {
    this.stopWatchingLink?.();
    this.joinSub?.unsubscribe();
    this.channel.close();
    this.wake?.();
  }

  private closeEpoch(epoch: number): EpochSummary {
    const t = this.tally.close();
    const now = performance.now();
    const summary = { epoch, loss: t.loss, accuracy: t.accuracy, samples: t.samples, seconds: this.carriedSeconds + (now - this.epochStarted) / 1000 };
    this.epochStarted = now;
    this.carriedSeconds = 0;
    return summary;
  }

  private onJoin(msg: Msg): void {
    const subject = this.channel.subjects.join;
    const request = this.channel.decodeJson(subject, msg.data);
    if (!request) return; // not from a holder of the job's key: no answer at all
    const req = DpJoinRequestSchema.safeParse(request);
    const reply = (r: DpJoinReply) => msg.respond(this.channel.encodeJson(`${subject}.reply`, r));
    if (!req.success) return void reply({ accepted: false, reason: `bad join request (protocol ${DP_PROTOCOL_VERSION} expected)` });
    const id = req.data.member;
    if (this.aborted || this.finished) return void reply({ accepted: false, reason: 'the group is finishing' });
    const isMember = this.membership.isMember(id);
    // A join asked again (its reply lost in an outage) is the same join, not a second replica.
    if (!isMember && !this.membership.isWaiting(id) && this.membership.size() >= this.opts.maxMembers) {
      return void reply({ accepted: false, reason: `the group is full (${this.opts.maxMembers} replicas)` });
    }
    if (!this.opts.lease.valid()) return void reply({ accepted: false, retry: true, reason: 'the coordinator is renewing the job lease' });
    if (isMember) this.drop(id, 're-joining to re-synchronise', this.round?.step ?? this.opts.startStep);
    this.membership.requestJoin(id, this.opts.clock.now());
    reply({ accepted: true, group: this.opts.group, heartbeatMs: this.opts.heartbeatMs, ...this.fence() });
    this.wake?.();
  }

  private onGradient(meta: Record<string, unknown>, payload: Uint8Array): void {
    const parsed = DpGradientMetaSchema.safeParse(meta);
    if (!parsed.success || parsed.data.group !== this.opts.group || !this.round) return;
    const m = parsed.data;
    this.membership.seen(m.member, this.opts.clock.now());
    const ringReport = m.encoding === 'ring';
    if (ringReport && this.opts.exchange !== 'ring') {
      this.opts.logger.warn({ member: m.member, step: m.step }, 'ignoring a ring report: this group exchanges through the coordinator');
      return;
    }
    let gradSum: Float32Array | undefined;
    try {
      gradSum = ringReport ? undefined : decodeGradient({ encoding: m.encoding as 'f32' | 'f16' | 'topk', bytes: payload }, this.opts.gradientLength);
    } catch (err) {
      this.opts.logger.warn({ member: m.member, step: m.step, err: describeError(err) }, 'ignoring an undecodable gradient');
      return;
    }
    if (m.step === this.round.step && m.round === this.round.round) {
      const rank = this.round.members.indexOf(m.member);
      const fault = rank < 0 ? undefined : gradientFault({ ...m, gradSum: gradSum ?? new Float32Array(0) }, this.opts.shardCount(m.step, rank, this.round.members.length));
      if (fault) {
        this.opts.onDrop?.(fault);
        this.opts.logger.warn({ member: m.member, step: m.step, count: m.count, fault }, 'dropped a gradient');
        return;
      }
    }
    const fellBack = this.round.fellBack;
    const receipt = this.round.receive({ ...m, gradSum });
    this.opts.onReceipt?.(receipt);
    if (receipt !== 'accepted') this.opts.logger.debug({ member: m.member, step: m.step, round: m.round, receipt }, 'gradient ignored');
    if (this.opts.exchange === 'ring' && this.round.fellBack) {
      if (!fellBack) this.opts.logger.warn({ member: m.member, step: m.step, round: m.round }, 'the ring all-reduce fell back to coordinator-reduce for this step');
      // Members whose ring had succeeded are asked for their gradients, once: one still in the ring
      // gives it up when it hears this, and answers it after its ring in any case.
      if (this.round.ringOnly().length > 0 && this.askedForGradients !== this.round.round) {
        this.askedForGradients = this.round.round;
        this.announceAgain = true;
        this.wake?.();
      }
    }
    if (this.round.complete()) this.wake?.();
  }

  private async waitForMembers(): Promise<void> {
    const { clock } = this.opts;
    const deadline = clock.now() + this.opts.joinWindowMs;
    while (!this.aborted) {
      this.checkOutage();
      const known = this.membership.size();
      if (known >= this.opts.maxMembers || clock.now() >= deadline) {
        if (known >= 1) return;
        throw new Error(`no replica joined the group within ${this.opts.joinWindowMs} ms`);
      }
      await this.sleep(Math.min(200, Math.max(1, deadline - clock.now())));
    }
    throw new Error(this.aborted);
  }

  /** Admits waiting joiners; all but the host at the start get the weights from a synced member. */
  private admit(step: number, initial: boolean): { from: string; to: string[] } | undefined {
    const before = this.membership.current();
    const joiners = this.membership.admitWaiting();
    const members = this.membership.current();
    const epoch = stepPosition(step, this.opts.perEpoch).epoch;
    for (const id of joiners) {
      this.emit({ change: initial ? 'formed' : 'joined', replica: id, reason: initial ? 'member at the start' : 'joined at a step boundary', step, epoch, members });
    }
    const source = initial ? this.opts.host : before[0];
    const to = joiners.filter((id) => id !== source);
    if (!source || !members.includes(source)) {
      if (initial) throw new Error(`the coordinating replica ${this.opts.host} is not in its own group`);
      return undefined;
    }
    return to.length ? { from: source, to } : undefined;
  }

  private async runStep(
    step: number,
    pending: { applied: AppliedStep; payload: Uint8Array } | undefined,
    transfer: { from: string; to: string[] } | undefined,
  ): Promise<ReducedStep> {
    const o = this.opts;
    const { clock } = o;
    for (;;) {
      if (this.aborted) throw new Error(this.aborted);
      const members = this.membership.current();
      if (members.length === 0) throw new Error(`every replica left the group at step ${step}; resume from the last checkpoint`);
      const round = new StepRound(step, ++this.roundCounter, members);
      this.round = round;
      const liveTransfer = transfer ? liveTransferOf(transfer, members) : undefined;
      // The previous step is committed by this message: only under a valid lease.
      if (pending) await this.committable();
      const announce = () => {
        const ctl: DpControl = {
          kind: 'step',
          group: o.group,
          ...this.fence(),
          step,
          round: round.round,
          members,
          ...(o.exchange === 'ring' ? { exchange: round.fellBack ? 'coordinator' : 'ring' } : {}),
          ...(pending ? { apply: pending.applied } : {}),
          ...(liveTransfer ? { transfer: liveTransfer } : {}),
        };
        this.channel.send(this.channel.subjects.ctl, ctl, pending?.payload);
      };
      announce();
      let announcedAt = Date.now();
      let received = 0;
      let deadline = clock.now() + o.stepTimeoutMs + (liveTransfer ? o.stepTimeoutMs : 0);
      while (!round.complete() && !this.aborted) {
        this.checkOutage();
        if (round.members.some((m) => !this.membership.isMember(m))) break;
        const got = members.length - round.missing().length;
        if (got > received) {
          received = got;
          announcedAt = Date.now();
        }
        if (!clock.connected()) {
          await this.sleep(o.heartbeatMs);
          continue;
        }
        if (this.announceAgain || Date.now() - announcedAt >= o.retransmitMs) {
          // Back from an outage, or a quiet step: frames may have been lost, so say it again.
          if (this.announceAgain) deadline = Math.max(deadline, clock.now() + o.stepTimeoutMs);
          this.announceAgain = false;
          announce();
          announcedAt = Date.now();
        }
        if (this.overdue(round, deadline)) {
          // Read what the socket holds first: after a long synchronous step, heartbeats may be queued.
          await new Promise((r) => setImmediate(r));
          const now = clock.now();
          // The host shares this process: if it were gone, so would the coordinator be.
          const silent = this.membership.silent(now, o.heartbeatTimeoutMs).filter((m) => round.members.includes(m) && m !== o.host);
          const late = now >= deadline ? round.missing().filter((m) => m !== o.host) : [];
          for (const m of silent) this.drop(m, `no heartbeat for ${o.heartbeatTimeoutMs} ms`, step);
          for (const m of late) this.drop(m, `no gradient for step ${step} within ${o.stepTimeoutMs} ms (stalled)`, step);
          if (silent.length || late.length) break;
        }
        await this.sleep(Math.min(o.heartbeatMs, Math.max(1, deadline - clock.now())));
      }
      if (round.complete() && !this.aborted) return round.reduce();
    }
  }

  private overdue(round: StepRound, deadline: number): boolean {
    const now = this.opts.clock.now();
    if (now >= deadline && !round.complete()) return true;
    return this.membership.silent(now, this.opts.heartbeatTimeoutMs).some((m) => round.members.includes(m) && m !== this.opts.host);
  }

  private drop(member: string, reason: string, step: number): void {
    const change = this.membership.drop(member, reason);
    if (!change) return;
    this.opts.logger.warn({ member, step, reason }, 'replica dropped from the group; its shard is redistributed');
    this.emit({ change: 'dropped', replica: member, reason, step, epoch: stepPosition(step, this.opts.perEpoch).epoch, members: this.membership.current() });
  }

  private emit(c: GroupChange): void {
    this.changes++;
    this.opts.onChange?.(c);
  }

  /** Sleeps until woken by a gradient, a join or an abort, or for `ms`. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

/** The transfer still possible with `members`: a surviving source (else another synced member) and the joiners still here. */
function liveTransferOf(t: { from: string; to: string[] }, members: string[]): { from: string; to: string[] } | undefined {
  const to = t.to.filter((id) => members.includes(id));
  const from = members.includes(t.from) ? t.from : members.find((id) => !to.includes(id));
  return from && to.length ? { from, to } : undefined;
}

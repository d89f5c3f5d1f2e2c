import { meanOfSums } from './gradientCodec';

/** One member's contribution to one step. */
export interface GradientReport {
  step: number;
  /** Which attempt at the step: a step restarted after a drop is a new round with new shards. */
  round: number;
  member: string;
  count: number;
  lossSum: number;
  correct: number;
  /** The member's gradient sum; absent when the member's ring all-reduce of the round succeeded. */
  gradSum?: Float32Array | undefined;
}

/** Why a report was or was not counted: only `accepted` ever reaches the reduction. */
export type Receipt = 'accepted' | 'duplicate' | 'stale' | 'ahead' | 'stranger';

export interface ReducedStep {
  step: number;
  round: number;
  members: string[];
  /** Undefined when every member holds the mean already (a ring round that succeeded everywhere). */
  mean: Float32Array | undefined;
  count: number;
  lossSum: number;
  correct: number;
}

/**
 * One synchronous step: the members it waits for and what each sent. A report counts once, for
 * this step, from a member of this round; anything else (a retransmission, a late answer to an
 * abandoned round, a stranger) is ignored and named.
 *
 * A ring round completes on every member's "ring done" report. Once any member sends its gradient
 * instead (its ring failed), the round has fallen back: it completes only with every member's
 * gradient, each ring report is replaced by the gradient it is asked for, and the mean is
 * computed here.
 */
export class StepRound {
  private readonly received = new Map<string, GradientReport>();

  constructor(
    readonly step: number,
    readonly round: number,
    readonly members: readonly string[],
  ) {
    if (members.length === 0) throw new Error('a step needs at least one member');
  }

  receive(r: GradientReport): Receipt {
    if (r.step < this.step || (r.step === this.step && r.round < this.round)) return 'stale';
    if (r.step > this.step || r.round > this.round) return 'ahead';
    if (!this.members.includes(r.member)) return 'stranger';
    const before = this.received.get(r.member);
    if (before && (before.gradSum || !r.gradSum)) return 'duplicate';
    this.received.set(r.member, r);
    return 'accepted';
  }

  /** Some member sent its gradient: the mean is made here, and every member's gradient is needed. */
  get fellBack(): boolean {
    return [...this.received.values()].some((r) => r.gradSum !== undefined);
  }

  /** Members that reported a successful ring and no gradient (after a fall-back, they are asked for it). */
  ringOnly(): string[] {
    return this.members.filter((m) => {
      const r = this.received.get(m);
      return r !== undefined && !r.gradSum;
    });
  }

  /** Members whose report the round still lacks (after a fall-back: whose gradient). */
  missing(): string[] {
    const fellBack = this.fellBack;
    return this.members.filter((m) => {
      const r = this.received.get(m);
      return !r || (fellBack && !r.gradSum);
    });
  }

  complete(): boolean {
    return this.missing().length === 0;
  }

  /** The mean gradient over every sample of the step, summed in member order (deterministic). */
  reduce(): ReducedStep {
    if (!this.complete()) throw new Error(`step ${this.step} still waits for ${this.missing().join(', ')}`);
    const reports = this.members.map((m) => this.received.get(m) as GradientReport);
    const count = reports.reduce((n, r) => n + r.count, 0);
    return {
      step: this.step,
      round: this.round,
      members: [...this.members],
      mean: this.fellBack ? meanOfSums(reports.map((r) => r.gradSum as Float32Array), count) : undefined,
      count,
      lossSum: reports.reduce((n, r) => n + r.lossSum, 0),
      correct: reports.reduce((n, r) => n + r.correct, 0),
    };
  }
}

export type MembershipChange =
  | { change: 'joined'; member: string }
  | { change: 'dropped'; member: string; reason: string };

/**
 * Who trains: members in join order (their order fixes shards and the reduction order), joiners
 * waiting for the next step boundary, and when each was last heard from.
 */
export class Membership {
  private members: string[] = [];
  private readonly waiting = new Set<string>();
  private readonly lastSeen = new Map<string, number>();

  current(): string[] {
    return [...this.members];
  }

  /** Members and joiners together. */
  size(): number {
    return this.members.length + [...this.waiting].filter((id) => !this.members.includes(id)).length;
  }

  isMember(id: string): boolean {
    return this.members.includes(id);
  }

  /** Waiting for the next step boundary (its join was accepted). */
  isWaiting(id: string): boolean {
    return this.waiting.has(id);
  }

  /** A join (or a member asking to be re-synchronised) waits for the next step boundary. */
  requestJoin(id: string, now: number): void {
    this.lastSeen.set(id, now);
    this.waiting.add(id);
  }

  seen(id: string, now: number): void {
    if (this.members.includes(id) || this.waiting.has(id)) this.lastSeen.set(id, now);
  }

  /** Members and joiners silent for longer than `timeoutMs`. */
  silent(now: number, timeoutMs: number): string[] {
    return [...this.members, ...this.waiting].filter((id) => now - (this.lastSeen.get(id) ?? 0) > timeoutMs);
  }

  drop(id: string, reason: string): MembershipChange | undefined {
    this.waiting.delete(id);
    if (!this.members.includes(id)) return undefined;
    this.members = this.members.filter((m) => m !== id);
    this.lastSeen.delete(id);
    return { change: 'dropped', member: id, reason };
  }

  /** At a step boundary: joiners become members (a re-joining member moves to the end). */
  admitWaiting(): string[] {
    const joiners = [...this.waiting];
    this.waiting.clear();
    for (const id of joiners) this.members = [...this.members.filter((m) => m !== id), id];
    return joiners;
  }

  hasWaiting(): boolean {
    return this.waiting.size > 0;
  }
}

/** The sums of an epoch in progress: what a mid-epoch checkpoint keeps so the epoch's figures stay whole. */
export interface EpochTallyState {
  samples: number;
  lossSum: number;
  correct: number;
  seconds: number;
}

/** Loss and accuracy of an epoch from the steps committed in it. */
export class EpochTally {
  private samples = 0;
  private lossSum = 0;
  private correct = 0;

  constructor(from?: Omit<EpochTallyState, 'seconds'>) {
    this.samples = from?.samples ?? 0;
    this.lossSum = from?.lossSum ?? 0;
    this.correct = from?.correct ?? 0;
  }

  state(seconds = 0): EpochTallyState {
    return { samples: this.samples, lossSum: this.lossSum, correct: this.correct, seconds };
  }

  add(step: ReducedStep): void {
    this.samples += step.count;
    this.lossSum += step.lossSum;
    this.correct += step.correct;
  }

  close(): { samples: number; loss: number; accuracy: number } {
    const out = { samples: this.samples, loss: this.samples ? this.lossSum / this.samples : 0, accuracy: this.samples ? this.correct / this.samples : 0 };
    this.samples = 0;
    this.lossSum = 0;
    this.correct = 0;
    return out;
  }
}

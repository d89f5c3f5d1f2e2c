import { ownedChunk, ringChunks, ringStepCount, ringSteps, type RingChunk, type RingStep } from './ringPlan';

/**
 * One rank's side of a ring all-reduce of gradient sums into their mean, step by step: what to
 * send at each step and what to do with what arrives. No I/O (the adapter moves the chunks).
 *
 * Arithmetic: a partial sum is added in float64 and rounded to float32 for the wire; the owner of a
 * chunk adds the last term in float64 and divides by the sample count before the one rounding to
 * float32, so the mean of every chunk is computed once, by one rank, and copied bit for bit to the
 * others in the all-gather: every rank ends with identical bits (what keeps replicas equal). With
 * two members this is exactly meanOfSums (one float64 add, one divide, one rounding); with more,
 * each hop's float32 rounding makes it differ from it in the last bits.
 */
export class RingReduce {
  readonly chunks: RingChunk[];
  readonly steps: RingStep[];
  private readonly values: Float32Array;
  private next = 0;

  constructor(
    readonly rank: number,
    readonly n: number,
    gradientSum: Float32Array,
    private readonly divisor: number,
  ) {
    if (!(divisor > 0)) throw new RangeError(`the mean needs a positive sample count, got ${divisor}`);
    this.chunks = ringChunks(gradientSum.length, n);
    this.steps = ringSteps(rank, n);
    this.values = Float32Array.from(gradientSum);
    if (n === 1) for (let i = 0; i < this.values.length; i++) this.values[i] = (this.values[i] as number) / divisor;
  }

  get done(): boolean {
    return this.next >= ringStepCount(this.n);
  }

  /** The step whose chunk is to be sent now and received next. */
  get current(): RingStep | undefined {
    return this.steps[this.next];
  }

  /** A copy of the chunk to send at the current step (the adapter may hold on to it). */
  outgoing(): Float32Array {
    const step = this.requireStep();
    const c = this.chunks[step.send] as RingChunk;
    return this.values.slice(c.start, c.end);
  }

  /** The expected length of what arrives at the current step. */
  incomingLength(): number {
    const c = this.chunks[this.requireStep().receive] as RingChunk;
    return c.end - c.start;
  }

  /** Takes the left neighbour's chunk of the current step and moves to the next step. */
  receive(data: Float32Array): void {
    const step = this.requireStep();
    const c = this.chunks[step.receive] as RingChunk;
    if (data.length !== c.end - c.start) throw new Error(`ring step ${step.step}: chunk ${c.index} of ${data.length} values, expected ${c.end - c.start}`);
    const v = this.values;
    if (step.phase === 'all-gather') {
      v.set(data, c.start);
    } else if (step.step === this.n - 2 && c.index === ownedChunk(this.rank, this.n)) {
      for (let i = 0; i < data.length; i++) v[c.start + i] = ((data[i] as number) + (v[c.start + i] as number)) / this.divisor;
    } else {
      for (let i = 0; i < data.length; i++) v[c.start + i] = (data[i] as number) + (v[c.start + i] as number);
    }
    this.next++;
  }

  /** The mean, once every step is done. */
  result(): Float32Array {
    if (!this.done) throw new Error(`ring all-reduce still at step ${this.next} of ${ringStepCount(this.n)}`);
    return this.values;
  }

  private requireStep(): RingStep {
    const step = this.steps[this.next];
    if (!step) throw new Error('the ring all-reduce is complete: nothing left to send or receive');
    return step;
  }
}

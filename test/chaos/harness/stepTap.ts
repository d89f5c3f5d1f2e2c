import type { Subscription } from '@nats-io/nats-core';
import type { Bus } from '@mlpipe/bus';
import { eventually } from '@mlpipe/common';

/**
 * A listener on the training groups' control subjects: every committed step of every group, as the
 * members see it, with the time it went out. The coordinator commits step s by sending its mean
 * gradient (`apply: { step: s }`) with the next step's frame (or with `done` after the last), so
 * the apply frames are the job's training progress, step by step, whoever coordinates it.
 *
 * Read from the wire on purpose: steps lost and recovery time are measured the same way before
 * and after the trainer's changes, without trusting the trainer's own account of them. Only the
 * frame header is read (`[u32 LE length][JSON]`, libs/contracts dp.ts), and only the fields
 * `kind`, `group`, `attempt`, `generation`, `step`, `apply.step`, `apply.encoding`, `apply.epochEnd`.
 */
export interface Commit {
  at: number;
  step: number;
  /** group | attempt | generation: a new coordinator (or attempt) makes a new fence. */
  fence: string;
  epochEnd?: number;
  /** How the mean went out: f32/f16 in the frame, or `ring` (each member applies its own ring's result). */
  encoding?: string;
}

export interface ControlFrame {
  at: number;
  kind: string;
  fence: string;
  step?: number;
  apply?: number;
}

export interface StepsLost {
  /** Committed steps that were committed again later (work done twice). */
  lost: number;
  rewinds: { at: number; from: number; to: number; fence: string }[];
}

const decoder = new TextDecoder();

function header(data: Uint8Array): Record<string, unknown> | undefined {
  if (data.byteLength < 4) return undefined;
  const length = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0, true);
  if (4 + length > data.byteLength) return undefined;
  try {
    return JSON.parse(decoder.decode(data.subarray(4, 4 + length))) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Listens to every job's groups of one namespace; job(id) gives one job's steps. */
export class StepTap {
  private readonly jobs = new Map<string, JobSteps>();
  private readonly subs: Subscription[];

  constructor(bus: Bus) {
    // The job id is one subject token (base64url) today; the second pattern keeps a fence token in the subject working too.
    this.subs = [`${bus.namespace}.dp.*.ctl`, `${bus.namespace}.dp.*.*.ctl`].map((subject) =>
      bus.nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return;
          const token = msg.subject.slice(bus.namespace.length + 1).split('.')[1] ?? '';
          this.job(Buffer.from(token, 'base64url').toString()).onFrame(msg.data);
        },
      }),
    );
  }

  job(jobId: string): JobSteps {
    let steps = this.jobs.get(jobId);
    if (!steps) this.jobs.set(jobId, (steps = new JobSteps()));
    return steps;
  }

  close(): void {
    for (const s of this.subs) s.unsubscribe();
  }
}

/** One job's committed steps, in the order they went out. */
export class JobSteps {
  private readonly commits: Commit[] = [];
  private readonly frames: ControlFrame[] = [];
  private readonly seen = new Set<string>();

  onFrame(data: Uint8Array): void {
    const h = header(data);
    if (!h || (num(h.part) ?? 0) !== 0) return; // every part repeats the header: read the first only
    const at = Date.now();
    const fence = [h.group, h.attempt, h.generation].map((v) => (v === undefined ? '' : String(v))).join('|');
    const apply = h.apply as { step?: unknown; encoding?: unknown; epochEnd?: { epoch?: unknown } } | undefined;
    const applied = num(apply?.step);
    const step = num(h.step);
    this.frames.push({ at, kind: String(h.kind), fence, ...(step !== undefined ? { step } : {}), ...(applied !== undefined ? { apply: applied } : {}) });
    if (applied === undefined) return;
    // A retried round re-sends the same commit: the first one counts. So does a coordinator that
    // re-took its own expired lease (a new generation, the same group and attempt) and re-sends
    // the commit it was repeating: the same step of the same run, not a step trained again.
    const key = `${h.group}|${h.attempt}#${applied}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const epochEnd = num(apply?.epochEnd?.epoch);
    const encoding = typeof apply?.encoding === 'string' ? apply.encoding : undefined;
    this.commits.push({ at, step: applied, fence, ...(epochEnd !== undefined ? { epochEnd } : {}), ...(encoding ? { encoding } : {}) });
  }

  all(): readonly Commit[] {
    return this.commits;
  }

  controlFrames(): readonly ControlFrame[] {
    return this.frames;
  }

  /** The highest step committed so far (-1 before the first). */
  maxCommitted(): number {
    return this.commits.reduce((m, c) => Math.max(m, c.step), -1);
  }

  /** Resolves with the commit that makes `count` committed steps (distinct step numbers) in all. */
  async waitForCommitted(count: number, timeoutMs: number): Promise<Commit> {
    return eventually(() => (this.maxCommitted() + 1 >= count ? this.commits.at(-1) : undefined), timeoutMs, `${count} committed training steps`);
  }

  /** The first commit after `t` (training progressing again). */
  firstCommitAfter(t: number): Commit | undefined {
    return this.commits.find((c) => c.at > t);
  }

  /** Every time the committed step went back: the steps between were trained twice. */
  stepsLost(): StepsLost {
    const rewinds: StepsLost['rewinds'] = [];
    let lost = 0;
    let prev: Commit | undefined;
    for (const c of this.commits) {
      if (prev && c.step <= prev.step) {
        lost += prev.step - c.step + 1;
        rewinds.push({ at: c.at, from: prev.step, to: c.step, fence: c.fence });
      }
      prev = c;
    }
    return { lost, rewinds };
  }

  /** Commits in (from, to]. */
  countBetween(from: number, to: number): number {
    return this.commits.filter((c) => c.at > from && c.at <= to).length;
  }

  /** Steps committed per second over the `windowMs` before `t` (the pace a lost interval is counted in). */
  rateBefore(t: number, windowMs = 15_000): number {
    const inWindow = this.commits.filter((c) => c.at <= t && c.at > t - windowMs);
    if (inWindow.length < 2) return 0;
    const first = inWindow[0] as Commit;
    const last = inWindow.at(-1) as Commit;
    return (inWindow.length - 1) / Math.max(0.001, (last.at - first.at) / 1000);
  }

  /** The longest time without a commit between `from` and `to` (a stall the group had to sit out). */
  longestGap(from: number, to: number): number {
    const times = [from, ...this.commits.filter((c) => c.at > from && c.at < to).map((c) => c.at), to];
    let gap = 0;
    for (let i = 1; i < times.length; i++) gap = Math.max(gap, (times[i] as number) - (times[i - 1] as number));
    return gap;
  }

  /**
   * Fences whose commits interleave in time: two coordinators applying steps for one job at once
   * (what fencing forbids). A fence that ended before the next began is fine.
   */
  overlappingFences(): string[][] {
    const spans = new Map<string, { first: number; last: number }>();
    for (const c of this.commits) {
      const s = spans.get(c.fence);
      if (s) s.last = c.at;
      else spans.set(c.fence, { first: c.at, last: c.at });
    }
    const list = [...spans.entries()];
    const out: string[][] = [];
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const [a, sa] = list[i] as [string, { first: number; last: number }];
        const [b, sb] = list[j] as [string, { first: number; last: number }];
        if (sa.first < sb.last && sb.first < sa.last) out.push([a, b]);
      }
    }
    return out;
  }
}

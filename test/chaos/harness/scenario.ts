import { execFileSync } from 'node:child_process';
import { expect, onTestFinished } from 'vitest';
import { describeError, eventually } from '@mlpipe/common';
import type { Hyperparams, Job } from '@mlpipe/contracts';
import { startCluster, type Cluster } from './cluster';
import type { FaultWindow } from './faults';
import {
  CHAOS_JOB,
  deadLetterCount,
  registrationsOfJob,
  runFollowingJob,
  submitJob,
  versionsOfJob,
  waitForJobEnd,
  waitForTrainersFree,
} from './probes';
import { storedEvents, streamEvents } from './events';
import { writeResult, type ResultRow } from './results';
import { ROOT, type ServiceProcess } from './services';
import type { JobSteps } from './stepTap';

export interface ScenarioContext {
  cluster: Cluster;
  job: Job;
  steps: JobSteps;
  hyperparams: Partial<Hyperparams>;
  /** Steps per epoch of the job (its train subset less validation, in global batches). */
  perEpoch: number;
}

export interface Scenario {
  id: string;
  /** The fault as the table states it. */
  fault: string;
  trainers: number;
  /** TRAINER_* settings of the scenario (none: the shipped defaults). */
  trainerEnv?: Record<string, string>;
  replicas?: number;
  hyperparams?: Partial<Hyperparams>;
  /** Waits for the scenario's moment, breaks something, and resolves once the fault is over. */
  inject(ctx: ScenarioContext): Promise<FaultWindow>;
  /** Steps the fault may cost, from the job's commits up to the fault's start (harness/bounds.ts). */
  stepsLostBound(steps: JobSteps, faultStart: number): number;
  /** Seconds to recovery as this scenario measures it (recoveryMeasure); default: fault end → the first committed step. */
  recovery?(ctx: ScenarioContext, fault: FaultWindow, deadline: number): Promise<number | undefined>;
  recoveryMeasure?: string;
  /** Fault end → recovery may take at most this long, where the issue states a bound. */
  recoveryLimitSec?: number;
  /** From the submit to the job's end. */
  jobTimeoutMs: number;
  /**
   * The job ends with as many replicas as it asked for (default): a fault that removes no trainer
   * must not cost the group a member, and a resumed job recalls its workers. Off where the fault
   * takes a worker away.
   */
  keepsReplicas?: boolean;
  /** Checks of the scenario's own (e.g. requests that failed at the edge). */
  extraChecks?(ctx: ScenarioContext, fault: FaultWindow): Promise<Check[]>;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** How long every replica may take to be free once the job has ended (the longest protocol wait of the shipped defaults). */
const FREE_WITHIN_MS = 60_000;
const FOLLOWING_JOB_TIMEOUT_MS = 120_000;

export function perEpochOf(hp: Partial<Hyperparams>): number {
  const train = hp.trainSubset ?? 0;
  const held = Math.floor(train * (hp.validationShare ?? 0.1));
  return Math.ceil((train - held) / (hp.batchSize ?? 64));
}

/** The trainer process that coordinates the job now (its latest train.job.started). */
export function coordinatorOf(ctx: ScenarioContext): ServiceProcess {
  const started = ctx.cluster.events.of('train.job.started', ctx.job.jobId).at(-1);
  const t = ctx.cluster.trainers.find((x) => x.id === started?.envelope.data.replicaId);
  if (!t) throw new Error(`no trainer has started job ${ctx.job.jobId} yet`);
  return t;
}

/** Waits until the job's group has `size` members; returns the members other than the coordinator. */
export async function workersOf(ctx: ScenarioContext, size: number, timeoutMs = 60_000): Promise<ServiceProcess[]> {
  const members = await eventually(
    () => {
      const last = ctx.cluster.events.of('train.group.changed', ctx.job.jobId).at(-1);
      return last && last.envelope.data.members.length >= size ? last.envelope.data.members : undefined;
    },
    timeoutMs,
    `a group of ${size} for job ${ctx.job.jobId}`,
  );
  const coordinator = coordinatorOf(ctx).id;
  return ctx.cluster.trainers.filter((t) => members.includes(t.id) && t.id !== coordinator);
}

/** The last line of a log that names an error (a crash's cause), for a check's detail. */
function lastError(tail: string): string {
  return tail.split('\n').reverse().find((l) => /Error|error/.test(l) && !l.startsWith('    at '))?.trim().slice(0, 200) ?? '(no error in the log)';
}

/** The code the scenario ran: HEAD, and how many tracked files differed from it (others work in the same checkout). */
function treeState(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT }).toString().trim();
    return dirty ? `${head} + ${dirty.split('\n').length} modified file(s)` : head;
  } catch {
    return 'unknown';
  }
}

const secondsSince = (t: number, at: number | undefined) => (at === undefined ? undefined : Math.max(0, (at - t) / 1000));

/** Fault end → the first step committed after it (training progressing again). */
export async function recoveryByFirstCommit(ctx: ScenarioContext, fault: FaultWindow, deadline: number): Promise<number | undefined> {
  for (;;) {
    const c = ctx.steps.firstCommitAfter(fault.end);
    if (c) return secondsSince(fault.end, c.at);
    // A job that finished without training again after the fault has nothing to recover here.
    if (Date.now() > deadline || ctx.cluster.events.of('train.job.completed', ctx.job.jobId).length) return undefined;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The longest time the group committed nothing, from the fault's start to its last commit: for a
 * fault the group must route around while it lasts (a worker dead or frozen), where the first commit
 * after the fault may be one already on its way.
 */
export async function recoveryByStall(ctx: ScenarioContext, fault: FaultWindow, deadline: number): Promise<number | undefined> {
  await eventually(() => ctx.cluster.events.of('train.job.completed', ctx.job.jobId).length > 0 || Date.now() > deadline, Math.max(1000, deadline - Date.now() + 1000), 'the job to complete').catch(() => undefined);
  const last = ctx.steps.all().at(-1);
  if (!last || last.at <= fault.start) return undefined;
  return ctx.steps.longestGap(fault.start, last.at) / 1000;
}

/** Fault end → the job's first `type` event stored after the fault began (read from its stream: a live listener may miss it). */
export async function recoveryByEvent(ctx: ScenarioContext, fault: FaultWindow, deadline: number, type: 'train.job.completed' | 'model.version.registered'): Promise<number | undefined> {
  const stream = type === 'train.job.completed' ? 'TRAIN' : 'MODEL';
  while (Date.now() < deadline) {
    const stored = await storedEvents(ctx.cluster.bus, stream, type, ctx.job.jobId).catch(() => []);
    const e = stored.find((x) => x.storedAt >= fault.start);
    if (e) return secondsSince(fault.end, e.storedAt);
    await new Promise((r) => setTimeout(r, 500));
  }
  return undefined;
}

/** Fault end → `probe` first holds (polled every 250 ms until the deadline). */
export async function recoveryWhen(fault: FaultWindow, deadline: number, probe: () => Promise<boolean>): Promise<number | undefined> {
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return secondsSince(fault.end, Date.now());
    await new Promise((r) => setTimeout(r, 250));
  }
  return undefined;
}

/**
 * One chaos scenario, start to end: its own cluster; a job; the fault at the scenario's moment;
 * then every check of issue 12 — the job succeeded, exactly one version registered for it, no dead
 * letter, steps lost within the bound, no two coordinators committing at once, every replica free,
 * and a following job runs — each recorded even when an earlier one failed. The measured row goes
 * to .mlpipe/chaos-results/<id>.json; failed checks fail the test, with the services' log tails.
 */
export async function runScenario(s: Scenario): Promise<void> {
  const startedAt = Date.now();
  const checks: Check[] = [];
  const notes: string[] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  let row: Partial<ResultRow> = {};
  const cluster = await startCluster({ name: s.id, trainers: s.trainers, ...(s.trainerEnv ? { trainerEnv: s.trainerEnv } : {}) });
  // Also when vitest abandons the test at its timeout: the next scenario must not share the CPU with this one.
  onTestFinished(() => cluster.dispose());
  try {
    const hyperparams = { ...CHAOS_JOB, ...s.hyperparams };
    const job = await submitJob(cluster, hyperparams, s.replicas ?? 2);
    const deadline = Date.now() + s.jobTimeoutMs;
    const ctx: ScenarioContext = { cluster, job, steps: cluster.tap.job(job.jobId), hyperparams, perEpoch: perEpochOf(hyperparams) };
    let fault: FaultWindow | undefined;
    try {
      fault = await s.inject(ctx);
      notes.push(...fault.notes);
      if (fault.missed) check('fault hit its moment', false, fault.missed);
    } catch (err) {
      check('fault injected', false, describeError(err));
    }

    const pace = fault ? ctx.steps.rateBefore(fault.start) : 0;
    const bound = s.stepsLostBound(ctx.steps, fault?.start ?? Date.now());
    let recoverySec: number | undefined;
    if (fault) {
      recoverySec = await (s.recovery ?? recoveryByFirstCommit)(ctx, fault, deadline);
      if (s.recoveryLimitSec !== undefined) {
        check(`recovered within ${s.recoveryLimitSec} s`, recoverySec !== undefined && recoverySec <= s.recoveryLimitSec, recoverySec === undefined ? 'no recovery seen' : `${recoverySec.toFixed(1)} s`);
      }
    }

    const end = await waitForJobEnd(cluster, job.jobId, Math.max(1000, deadline - Date.now()));
    const completed = (await streamEvents(cluster.bus, 'TRAIN', 'train.job.completed', job.jobId).catch(() => []))[0];
    const finalMembers = completed?.data.distributed?.finalMembers;
    notes.push(`final members: ${finalMembers?.join(', ') ?? 'unknown'}`);
    if (s.keepsReplicas !== false) {
      const wanted = s.replicas ?? 2;
      check(`the job kept its ${wanted} replicas`, finalMembers?.length === wanted, `trained to the end by ${finalMembers?.join(' and ') ?? 'nobody known'}`);
    }
    const attempts = await streamEvents(cluster.bus, 'TRAIN', 'train.job.started', job.jobId).catch(() => []);
    notes.push(`attempts: ${attempts.map((a) => `#${a.data.attempt} on ${a.data.replicaId} from step ${a.data.resumedFromStep ?? '?'} (epoch ${a.data.resumedFromEpoch})`).join(', ') || 'none'}`);
    check('job succeeded', end?.status === 'succeeded' && end.modelVersion !== null, `${job.jobId} is ${end?.status ?? 'unknown'}: ${end?.statusReason ?? ''}`);

    // The registry may still be catching up when the orchestrator already says succeeded.
    const versions = await eventually(async () => {
      const v = await versionsOfJob(cluster, job.jobId);
      return v && v.length > 0 ? v : undefined;
    }, 30_000, 'a version').catch(async () => (await versionsOfJob(cluster, job.jobId)) ?? []);
    const registrations = await registrationsOfJob(cluster, job.jobId).catch(() => -1);
    check('exactly one version registered', versions.length === 1 && registrations === 1, `${versions.length} version(s) in the registry (${versions.map((v) => `v${v.version}`).join(', ')}), ${registrations} model.version.registered event(s)`);

    const lost = ctx.steps.stepsLost();
    check(`steps lost ≤ ${bound}`, lost.lost <= bound, `${lost.lost} step(s) trained twice: ${lost.rewinds.map((r) => `step ${r.from} → ${r.to}`).join(', ') || 'no rewind'} (pace ${pace.toFixed(1)} steps/s)`);
    const overlaps = ctx.steps.overlappingFences();
    check('one coordinator committing at a time', overlaps.length === 0, overlaps.map((o) => o.join(' with ')).join('; ') || 'none');

    const free = await waitForTrainersFree(cluster, FREE_WITHIN_MS);
    check('every replica free afterwards', free.free, `running jobs by replica: ${JSON.stringify(free.held)}`);
    const freeCount = Object.values(free.held).filter((n) => n === 0).length;
    const following = freeCount >= 2 ? await runFollowingJob(cluster, FOLLOWING_JOB_TIMEOUT_MS) : { ok: false, detail: `not run: only ${freeCount} replica(s) free` };
    check('a following job runs', following.ok, following.detail);

    const dlq = await deadLetterCount(cluster).catch((err: unknown) => ({ count: -1, reasons: [describeError(err)] }));
    check('no dead letters', dlq.count === 0, `${dlq.count} dead letter(s)${dlq.reasons.length ? `: ${dlq.reasons.slice(0, 3).join(' | ')}` : ''}`);

    if (s.extraChecks && fault) checks.push(...(await s.extraChecks(ctx, fault)));
    const crashed = cluster.services().flatMap((svc) => svc.proc.crashes().map((c) => ({ svc, c })));
    check(
      'no service crashed',
      crashed.length === 0,
      crashed.map(({ svc, c }) => `${svc.id} exited by itself (code ${c.code}, signal ${c.signal}) at ${new Date(c.at).toISOString()}: ${lastError(svc.proc.tail(40))}`).join('; ') || 'none',
    );
    row = {
      stepsLost: lost.lost,
      stepsLostBound: bound,
      recoverySec,
      recoveryMeasure: s.recoveryMeasure ?? 'fault end → first committed step',
    };
  } catch (err) {
    check('scenario ran', false, describeError(err));
  } finally {
    const failures = checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    writeResult({
      id: s.id,
      fault: s.fault,
      outcome: failures.length ? 'failed' : 'passed',
      failures,
      stepsLost: row.stepsLost,
      stepsLostBound: row.stepsLostBound ?? 0,
      recoverySec: row.recoverySec,
      recoveryMeasure: row.recoveryMeasure ?? s.recoveryMeasure ?? 'fault end → first committed step',
      durationSec: (Date.now() - startedAt) / 1000,
      finishedAt: new Date().toISOString(),
      tree: treeState(),
      notes,
    });
    if (failures.length) console.log(`chaos ${s.id}: ${failures.length} check(s) failed; logs in ${cluster.logDir}\n${cluster.logTails()}`);
    await cluster.dispose();
  }
  for (const c of checks) expect.soft(c.ok, `${c.name} — ${c.detail}`).toBe(true);
}

/** The vitest timeout of a scenario: its job's, plus set-up, the replicas' release and the following job. */
export function scenarioTimeout(jobTimeoutMs: number): number {
  return jobTimeoutMs + 6 * 60_000;
}

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Job } from '@mlpipe/contracts';
import type { ServiceProcess } from '../chaos/harness/services';
import { expectJobDone } from './harness/checks';
import { harnessHost, MULTIHOST_JOB, runningJobs, submitJob, waitForFreeReplicas, waitForStored } from './harness/probes';
import { describeMultihost } from './harness/suite';
import { FAST_TRAINER_ENV } from './harness/timings';
import { startWorld, type World } from './harness/world';
import { eventually } from '@mlpipe/common';

/**
 * Issue 16: a host cut off (its link down: its trainer and its NATS server with it, packets lost,
 * not refused) in the middle of a three-replica job, then its link back. A worker's host: the group
 * drops the worker and goes on, and the worker is admitted again at a step boundary once it is
 * reachable, and stays a member to the end. The coordinator's host: its lease cannot be renewed in the cluster's minority, so it
 * expires, and the job is resumed from its checkpoint by a replica on another host (a new attempt).
 */
const JOB = { ...MULTIHOST_JOB, epochs: 4 };
/**
 * The worker's-host job: long enough to outlast the cut and the re-join. Four epochs of 45 steps
 * ran in ~9 s here, so the job was over before the link came back (the cause of this scenario's
 * "no re-join within 90 s": nothing was left to re-join). Thirty run ~30 s on a quiet machine.
 */
const LONG_JOB = { ...MULTIHOST_JOB, epochs: 30 };
const CUT_MS = 8000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A trainer replica's admissions to a group, as its log says them (info: "admitted to the group at a step boundary"). */
function admissions(t: ServiceProcess): { step: number; appliedThrough: number }[] {
  const num = (line: string, key: string) => Number(new RegExp(`"${key}":(-?\\d+)`).exec(line)?.[1]);
  return readFileSync(t.proc.spec.logFile, 'utf8')
    .split('\n')
    .filter((line) => line.includes('"admitted to the group at a step boundary"'))
    .map((line) => ({ step: num(line, 'step'), appliedThrough: num(line, 'appliedThrough') }));
}

describeMultihost('multihost: a host cut off mid-job', () => {
  let world: World;
  beforeAll(async () => {
    // A lease outliving the cut (12 s > 8 s): the cut-off worker, which cannot read the lease in its
    // minority, waits for the link instead of leaving; the heartbeat timeout (4 s) drops it meanwhile.
    world = await startWorld({ name: 'partition', trainerEnv: { ...FAST_TRAINER_ENV, TRAINER_LEASE_TTL_MS: '12000' } });
  }, 180_000);
  afterAll(() => world?.dispose());

  async function startJobOfThree(cutAfterSteps: number, hyperparams = JOB): Promise<{ job: Job; coordinator: ServiceProcess; workers: ServiceProcess[] }> {
    await waitForFreeReplicas(world, 3);
    const job = await submitJob(world, hyperparams, 3, 'multihost: partition');
    const formed = await world.events.waitFor('train.group.changed', job.jobId, 90_000, (e) => e.data.members.length === 3);
    const started = world.events.of('train.job.started', job.jobId).at(-1);
    const coordinator = world.trainers.find((t) => t.id === started?.envelope.data.replicaId);
    if (!coordinator) throw new Error(`no coordinator known for ${job.jobId}`);
    await world.tap.job(job.jobId).waitForCommitted(cutAfterSteps, 90_000);
    return { job, coordinator, workers: world.trainers.filter((t) => formed.envelope.data.members.includes(t.id) && t !== coordinator) };
  }

  async function allFree(): Promise<void> {
    await eventually(async () => (await Promise.all(world.trainers.map(runningJobs))).every((n) => n === 0), 90_000, 'every trainer replica free');
  }

  it("a worker's host: dropped, the job goes on, the worker rejoins at a step boundary once the link is back and stays to the end", async () => {
    const totalSteps = LONG_JOB.epochs * Math.ceil((LONG_JOB.trainSubset! * 0.9) / LONG_JOB.batchSize!);
    // Mid-way through the first epoch.
    const { job, workers } = await startJobOfThree(15, LONG_JOB);
    // Not the host of the harness's own NATS server: cut off with it, the live log would miss the drop
    // (it did, run after run, while the victim was simply the first worker).
    const victim = workers.find((w) => world.hostOf(w) !== harnessHost(world)) ?? workers[0]!;
    const host = world.hostOf(victim);
    const steps = world.tap.job(job.jobId);
    world.hosts.cut(host);
    const cutAt = Date.now();
    const dropped = await world.events.waitFor('train.group.changed', job.jobId, 30_000, (e) => e.data.change === 'dropped' && e.data.replica === victim.id).finally(async () => {
      await sleep(CUT_MS - (Date.now() - cutAt));
      world.hosts.restore(host);
    });
    const restoredAt = Date.now();
    const stepsWhileCut = steps.all().filter((c) => c.at > dropped.at && c.at < restoredAt).length;
    // Without steps left there is nothing to re-join: say so rather than time out on the re-join.
    expect(steps.maxCommitted(), `the job still running when the link came back (${totalSteps} steps; lengthen LONG_JOB if not)`).toBeLessThan(totalSteps - 1);
    const rejoined = await world.events.waitFor('train.group.changed', job.jobId, 90_000, (e) => e.data.change === 'joined' && e.data.replica === victim.id);
    const outcome = await expectJobDone(world, job.jobId, 240_000);

    expect(dropped.envelope.data.members).not.toContain(victim.id);
    expect(stepsWhileCut, 'steps committed by the other two while the host was cut off').toBeGreaterThan(0);
    // Admitted at a boundary: at a step the group had not started when it was dropped, and before the end.
    const joinStep = rejoined.envelope.data.step;
    expect(joinStep).toBeGreaterThan(dropped.envelope.data.step);
    expect(joinStep).toBeLessThan(totalSteps);
    expect(rejoined.envelope.data.members).toContain(victim.id);
    // ...as the victim saw it too: its first step back is that one, on weights through the step before
    // (sent to it, or caught up by applying every step the link held back),
    expect(admissions(victim).at(-1), 'the victim\'s own admission: its first step and the weights it computed it on').toEqual({ step: joinStep, appliedThrough: joinStep - 1 });
    // ...and no step trained twice or by two coordinators: the group went on, it did not rewind.
    expect(steps.stepsLost().lost, 'committed steps trained again').toBe(0);
    expect(steps.overlappingFences()).toEqual([]);
    expect(outcome.attempts, 'the coordinator was not disturbed: one attempt').toBe(1);
    // Re-admitted once, it stays a member to the end. It used to flap (docs/distributed.md, "across
    // hosts"): still behind on applied steps, it asked to re-join on the very frame that re-admitted
    // it with the weights, and was admitted and dropped step after step until the group finished.
    const victimChanges = world.events.of('train.group.changed', job.jobId).filter((e) => e.envelope.data.replica === victim.id && e.at >= dropped.at);
    expect(victimChanges.map((e) => e.envelope.data.change), 'the victim dropped once, re-admitted once').toEqual(['dropped', 'joined']);
    expect(outcome.finalMembers, 'the victim a member at the end').toContain(victim.id);
    await allFree();
  }, 420_000);

  it("the coordinator's host: its lease expires, another host's replica resumes the job from its checkpoint", async () => {
    // Past the first epoch's end, so a checkpoint (taken at every epoch end) is there to resume from.
    const { job, coordinator } = await startJobOfThree(Math.ceil((JOB.trainSubset! * 0.9) / JOB.batchSize!) + 10);
    const host = world.hostOf(coordinator);
    world.hosts.cut(host);
    let resumed;
    try {
      resumed = await waitForStored(world, 'TRAIN', 'train.job.started', job.jobId, 120_000, (e) => e.data.attempt > 1);
    } finally {
      world.hosts.restore(host);
    }
    const outcome = await expectJobDone(world, job.jobId, 180_000);

    expect(resumed.data.replicaId).not.toBe(coordinator.id);
    expect(resumed.data.resumedFromStep ?? 0, 'resumed from a checkpoint, not from the start').toBeGreaterThan(0);
    const overlaps = world.tap.job(job.jobId).overlappingFences();
    expect(overlaps, 'one coordinator committing at a time').toEqual([]);
    expect(outcome.attempts).toBeGreaterThanOrEqual(2);
    await allFree();
  }, 360_000);
});

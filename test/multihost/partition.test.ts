import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Job } from '@mlpipe/contracts';
import type { ServiceProcess } from '../chaos/harness/services';
import { expectJobDone } from './harness/checks';
import { MULTIHOST_JOB, runningJobs, submitJob, waitForFreeReplicas } from './harness/probes';
import { describeMultihost } from './harness/suite';
import { FAST_TRAINER_ENV } from './harness/timings';
import { startWorld, type World } from './harness/world';
import { eventually } from '@mlpipe/common';

/**
 * Issue 16: a host cut off (its link down: its trainer and its NATS server with it, packets lost,
 * not refused) in the middle of a three-replica job, then its link back. A worker's host: the group
 * drops the worker and goes on, and the worker is admitted again at a step boundary once it is
 * reachable. The coordinator's host: its lease cannot be renewed in the cluster's minority, so it
 * expires, and the job is resumed from its checkpoint by a replica on another host (a new attempt).
 */
const JOB = { ...MULTIHOST_JOB, epochs: 4 };
const CUT_MS = 8000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeMultihost('multihost: a host cut off mid-job', () => {
  let world: World;
  beforeAll(async () => {
    // A lease outliving the cut (12 s > 8 s): the cut-off worker, which cannot read the lease in its
    // minority, waits for the link instead of leaving; the heartbeat timeout (4 s) drops it meanwhile.
    world = await startWorld({ name: 'partition', trainerEnv: { ...FAST_TRAINER_ENV, TRAINER_LEASE_TTL_MS: '12000' } });
  }, 180_000);
  afterAll(() => world?.dispose());

  async function startJobOfThree(cutAfterSteps: number): Promise<{ job: Job; coordinator: ServiceProcess; workers: ServiceProcess[] }> {
    await waitForFreeReplicas(world, 3);
    const job = await submitJob(world, JOB, 3, 'multihost: partition');
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

  // Set aside, not passing: in every run late on 2026-12-02 (four, one on a quiet machine) the cut-off
  // worker's `dropped` never arrived within 30 s. It passed earlier that day, before the lease and ledger
  // buckets became R3 (a45ab9c) and the re-admission fix (d95fdd4): suspects, not proven. The cause is
  // open (docs/distributed.md, "across hosts"); issue 16 stays open until this runs again.
  it.skip("a worker's host: dropped, the job goes on, the worker rejoins at a step boundary once the link is back", async () => {
    // Mid-way through the first epoch.
    const { job, workers } = await startJobOfThree(15);
    const victim = workers[0]!;
    const host = world.hostOf(victim);
    world.hosts.cut(host);
    const cutAt = Date.now();
    const dropped = await world.events.waitFor('train.group.changed', job.jobId, 30_000, (e) => e.data.change === 'dropped' && e.data.replica === victim.id).finally(async () => {
      await sleep(CUT_MS - (Date.now() - cutAt));
      world.hosts.restore(host);
    });
    const stepsWhileCut = world.tap.job(job.jobId).all().filter((c) => c.at > dropped.at && c.at < cutAt + CUT_MS).length;
    const rejoined = await world.events.waitFor('train.group.changed', job.jobId, 90_000, (e) => e.data.change === 'joined' && e.data.replica === victim.id);
    const outcome = await expectJobDone(world, job.jobId, 150_000);

    expect(dropped.envelope.data.members).not.toContain(victim.id);
    expect(stepsWhileCut, 'steps committed by the other two while the host was cut off').toBeGreaterThan(0);
    // Admitted at a boundary: the step it joins at is one the group had not started before.
    expect(rejoined.envelope.data.step).toBeGreaterThanOrEqual(dropped.envelope.data.step);
    expect(rejoined.envelope.data.members).toContain(victim.id);
    expect(outcome.attempts, 'the coordinator was not disturbed: one attempt').toBe(1);
    // Not asserted: that it stays a member to the end. Found here (docs/distributed.md, "across hosts"):
    // re-admitted, the worker is still behind on applied steps, and dpWorker.onControl asks to re-join
    // on every control frame ("missed step N") before taking the weights the coordinator transfers to
    // it, so it is admitted and dropped step after step and leaves when the group finishes.
    await allFree();
  }, 360_000);

  it("the coordinator's host: its lease expires, another host's replica resumes the job from its checkpoint", async () => {
    // Past the first epoch's end, so a checkpoint (taken at every epoch end) is there to resume from.
    const { job, coordinator } = await startJobOfThree(Math.ceil((JOB.trainSubset! * 0.9) / JOB.batchSize!) + 10);
    const host = world.hostOf(coordinator);
    world.hosts.cut(host);
    let resumed;
    try {
      resumed = await world.events.waitFor('train.job.started', job.jobId, 120_000, (e) => e.data.attempt > 1);
    } finally {
      world.hosts.restore(host);
    }
    const outcome = await expectJobDone(world, job.jobId, 180_000);

    expect(resumed.envelope.data.replicaId).not.toBe(coordinator.id);
    expect(resumed.envelope.data.resumedFromStep ?? 0, 'resumed from a checkpoint, not from the start').toBeGreaterThan(0);
    const overlaps = world.tap.job(job.jobId).overlappingFences();
    expect(overlaps, 'one coordinator committing at a time').toEqual([]);
    expect(outcome.attempts).toBeGreaterThanOrEqual(2);
    await allFree();
  }, 360_000);
});

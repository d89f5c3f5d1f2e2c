import { afterAll, beforeAll, expect, it } from 'vitest';
import { expectJobDone } from './harness/checks';
import { epochLosses, MULTIHOST_JOB, submitJob, waitForFreeReplicas } from './harness/probes';
import { describeMultihost } from './harness/suite';
import { FAST_TRAINER_ENV } from './harness/timings';
import { startWorld, type World } from './harness/world';

/**
 * Issue 16: a 3-replica job whose replicas sit on three hosts, talking through a three-server NATS
 * cluster, trains as one replica does with the same global batch (the exchange's proof, as
 * services/trainer/test/distributed.test.ts makes it on one host): the same per-epoch loss, with
 * coordinator-reduce and with the ring all-reduce (`exchange: ring`).
 */
describeMultihost('multihost: three replicas on three hosts', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ name: 'equivalence', trainerEnv: FAST_TRAINER_ENV });
  }, 180_000);
  afterAll(() => world?.dispose());

  it('train as one replica does with the same global batch, one on each host', async () => {
    const single = await submitJob(world, MULTIHOST_JOB, 1, 'multihost: one replica');
    const one = await expectJobDone(world, single.jobId, 120_000);
    await waitForFreeReplicas(world, 3);
    const spread = await submitJob(world, MULTIHOST_JOB, 3, 'multihost: three replicas');
    const three = await expectJobDone(world, spread.jobId, 150_000);

    expect(one.job?.status).toBe('succeeded');
    expect([...three.finalMembers].sort()).toEqual(['trainer-1', 'trainer-2', 'trainer-3']);
    const hostsOfMembers = new Set(three.finalMembers.map((m) => world.hostOf(world.trainers.find((t) => t.id === m)!).netns));
    expect(hostsOfMembers.size).toBe(3);
    const lossOne = epochLosses(world, single.jobId);
    const lossThree = epochLosses(world, spread.jobId);
    expect(lossThree).toHaveLength(MULTIHOST_JOB.epochs!);
    // Members send sums, the coordinator divides once: the same mean gradient, so the same curve.
    lossThree.forEach((l, i) => expect(Math.abs(l - lossOne[i]!), `epoch ${i + 1}: ${l} vs ${lossOne[i]}`).toBeLessThan(1e-3));
    expect(lossThree[1]!).toBeLessThan(lossThree[0]!);

    // The same job with the ring all-reduce: members pass chunks host to host, the coordinator sees counts.
    await waitForFreeReplicas(world, 3);
    const ring = await submitJob(world, { ...MULTIHOST_JOB, exchange: 'ring' }, 3, 'multihost: three replicas, ring all-reduce');
    const ringed = await expectJobDone(world, ring.jobId, 150_000);
    expect(new Set(ringed.finalMembers.map((m) => world.hostOf(world.trainers.find((t) => t.id === m)!).netns)).size).toBe(3);
    const lossRing = epochLosses(world, ring.jobId);
    expect(lossRing).toHaveLength(MULTIHOST_JOB.epochs!);
    lossRing.forEach((l, i) => expect(Math.abs(l - lossOne[i]!), `ring, epoch ${i + 1}: ${l} vs ${lossOne[i]}`).toBeLessThan(1e-3));
    const commits = world.tap.job(ring.jobId).all();
    expect(commits.length).toBeGreaterThan(0);
    // Every step through the ring but, at most, a rare one that fell back to the coordinator on a loaded machine.
    const viaRing = commits.filter((c) => c.encoding === 'ring').length;
    expect(viaRing / commits.length, `${viaRing} of ${commits.length} steps committed from the ring`).toBeGreaterThan(0.9);
    expect(world.tap.job(spread.jobId).all().every((c) => c.encoding === 'f32')).toBe(true);

    // STREAM_REPLICAS=3: every stream and KV bucket of the run (events, queue, failure ledger,
    // coordinator leases) has a copy on each server; the cluster is the run's own, so all its streams are.
    const streams = await world.bus.jsm.streams.list().next();
    expect(streams.map((i) => i.config.name)).toEqual(expect.arrayContaining([expect.stringMatching(/^KV_.*dp_leases/), expect.stringMatching(/^KV_.*consumer-failures$/)]));
    for (const info of streams) expect(info.config.num_replicas, info.config.name).toBe(3);
  }, 480_000);
});

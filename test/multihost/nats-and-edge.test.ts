import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually } from '@mlpipe/common';
import { startLoad } from '../chaos/harness/load';
import { expectJobDone } from './harness/checks';
import { MULTIHOST_JOB, runningJobs, submitJob, waitForFreeReplicas } from './harness/probes';
import { describeMultihost } from './harness/suite';
import { FAST_TRAINER_ENV } from './harness/timings';
import { startGateways, startWorld, type World } from './harness/world';

/**
 * Issue 16: a server of the NATS cluster killed mid-job (SIGKILL: its clients, the coordinator
 * among them, lose their server and reconnect to another; the streams' leaders it held move), and
 * inference through the edge while the host of one of the two model replicas is cut off.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeMultihost('multihost: a NATS server killed; the edge with a replica host cut off', () => {
  let world: World;
  let jobId: string | undefined;
  beforeAll(async () => {
    world = await startWorld({ name: 'nats-and-edge', trainerEnv: FAST_TRAINER_ENV, gateways: true });
  }, 180_000);
  afterAll(() => world?.dispose());

  it("kills the coordinator's NATS server mid-job: its clients reconnect to the others, nothing is lost", async () => {
    await waitForFreeReplicas(world, 3);
    const job = await submitJob(world, { ...MULTIHOST_JOB, epochs: 3 }, 3, 'multihost: NATS server killed');
    jobId = job.jobId;
    await world.events.waitFor('train.group.changed', job.jobId, 90_000, (e) => e.data.members.length === 3);
    await world.tap.job(job.jobId).waitForCommitted(20, 90_000);
    const coordinatorId = world.events.of('train.job.started', job.jobId).at(-1)?.envelope.data.replicaId;
    const coordinator = world.trainers.find((t) => t.id === coordinatorId);
    if (!coordinator) throw new Error('no coordinator known');
    // The coordinator was given only its own host's server: killing it leaves it the servers the cluster told it of.
    const server = world.nats.servers.find((s) => s.host === world.hostOf(coordinator))!;
    const committedBefore = world.tap.job(job.jobId).maxCommitted();
    await server.proc.kill();
    const outcome = await expectJobDone(world, job.jobId, 180_000);
    const stillDown = !server.proc.running();
    await server.start();

    expect(stillDown, `${server.name} stayed down until the job ended`).toBe(true);
    expect(world.tap.job(job.jobId).maxCommitted()).toBeGreaterThan(committedBefore);
    expect(outcome.attempts, 'the job was not restarted: the group rode the reconnect out in place').toBe(1);
    expect([...outcome.finalMembers].sort()).toEqual(['trainer-1', 'trainer-2', 'trainer-3']);
    await world.nats.waitHealthy();
  }, 360_000);

  it('answers every request through the edge while the host of one model replica is cut off', async () => {
    expect(jobId, 'a version from the first test').toBeDefined();
    await eventually(async () => (await Promise.all(world.trainers.map(runningJobs))).every((n) => n === 0), 60_000, 'the trainers free');
    await startGateways(world);
    const edge = world.edge!.url;
    const victim = world.gateways[0]!;
    const host = world.hostOf(victim);
    const load = startLoad(edge, 4);
    await sleep(3000);
    world.hosts.cut(host);
    await sleep(10_000);
    world.hosts.restore(host);
    // Until the replica answers through the edge again, then a little more.
    await eventually(() => (load.report.answeredBy.get(victim.url) ?? []).some((t) => t > Date.now() - 1000), 60_000, `${victim.id} answering again`).catch(() => undefined);
    await sleep(2000);
    const report = await load.stop();
    const answeredBy = Object.fromEntries([...report.answeredBy.entries()].map(([url, t]) => [world.gateways.find((g) => g.url === url)?.id ?? url, t.length]));

    expect(report.sent).toBeGreaterThan(20);
    expect(report.failed, `failed of ${report.sent}; answered by ${JSON.stringify(answeredBy)}`).toEqual([]);
    expect(answeredBy['gateway-b'] ?? 0).toBeGreaterThan(0);
    expect(answeredBy['gateway-a'] ?? 0, 'the cut replica answered before or after the cut').toBeGreaterThan(0);
  }, 180_000);
});

import { describe, expect, it } from 'vitest';
import type { Bus } from '@mlpipe/bus';
import { eventually } from '@mlpipe/common';
import { mnistSamples } from '@mlpipe/testing';
import { createLogger } from '@mlpipe/runtime';
import { HyperparamsSchema } from '@mlpipe/contracts';
import { stepsPerEpoch } from '../src/core/sharding';
import type { GroupChange } from '../src/adapters/coordinator';
import { dpSubjects } from '../src/adapters/dpChannel';
import type { DpSettings } from '../src/adapters/distributed';
import { trainHostAndWorker, twoReplicaJob, useGroupBuses, weightGap } from './hostAndWorker';

/**
 * A worker's host cut off for seconds, as the multi-host partition scenario does it (its link down,
 * test/multihost/partition.test.ts): the TCP connections between the NATS servers outlive the cut,
 * so nothing is lost, only held back, and after the link comes back every frame arrives, late and in
 * order, both ways. Here the worker's traffic is held back the same way on one server: its control
 * frames queue up, and so do its heartbeats and gradients. The coordinator drops it (no heartbeat);
 * once the frames flow again the worker applies every step it missed, asks to re-join once (the
 * first frame without it), and is admitted at a step boundary already synchronised, with no weights
 * sent to it; it then trains to the end with the host's weights.
 */
const logger = createLogger('dp-held-back', (process.env.DP_LOG as 'silent') ?? 'silent');
const train = mnistSamples('train', 1024);
// The join window is wide: the worker's first join may be asked before the coordinator listens and
// go unanswered (a 2 s request timeout, then again), and the group must form with both, as 'formed'.
// The coordinator starts as soon as both have joined, so a wide window costs nothing.
const settings: DpSettings = { heartbeatMs: 200, heartbeatTimeoutMs: 1500, stepTimeoutMs: 3000, joinWindowMs: 15_000, joinTimeoutMs: 8000, outageToleranceMs: 10_000, retransmitMs: 500, leaseTtlMs: 3000 };
const hp = HyperparamsSchema.parse({ arch: 'cnn-small', epochs: 2, batchSize: 64, seed: 11, validationShare: 0 });
const perEpoch = stepsPerEpoch(train.count, hp.batchSize);

/** Holds back a connection's traffic on some subjects, both ways, until released; then delivers it in order. */
function holdBack(b: Bus, inbound: string, outbound: string[]) {
  let holding = false;
  const queued: (() => void)[] = [];
  const subscribe = b.nc.subscribe.bind(b.nc);
  b.nc.subscribe = (subject, opts) => {
    if (subject !== inbound || !opts?.callback) return subscribe(subject, opts);
    const deliver = opts.callback;
    return subscribe(subject, { ...opts, callback: (err, msg) => (holding ? void queued.push(() => deliver(err, msg)) : deliver(err, msg)) });
  };
  const publish = b.nc.publish.bind(b.nc);
  b.nc.publish = (subject, data, opts) => (holding && outbound.includes(subject) ? void queued.push(() => publish(subject, data, opts)) : publish(subject, data, opts));
  return {
    hold: () => void (holding = true),
    release: () => {
      holding = false;
      const held = queued.splice(0);
      for (const f of held) f();
      return held.length;
    },
  };
}

describe('a worker whose frames were held back by a cut link (real NATS)', () => {
  const buses = useGroupBuses();

  it('catches up on the held-back steps, re-joins once at a step boundary without a state transfer, and trains to the end', async () => {
    const job = twoReplicaJob('held-back', hp);
    const bus = buses.bus();
    const s = dpSubjects(bus.namespace, job.jobId);
    const wb = await buses.connect('held-back-worker');
    const link = holdBack(wb, s.ctl, [s.heartbeat, s.grad]);
    let cutAt: number | undefined;
    let joinRequests = 0;
    bus.nc.subscribe(s.join, { callback: () => void (cutAt !== undefined ? joinRequests++ : undefined) });
    await bus.nc.flush();

    const applied: number[] = [];
    const changes: GroupChange[] = [];
    let restored: Promise<number> | undefined;
    const cut = () => {
      cutAt = Date.now();
      link.hold();
      // Back once the worker is dropped and the host has gone on alone for a few steps.
      restored = eventually(() => changes.some((c) => c.change === 'dropped') || undefined, 20_000, 'the cut-off worker to be dropped')
        .then(() => new Promise<void>((r) => setTimeout(r, 800)))
        .then(() => link.release());
    };
    const { result, worked, worker, model } = await trainHostAndWorker({
      bus, workerBus: wb, job, logger, train, perEpoch, settings, coordinatorTimeoutMs: 15_000, changes,
      onApplied: (a) => {
        applied.push(a.step);
        if (applied.length === 3) cut();
      },
      // Slowed, so the job is not over before the held-back frames flow again.
      hostStepDelayMs: 100,
    });
    const released = await restored;

    expect(released, 'frames held back by the cut').toBeGreaterThan(0);
    expect(worked.outcome).toBe('done');
    expect(result.finalMembers).toEqual(['host', 'worker']);
    // Dropped once, re-admitted once, at a step after the drop; one join asked after the cut.
    const worker_ = changes.filter((c) => c.replica === 'worker');
    expect(worker_.map((c) => c.change)).toEqual(['formed', 'dropped', 'joined']);
    expect(worker_[2]!.step).toBeGreaterThan(worker_[1]!.step);
    expect(joinRequests).toBe(1);
    // Every step applied by the worker itself, in order, once each: it caught up on the held-back
    // frames, and no weights had to be sent to it (a state transfer skips the steps it covers).
    expect(applied).toEqual(Array.from({ length: 2 * perEpoch }, (_, i) => i));
    const trained = worker.currentModel();
    expect(trained).toBeDefined();
    expect(weightGap(trained!, model)).toBeLessThan(1e-6);
    model.dispose();
    trained!.dispose();
  }, 90_000);
});

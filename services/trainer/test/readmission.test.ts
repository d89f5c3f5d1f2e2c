import { describe, expect, it } from 'vitest';
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
 * A worker that misses steps (its control frames cut off, as when its host is partitioned) is
 * dropped as stalled, asks to re-join once the frames reach it again, and is re-admitted at a
 * step boundary with the group's weights: once, then it trains as a member to the end. It used to
 * ask to re-join again on the very frame that re-admitted it, and flapped until the job ended.
 */
const logger = createLogger('dp-readmission', (process.env.DP_LOG as 'silent') ?? 'silent');
const train = mnistSamples('train', 1024);
const settings: DpSettings = { heartbeatMs: 200, heartbeatTimeoutMs: 2000, stepTimeoutMs: 1500, joinWindowMs: 2000, joinTimeoutMs: 4000, outageToleranceMs: 10_000, retransmitMs: 500, leaseTtlMs: 3000 };
const hp = HyperparamsSchema.parse({ arch: 'cnn-small', epochs: 2, batchSize: 64, seed: 5, validationShare: 0 });
const perEpoch = stepsPerEpoch(train.count, hp.batchSize);

describe('a worker re-admitted after missing steps (real NATS)', () => {
  const buses = useGroupBuses();

  it('asks to re-join once, is re-admitted once, and applies every later step as a member', async () => {
    const job = twoReplicaJob('readmit', hp);
    const bus = buses.bus();
    const s = dpSubjects(bus.namespace, job.jobId);
    const wb = await buses.connect('readmit-worker');

    // The cut: the worker's connection stays up (its heartbeats go out), its control frames are lost.
    let cut = false;
    const subscribe = wb.nc.subscribe.bind(wb.nc);
    wb.nc.subscribe = (subject, opts) => {
      if (subject !== s.ctl || !opts?.callback) return subscribe(subject, opts);
      const deliver = opts.callback;
      return subscribe(subject, { ...opts, callback: (err, msg) => (cut ? undefined : deliver(err, msg)) });
    };
    // Join requests after the cut (the first join may be asked more than once while the host starts up).
    let joinRequests = 0;
    bus.nc.subscribe(s.join, { callback: () => void (cut || dropped ? joinRequests++ : undefined) });
    await bus.nc.flush();

    const applied: number[] = [];
    const changes: GroupChange[] = [];
    let restore: Promise<void> | undefined;
    let dropped = false;
    // Cut off once the worker is a member that has applied three steps; the link is restored once it
    // has been dropped and the host has moved on a few steps alone.
    const cutOff = () => {
      cut = true;
      restore = eventually(() => changes.some((c) => c.change === 'dropped') || undefined, 20_000, 'the cut-off worker to be dropped')
        .then(() => void (dropped = true))
        .then(() => new Promise<void>((r) => setTimeout(r, 600)))
        .then(() => void (cut = false));
    };
    const { result, worked, worker, model } = await trainHostAndWorker({
      bus, workerBus: wb, job, logger, train, perEpoch, settings, coordinatorTimeoutMs: 8000, changes,
      onApplied: (a) => {
        applied.push(a.step);
        if (applied.length === 3) cutOff();
      },
      // Alone after the drop, the host would be through the job before the worker is back.
      hostStepDelayMs: 100,
    });
    await restore;

    // One join after the cut: no flapping.
    expect(joinRequests).toBe(1);
    expect(result).toBeDefined();
    expect(worked.outcome).toBe('done');
    // Dropped once as stalled, re-admitted once (a late first join shows as 'joined' too, before the drop).
    const drop = changes.findIndex((c) => c.change === 'dropped');
    expect(changes.filter((c) => c.change === 'dropped')).toHaveLength(1);
    expect(changes.slice(drop).filter((c) => c.change === 'joined' && c.replica === 'worker')).toHaveLength(1);
    // After the re-admission it applied every step to the last, in order, once each, as the host did.
    const since = applied.findIndex((step, i) => i > 0 && step !== applied[i - 1]! + 1);
    expect(since).toBeGreaterThan(0);
    const after = applied.slice(since);
    expect(after.at(-1)).toBe(2 * perEpoch - 1);
    expect(after).toEqual(Array.from({ length: after.length }, (_, i) => after[0]! + i));
    const trained = worker.currentModel();
    expect(trained).toBeDefined();
    expect(weightGap(trained!, model)).toBeLessThan(1e-6);
    model.dispose();
    trained!.dispose();
  }, 60_000);
});

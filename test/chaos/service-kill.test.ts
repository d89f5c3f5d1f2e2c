import { describe, it } from 'vitest';
import { eventually } from '@mlpipe/common';
import { UNTOUCHED_BOUND } from './harness/bounds';
import { storedEvents } from './harness/events';
import { killProcess, type FaultWindow } from './harness/faults';
import { startLoad, type LoadReport } from './harness/load';
import { midEpoch, registrationStarts } from './harness/moments';
import { getJob, versionsOfJob, waitForJobEnd } from './harness/probes';
import { recoveryWhen, runScenario, scenarioTimeout } from './harness/scenario';

/**
 * SIGKILL of the services around training (issue 12), each started again 5 s later as its pod would
 * be. None of them trains, so no step may be lost; what they owe is their state: every event handled
 * once (one version, no dead letter), and for the gateway every request answered through the edge
 * (its retry budget: once more, on another replica). The fault lasts until the service is ready again.
 */
const JOB_TIMEOUT_MS = 300_000;
const RESTART_AFTER_MS = 5000;

const killUntilReady = async (...args: Parameters<typeof killProcess>): Promise<FaultWindow> => {
  const w = await killProcess(...args);
  return { ...w, end: w.readyAt ?? w.end };
};

describe('chaos: SIGKILL of a service', () => {
  it('the orchestrator mid-job', async () => {
    await runScenario({
      id: 'sigkill-orchestrator',
      fault: 'SIGKILL of the orchestrator mid-job',
      trainers: 2,
      jobTimeoutMs: JOB_TIMEOUT_MS,
      stepsLostBound: () => UNTOUCHED_BOUND,
      inject: async (ctx) => {
        await midEpoch(ctx, 0.4);
        return killUntilReady(ctx.cluster.orchestrator, RESTART_AFTER_MS);
      },
      // Caught up: the orchestrator reports at least the progress the trainer has published.
      recovery: (ctx, fault, deadline) =>
        recoveryWhen(fault, deadline, async () => {
          const published = await storedEvents(ctx.cluster.bus, 'TRAIN', 'train.job.progress', ctx.job.jobId);
          const newest = Math.max(0, ...published.map((e) => e.data.metrics.epoch));
          const job = await getJob(ctx.cluster, ctx.job.jobId);
          return job !== undefined && job.status !== 'queued' && (job.lastProgress?.epoch ?? 0) >= newest;
        }),
      recoveryMeasure: 'orchestrator ready again → its job record caught up with the published progress',
    });
  }, scenarioTimeout(JOB_TIMEOUT_MS));

  it('the registry as the version is registered', async () => {
    await runScenario({
      id: 'sigkill-registry',
      fault: 'SIGKILL of the registry as the version is registered',
      trainers: 2,
      jobTimeoutMs: JOB_TIMEOUT_MS,
      stepsLostBound: () => UNTOUCHED_BOUND,
      inject: async (ctx) => {
        await registrationStarts(ctx);
        const before = ctx.cluster.events.of('model.version.registered', ctx.job.jobId).length;
        const w = await killUntilReady(ctx.cluster.registry, RESTART_AFTER_MS);
        return { ...w, notes: [...w.notes, before ? 'the version was registered before the kill' : 'killed before the version was announced'] };
      },
      recovery: (ctx, fault, deadline) => recoveryWhen(fault, deadline, async () => ((await versionsOfJob(ctx.cluster, ctx.job.jobId))?.length ?? 0) > 0),
      recoveryMeasure: 'registry ready again → the version registered',
    });
  }, scenarioTimeout(JOB_TIMEOUT_MS));

  it('a gateway replica under load through the edge', async () => {
    let load: LoadReport | undefined;
    let restartedAt = 0;
    await runScenario({
      id: 'sigkill-gateway',
      fault: 'SIGKILL of one of 2 gateway replicas under load (4 clients through the edge)',
      trainers: 2,
      jobTimeoutMs: JOB_TIMEOUT_MS,
      stepsLostBound: () => UNTOUCHED_BOUND,
      inject: async (ctx) => {
        // The replicas serve the champion: the job's version, once registered.
        await waitForJobEnd(ctx.cluster, ctx.job.jobId, JOB_TIMEOUT_MS);
        await eventually(() => fetch(`${ctx.cluster.registry.url}/models/mnist/aliases/champion`).then((r) => r.ok), 60_000, 'a champion');
        await ctx.cluster.startGateways(2);
        const edge = ctx.cluster.edge?.url as string;
        const victim = ctx.cluster.gateways[0];
        if (!victim) throw new Error('no gateway replica');
        const running = startLoad(edge);
        await new Promise((r) => setTimeout(r, 5000));
        const w = await killUntilReady(victim, RESTART_AFTER_MS);
        restartedAt = w.end;
        // Until the restarted replica answers through the edge again (its probe brings it back), then a little more.
        await eventually(() => (running.report.answeredBy.get(victim.url) ?? []).some((t) => t > restartedAt), 60_000, `${victim.id} to answer again`).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 3000));
        load = await running.stop();
        const byReplica = [...load.answeredBy.entries()].map(([url, t]) => `${ctx.cluster.gateways.find((g) => g.url === url)?.id ?? url} ${t.length}`);
        return { ...w, notes: [...w.notes, `${load.sent} requests, ${load.failed.length} failed; answered by ${byReplica.join(', ')}`] };
      },
      recovery: async (_ctx, fault) => {
        const times = [...(load?.answeredBy.entries() ?? [])].flatMap(([url, t]) => (url === _ctx.cluster.gateways[0]?.url ? t : []));
        const back = times.find((t) => t > restartedAt);
        return back === undefined ? undefined : (back - fault.end) / 1000;
      },
      recoveryMeasure: 'replica ready again → answering through the edge',
      extraChecks: async () => [
        {
          name: 'no request failed at the edge',
          ok: load !== undefined && load.failed.length === 0 && load.sent > 0,
          detail: load ? `${load.failed.length} of ${load.sent} failed: ${load.failed.slice(0, 5).map((f) => String(f.status)).join(', ')}` : 'no load ran',
        },
      ],
    });
  }, scenarioTimeout(JOB_TIMEOUT_MS));
});

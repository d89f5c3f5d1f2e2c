import { checkpointStarts } from './faults';
import type { ScenarioContext } from './scenario';

/**
 * The moments of a job a fault is aimed at, each seen from outside: events as they are published,
 * committed steps on the wire, checkpoint files as the store receives them.
 */
const WAIT_MS = 180_000;

/** The coordinator has announced the attempt and waits for its members: the group is forming. */
export async function groupForming(ctx: ScenarioContext): Promise<{ missed?: string }> {
  await ctx.cluster.events.waitFor('train.job.started', ctx.job.jobId, WAIT_MS);
  const committed = ctx.steps.maxCommitted() + 1;
  return committed > 0 ? { missed: `the group had committed ${committed} step(s) already` } : {};
}

/** `share` of the first epoch committed: the group is mid-step (a step is in flight nearly all the time). */
export async function midEpoch(ctx: ScenarioContext, share = 0.4): Promise<void> {
  await ctx.steps.waitForCommitted(Math.max(1, Math.round(ctx.perEpoch * share)), WAIT_MS);
}

/** The first checkpoint file once `afterSteps` steps are committed: a checkpoint is being written, its pointer not yet. */
export async function checkpointWrite(ctx: ScenarioContext, afterSteps = 1): Promise<string> {
  await ctx.steps.waitForCommitted(afterSteps, WAIT_MS);
  return checkpointStarts(ctx.cluster, ctx.job.jobId, WAIT_MS);
}

/** The last epoch's progress event: training is over, evaluation and the upload begin. */
export async function evaluationStarts(ctx: ScenarioContext): Promise<void> {
  const epochs = ctx.hyperparams.epochs ?? 1;
  await ctx.cluster.events.waitFor('train.job.progress', ctx.job.jobId, WAIT_MS, (e) => e.data.metrics.epoch === epochs);
}

/** Set when the job's completion was heard before `t`: a fault from `t` on came after the evaluation. */
export function completedBefore(ctx: ScenarioContext, t: number): string | undefined {
  const done = ctx.cluster.events.of('train.job.completed', ctx.job.jobId).find((e) => e.at < t);
  return done ? `the job completed ${((t - done.at) / 1000).toFixed(1)} s before the fault` : undefined;
}

/** The job's completion is published: the registry is registering its version. */
export async function registrationStarts(ctx: ScenarioContext): Promise<void> {
  await ctx.cluster.events.waitFor('train.job.completed', ctx.job.jobId, WAIT_MS);
}

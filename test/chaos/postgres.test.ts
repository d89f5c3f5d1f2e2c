import { describe, it } from 'vitest';
import { UNTOUCHED_BOUND } from './harness/bounds';
import { postgresDown } from './harness/faults';
import { midEpoch, registrationStarts } from './harness/moments';
import { getJob, versionsOfJob } from './harness/probes';
import { recoveryWhen, runScenario, scenarioTimeout, type ScenarioContext } from './harness/scenario';
import type { FaultWindow } from './harness/faults';

/**
 * PostgreSQL (the scenario's own cluster, `pg_ctl stop -m fast`) down for 60 s (issue 12): the
 * orchestrator's and the registry's events wait (capped backoff, no dead letter) and are handled
 * once it is back. Training does not touch the database, so no step may be lost. Recovery: the
 * database back → the job succeeded with its version, as the orchestrator reports it.
 */
const DOWN_MS = 60_000;
const JOB_TIMEOUT_MS = 360_000;

const caughtUp = (ctx: ScenarioContext, fault: FaultWindow, deadline: number) =>
  recoveryWhen(fault, deadline, async () => {
    const [job, versions] = await Promise.all([getJob(ctx.cluster, ctx.job.jobId), versionsOfJob(ctx.cluster, ctx.job.jobId)]);
    return job?.status === 'succeeded' && job.modelVersion !== null && (versions?.length ?? 0) > 0;
  });

describe('chaos: PostgreSQL down for 60 s', () => {
  it('mid-job: progress, completion and registration wait for it', async () => {
    await runScenario({
      id: 'postgres-down-mid-job',
      fault: 'PostgreSQL down 60 s mid-job',
      trainers: 2,
      jobTimeoutMs: JOB_TIMEOUT_MS,
      stepsLostBound: () => UNTOUCHED_BOUND,
      inject: async (ctx) => {
        await midEpoch(ctx, 0.4);
        return postgresDown(ctx.cluster, DOWN_MS);
      },
      recovery: caughtUp,
      recoveryMeasure: 'database back → job succeeded with its version',
    });
  }, scenarioTimeout(JOB_TIMEOUT_MS));

  it('during registration', async () => {
    await runScenario({
      id: 'postgres-down-registration',
      fault: 'PostgreSQL down 60 s as the version is registered',
      trainers: 2,
      jobTimeoutMs: JOB_TIMEOUT_MS,
      stepsLostBound: () => UNTOUCHED_BOUND,
      inject: async (ctx) => {
        await registrationStarts(ctx);
        return postgresDown(ctx.cluster, DOWN_MS);
      },
      recovery: caughtUp,
      recoveryMeasure: 'database back → job succeeded with its version',
    });
  }, scenarioTimeout(JOB_TIMEOUT_MS));
});

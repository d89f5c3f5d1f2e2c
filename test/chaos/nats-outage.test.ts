import { describe, it } from 'vitest';
import { checkpointBound } from './harness/bounds';
import { natsDown } from './harness/faults';
import { runScenario, scenarioTimeout } from './harness/scenario';

/**
 * NATS down for 90 s mid-job (issue 12), past the trainers' 60 s outage tolerance, every timing at
 * its shipped default: the attempt ends cleanly, and the job resumes from its checkpoint on a free
 * replica within 30 s of NATS being back. It may cost the steps since the last checkpoint: one
 * checkpoint interval (TRAINER_CHECKPOINT_EVERY_MS, 30 s by default): the steps it committed in the
 * 30 s before the outage, plus two.
 */
const JOB_TIMEOUT_MS = 420_000;

describe('chaos: NATS down for 90 s', () => {
  it('mid-job, past the outage tolerance: the job resumes from its checkpoint', async () => {
    await runScenario({
      id: 'nats-down-90s',
      fault: 'NATS down 90 s mid-job (past the 60 s tolerance)',
      trainers: 2,
      jobTimeoutMs: JOB_TIMEOUT_MS,
      stepsLostBound: (steps, at) => checkpointBound(steps, at),
      recoveryLimitSec: 30,
      inject: async (ctx) => {
        await ctx.steps.waitForCommitted(Math.round(ctx.perEpoch * 1.4), 180_000);
        return natsDown(ctx.cluster, 90_000);
      },
    });
  }, scenarioTimeout(JOB_TIMEOUT_MS));
});

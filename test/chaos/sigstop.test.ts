import { describe, it } from 'vitest';
import { IN_PLACE_BOUND } from './harness/bounds';
import { pauseProcess } from './harness/faults';
import { midEpoch } from './harness/moments';
import { recoveryByStall, runScenario, scenarioTimeout, workersOf } from './harness/scenario';

/**
 * A worker replica frozen for 2 minutes (SIGSTOP), then continued (SIGCONT) (issue 12), every timing
 * at its shipped default: the group drops the silent member and goes on without a rewind; once the
 * worker runs again it must notice its group has gone on (or finished) and free itself.
 */
const JOB_TIMEOUT_MS = 360_000;

describe('chaos: SIGSTOP of a worker', () => {
  it('for 2 minutes, then SIGCONT', async () => {
    await runScenario({
      id: 'sigstop-worker-2min',
      fault: 'SIGSTOP of a worker trainer for 2 min, then SIGCONT',
      trainers: 2,
      jobTimeoutMs: JOB_TIMEOUT_MS,
      stepsLostBound: () => IN_PLACE_BOUND,
      keepsReplicas: false,
      recovery: recoveryByStall,
      recoveryMeasure: 'longest stall of the group after the SIGSTOP',
      inject: async (ctx) => {
        const [worker] = await workersOf(ctx, 2);
        if (!worker) throw new Error('the group has no worker');
        await midEpoch(ctx, 0.6);
        return pauseProcess(worker, 120_000);
      },
    });
  }, scenarioTimeout(JOB_TIMEOUT_MS));
});

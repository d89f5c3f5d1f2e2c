import { describe, it } from 'vitest';
import { UNTOUCHED_BOUND } from './harness/bounds';
import { runScenario } from './harness/scenario';

/**
 * No fault: the harness's own check. The same job and checks as every scenario, undisturbed, so a
 * failing scenario fails because of its fault, and the table has the undisturbed job beside them.
 */
describe('chaos baseline', () => {
  it('runs the chaos job undisturbed: succeeded, one version, no dead letters, replicas free', async () => {
    await runScenario({
      id: 'baseline',
      fault: 'none (undisturbed job)',
      trainers: 2,
      jobTimeoutMs: 180_000,
      stepsLostBound: () => UNTOUCHED_BOUND,
      inject: async (ctx) => {
        await ctx.steps.waitForCommitted(10, 120_000);
        const now = Date.now();
        return { start: now, end: now, notes: ['no fault'] };
      },
      recoveryMeasure: 'n/a',
    });
  }, 420_000);
});

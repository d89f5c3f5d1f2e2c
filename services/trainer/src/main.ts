import { TrainerConfigSchema } from '@mlpipe/config';
import { runService } from '@mlpipe/runtime';

/**
 * A trainer replica. Without arguments it takes jobs from the queue until stopped; with
 * `--job-id ID [--rank R]` it runs that job (as rank R of its data-parallel group, 0 by default)
 * and exits (0 on success), as a Kubeflow TrainJob pod does.
 */
void runService({
  name: 'trainer',
  configSchema: TrainerConfigSchema,
  needs: ['bus', 'store'],
  args: { 'job-id': { type: 'string' }, rank: { type: 'string', default: '0' } },
  logBindings: (config) => ({ replica: config.TRAINER_REPLICA_ID }),
  busName: (config) => config.TRAINER_REPLICA_ID,
  shutdownDeadlineMs: 60_000,
  start: async (ctx) => (await import('./service')).serveTrainer(ctx),
});

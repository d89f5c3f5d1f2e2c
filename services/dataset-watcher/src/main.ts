import { DatasetWatcherConfigSchema } from '@mlpipe/config';
import { runService } from '@mlpipe/runtime';

// The dataset watcher process: start-up, readiness and teardown are the runtime's (libs/runtime).
void runService({
  name: 'dataset-watcher',
  configSchema: DatasetWatcherConfigSchema,
  needs: ['db', 'bus', 'store'],
  start: async (ctx) => (await import('./service')).startWatcher(ctx),
});

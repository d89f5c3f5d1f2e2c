import { RegistryConfigSchema } from '@mlpipe/config';
import { runService } from '@mlpipe/runtime';

// The registry process: its REST API also serves /healthz, /readyz and /metrics.
void runService({
  name: 'registry',
  configSchema: RegistryConfigSchema,
  needs: ['db', 'bus', 'store', 'http'],
  start: async (ctx) => (await import('./service')).startRegistry(ctx),
});

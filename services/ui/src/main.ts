import { UiConfigSchema } from '@mlpipe/config';
import { runService } from '@mlpipe/runtime';

// The web UI process: its app also serves /healthz, /readyz and /metrics.
void runService({
  name: 'ui',
  configSchema: UiConfigSchema,
  needs: ['bus', 'store', 'http'],
  start: async (ctx) => (await import('./service')).serveUi(ctx),
});

import { OrchestratorConfigSchema } from '@mlpipe/config';
import { runService } from '@mlpipe/runtime';

// The orchestrator process: start-up, readiness and teardown are the runtime's (libs/runtime).
void runService({
  name: 'orchestrator',
  configSchema: OrchestratorConfigSchema,
  needs: ['db', 'bus'],
  start: async (ctx) => (await import('./service')).startOrchestrator(ctx),
});

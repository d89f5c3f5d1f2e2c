import { GatewayConfigSchema } from '@mlpipe/config';
import { runService } from '@mlpipe/runtime';

/**
 * One program, two roles. Without MODEL_REPLICAS it is a model replica: it loads registered
 * models and answers inference itself. With MODEL_REPLICAS it is the edge: it balances the same
 * routes over those replicas, retrying once elsewhere when one fails (and needs no bus or store).
 */
void runService({
  name: 'gateway',
  configSchema: GatewayConfigSchema,
  needs: (config) => (config.MODEL_REPLICAS ? ['http'] : ['bus', 'store', 'http']),
  start: async (ctx) => (await import('./service')).serveGateway(ctx),
});

import type { UiConfig } from '@mlpipe/config';
import type { RunningService, ServiceContext } from '@mlpipe/runtime';
import { buildUi } from './app';

/** The UI as the runtime starts it: config → the app's deps (tests call buildUi directly). */
export async function serveUi(ctx: ServiceContext<UiConfig, 'bus' | 'store' | 'http'>): Promise<RunningService> {
  const { config } = ctx;
  const app = await buildUi({
    bus: ctx.bus,
    gatewayUrl: config.GATEWAY_URL.replace(/\/$/, ''),
    registryUrl: config.REGISTRY_URL.replace(/\/$/, ''),
    store: ctx.store,
    dataPrefix: config.DATA_PREFIX,
    metrics: ctx.metrics,
    logger: ctx.logger,
    isReady: ctx.isReady,
  });
  return { app };
}

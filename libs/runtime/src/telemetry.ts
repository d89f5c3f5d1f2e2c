import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import { NodeSDK, api, core, type tracing } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { isProbePath } from './probes';

export interface Telemetry {
  enabled: boolean;
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry tracing when an OTLP endpoint is configured; otherwise a no-op, so a laptop
 * run needs no collector. Call first in main.ts, before clients are created.
 *
 * Spans: every incoming HTTP request (fastify sits on node:http), every outgoing `fetch` (undici,
 * e.g. gateway -> replica, with `traceparent` injected), and every NATS publish/consume/request
 * (libs/bus does those by hand, through the same global propagator).
 */
export function startTelemetry(serviceName: string, otlpEndpoint: string | undefined): Telemetry {
  if (!otlpEndpoint) return { enabled: false, shutdown: async () => undefined };
  return startTracing(serviceName, new OTLPTraceExporter({ url: `${otlpEndpoint.replace(/\/$/, '')}/v1/traces` }));
}

/** The SDK with the given exporter (tests pass an in-memory one). */
export function startTracing(serviceName: string, traceExporter: tracing.SpanExporter): Telemetry {
  const sdk = new NodeSDK({
    serviceName,
    traceExporter,
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => isProbePath(req.url) }),
      new UndiciInstrumentation({ ignoreRequestHook: (req) => isProbePath(req.path) }),
    ],
  });
  sdk.start();
  // The http instrumentation patches node:http when it is next required. Services import fastify
  // (which requires it) before main() starts telemetry, so require it once here to apply the patch
  // to the shared module before any server is created.
  createRequire(import.meta.url)('node:http');
  const stopNaming = nameServerSpansByRoute();
  return {
    enabled: true,
    shutdown: () => {
      stopNaming();
      return sdk.shutdown();
    },
  };
}

/**
 * Fastify announces each matched route on a diagnostics channel; handing it to the http
 * instrumentation names the server span after the route ("GET /models/:name") and sets
 * `http.route`, without a fastify instrumentation package.
 */
function nameServerSpansByRoute(): () => void {
  const channel = 'tracing:fastify.request.handler:start';
  const onStart = (message: unknown): void => {
    const route = (message as { route?: { url?: unknown } }).route?.url;
    const rpc = core.getRPCMetadata(api.context.active());
    if (typeof route === 'string' && rpc?.type === core.RPCType.HTTP) rpc.route = route;
  };
  subscribe(channel, onStart);
  return () => void unsubscribe(channel, onStart);
}

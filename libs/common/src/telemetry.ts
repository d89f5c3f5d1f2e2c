import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';

export interface Telemetry {
  enabled: boolean;
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry tracing when an OTLP endpoint is configured; otherwise a no-op, so a laptop
 * run needs no collector. Call first in main.ts, before clients are created.
 */
export function startTelemetry(serviceName: string, otlpEndpoint: string | undefined): Telemetry {
  if (!otlpEndpoint) return { enabled: false, shutdown: async () => undefined };
  const sdk = new NodeSDK({
    serviceName,
    traceExporter: new OTLPTraceExporter({ url: `${otlpEndpoint.replace(/\/$/, '')}/v1/traces` }),
  });
  sdk.start();
  return { enabled: true, shutdown: () => sdk.shutdown() };
}

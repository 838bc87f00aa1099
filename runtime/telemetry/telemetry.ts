import { trace, type TracerProvider } from "@opentelemetry/api";
import { NodeSDK } from "@opentelemetry/sdk-node";

export interface Telemetry {
  /** Set when tracing is exported; pass it to `Node.create(…, { tracerProvider })`. */
  readonly tracerProvider: TracerProvider | undefined;
  /** Flushes and stops the exporter. */
  shutdown(): Promise<void>;
}

/**
 * OpenTelemetry for a node process: on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, off otherwise. The SDK reads the standard OTEL_*
 * variables (protocol, headers, batch delays, service name). Called only where a node process is
 * assembled from its environment (the CLI).
 */
export const startTelemetry = (env: Record<string, string | undefined>, serviceName: string): Telemetry => {
  const endpoint = env["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"];
  if (endpoint === undefined || endpoint === "") return { tracerProvider: undefined, shutdown: async () => {} };
  const sdk = new NodeSDK({ serviceName: env["OTEL_SERVICE_NAME"] ?? serviceName, instrumentations: [] });
  sdk.start();
  return { tracerProvider: trace.getTracerProvider(), shutdown: () => sdk.shutdown() };
};

import { trace, type TracerProvider } from "@opentelemetry/api";
import { TetherError } from "../protocols/index.ts";

export interface Telemetry {
  /** Set when tracing is exported; pass it to `Node.create(…, { tracerProvider })`. */
  readonly tracerProvider: TracerProvider | undefined;
  /** Flushes and stops the exporter. */
  shutdown(): Promise<void>;
}

const SDK = "@opentelemetry/sdk-node";

/**
 * OpenTelemetry for a node process: on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, off otherwise. The SDK reads the standard OTEL_*
 * variables (protocol, headers, batch delays, service name).
 *
 * The SDK is an optional peer dependency of the package: the library depends on `@opentelemetry/api`
 * alone, and only this command loads the SDK, on demand, so an application that embeds Tether never
 * installs or imports it.
 */
export const startTelemetry = async (env: Record<string, string | undefined>, serviceName: string): Promise<Telemetry> => {
  const endpoint = env["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"];
  if (endpoint === undefined || endpoint === "") return { tracerProvider: undefined, shutdown: async () => {} };
  let sdkModule: typeof import("@opentelemetry/sdk-node");
  try {
    sdkModule = await import("@opentelemetry/sdk-node");
  } catch (cause) {
    throw new TetherError(
      "ERR_TELEMETRY_SDK_MISSING",
      `OTEL_EXPORTER_OTLP_ENDPOINT is set but ${SDK} cannot be loaded: install it next to tether-agents (npm install ${SDK}) or unset the variable`,
      { cause },
    );
  }
  const sdk = new sdkModule.NodeSDK({ serviceName: env["OTEL_SERVICE_NAME"] ?? serviceName, instrumentations: [] });
  sdk.start();
  return { tracerProvider: trace.getTracerProvider(), shutdown: () => sdk.shutdown() };
};

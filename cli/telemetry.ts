import { trace, type TracerProvider } from "@opentelemetry/api";
import { TetherError } from "../protocols/index.ts";

export interface Telemetry {
  /** Set when tracing is exported; pass it to `Node.create(…, { tracerProvider })`. */
  readonly tracerProvider: TracerProvider | undefined;
  /** Flushes and stops the exporter. */
  shutdown(): Promise<void>;
}

const SDK = "@opentelemetry/sdk-node";

/** True when the standard OTEL_* variables ask for traces to be exported anywhere. */
export const tracesRequested = (env: Record<string, string | undefined>): boolean => {
  if (env["OTEL_SDK_DISABLED"] === "true") return false;
  const exporters = (env["OTEL_TRACES_EXPORTER"] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "" && s !== "none");
  if (exporters.length > 0) return true;
  const endpoint = env["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"];
  return endpoint !== undefined && endpoint !== "";
};

/**
 * OpenTelemetry for a node process: on when `OTEL_TRACES_EXPORTER` names an exporter (`console`,
 * `otlp`, `zipkin`: the NodeSDK 0.223 reads it itself) or an OTLP endpoint is set, off otherwise.
 * The SDK reads the standard OTEL_* variables (exporter, protocol, headers, batch delays, service
 * name, `OTEL_PROPAGATORS`) and registers the global providers and propagator, which the node uses
 * by default.
 *
 * The SDK is an optional peer dependency of the package: the library depends on `@opentelemetry/api`
 * alone, and only this command loads the SDK, on demand, so an application that embeds Tether never
 * installs or imports it.
 */
export const startTelemetry = async (env: Record<string, string | undefined>, serviceName: string): Promise<Telemetry> => {
  if (!tracesRequested(env)) return { tracerProvider: undefined, shutdown: async () => {} };
  let sdkModule: typeof import("@opentelemetry/sdk-node");
  try {
    sdkModule = await import("@opentelemetry/sdk-node");
  } catch (cause) {
    throw new TetherError(
      "ERR_TELEMETRY_SDK_MISSING",
      `OTEL_TRACES_EXPORTER or OTEL_EXPORTER_OTLP_ENDPOINT is set but ${SDK} cannot be loaded: install it next to tether-agents (npm install ${SDK}) or unset the variables`,
      { cause },
    );
  }
  const sdk = new sdkModule.NodeSDK({ serviceName: env["OTEL_SERVICE_NAME"] ?? serviceName, instrumentations: [] });
  sdk.start();
  return { tracerProvider: trace.getTracerProvider(), shutdown: () => sdk.shutdown() };
};

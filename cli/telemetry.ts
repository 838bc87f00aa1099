import type { IncomingMessage, ServerResponse } from "node:http";
import { trace, type TracerProvider } from "@opentelemetry/api";
import { TetherError } from "../protocols/index.ts";

export interface Telemetry {
  /** Set when tracing is exported; pass it to `Node.create(…, { tracerProvider })`. */
  readonly tracerProvider: TracerProvider | undefined;
  /** Serves the Prometheus text format of every metric (set with `metricsPort`): mount it on `/metrics`. */
  readonly prometheus: ((request: IncomingMessage, response: ServerResponse) => void) | undefined;
  /** Notes for the operator (an exporter that cannot be combined with --metrics-port). */
  readonly warnings: readonly string[];
  /** Flushes and stops the exporters. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** Serve Prometheus metrics (the server itself is `cli/metrics-server.ts`). */
  readonly prometheus?: boolean;
}

const SDK = "@opentelemetry/sdk-node";
const PROMETHEUS = "@opentelemetry/exporter-prometheus";

const list = (value: string | undefined): string[] => (value ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");

/** True when the standard OTEL_* variables ask for traces to be exported anywhere. */
export const tracesRequested = (env: Record<string, string | undefined>): boolean => {
  if (env["OTEL_SDK_DISABLED"] === "true") return false;
  const exporters = list(env["OTEL_TRACES_EXPORTER"]).filter((s) => s !== "none");
  if (exporters.length > 0) return true;
  const endpoint = env["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"];
  return endpoint !== undefined && endpoint !== "";
};

/**
 * The metric exporters the standard OTEL_* variables ask for: `OTEL_METRICS_EXPORTER` (otlp, console,
 * prometheus; `none` turns metrics off), else `otlp` when an OTLP endpoint is set, else none.
 */
export const metricExportersRequested = (env: Record<string, string | undefined>): string[] => {
  if (env["OTEL_SDK_DISABLED"] === "true") return [];
  const named = list(env["OTEL_METRICS_EXPORTER"]);
  if (named.includes("none")) return [];
  if (named.length > 0) return [...new Set(named)];
  const endpoint = env["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? env["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"];
  return endpoint !== undefined && endpoint !== "" ? ["otlp"] : [];
};

const missing = (pkg: string, why: string, cause: unknown): TetherError =>
  new TetherError("ERR_TELEMETRY_SDK_MISSING", `${why} but ${pkg} cannot be loaded: install it next to tether-agents (npm install ${pkg}) or ${why.startsWith("--") ? "leave the option out" : "unset the variables"}`, { cause });

/**
 * OpenTelemetry for a node process, through the NodeSDK, which registers the global tracer and meter
 * providers and the propagator that the node uses by default. Each signal is on only when asked for:
 * - traces: `OTEL_TRACES_EXPORTER` names an exporter (`console`, `otlp`, `zipkin`) or an OTLP endpoint is set;
 * - metrics: `OTEL_METRICS_EXPORTER` names one (`otlp`, `console`, `prometheus`: the SDK reads it
 *   itself, with `OTEL_METRIC_EXPORT_INTERVAL`, and `prometheus` serves on the SDK's own port 9464), or
 *   an OTLP endpoint is set, or `prometheus` is true (`--metrics-port`): then a PrometheusExporter that
 *   starts no server of its own is the reader, and its handler is returned for the node's metrics
 *   server. `console` is added beside it; `otlp` cannot be (the NodeSDK builds its OTLP readers only
 *   when no reader is given) and is reported in `warnings`.
 * The SDK reads the other standard variables (protocol, headers, service name, `OTEL_PROPAGATORS`).
 *
 * The SDK and the Prometheus exporter are optional peer dependencies of the package: the library
 * depends on `@opentelemetry/api` alone, and only this command loads them, on demand, so an
 * application that embeds Tether never installs or imports them.
 */
export const startTelemetry = async (env: Record<string, string | undefined>, serviceName: string, options: TelemetryOptions = {}): Promise<Telemetry> => {
  const traces = tracesRequested(env);
  const metricExporters = metricExportersRequested(env);
  const prometheus = options.prometheus === true;
  if (prometheus && env["OTEL_SDK_DISABLED"] === "true") {
    throw new TetherError("ERR_CONFIG_INVALID", "--metrics-port needs the OpenTelemetry SDK, but OTEL_SDK_DISABLED=true turns it off");
  }
  if (!traces && metricExporters.length === 0 && !prometheus) return { tracerProvider: undefined, prometheus: undefined, warnings: [], shutdown: async () => {} };
  let sdkModule: typeof import("@opentelemetry/sdk-node");
  try {
    sdkModule = await import("@opentelemetry/sdk-node");
  } catch (cause) {
    throw missing(SDK, prometheus ? "--metrics-port is given" : "OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER or OTEL_EXPORTER_OTLP_ENDPOINT is set", cause);
  }
  const warnings: string[] = [];
  let handler: Telemetry["prometheus"];
  // no readers / span processors given: the SDK builds them from OTEL_* itself; [] keeps a signal off
  let metricReaders: InstanceType<typeof sdkModule.metrics.MetricReader>[] | undefined = metricExporters.length === 0 ? [] : undefined;
  if (prometheus) {
    let promModule: typeof import("@opentelemetry/exporter-prometheus");
    try {
      promModule = await import("@opentelemetry/exporter-prometheus");
    } catch (cause) {
      throw missing(PROMETHEUS, "--metrics-port is given", cause);
    }
    // one port for metrics and health: the exporter starts no server, the node's metrics server calls its handler
    const exporter = new promModule.PrometheusExporter({ preventServerStart: true });
    handler = (request, response) => exporter.getMetricsRequestHandler(request, response);
    metricReaders = [exporter];
    for (const name of metricExporters) {
      if (name === "console") {
        const interval = Number(env["OTEL_METRIC_EXPORT_INTERVAL"] ?? "");
        metricReaders.push(
          new sdkModule.metrics.PeriodicExportingMetricReader({
            exporter: new sdkModule.metrics.ConsoleMetricExporter(),
            ...(Number.isInteger(interval) && interval > 0 ? { exportIntervalMillis: interval } : {}),
          }),
        );
      } else if (name !== "prometheus") {
        warnings.push(`metrics exporter "${name}" (OTEL_METRICS_EXPORTER or an OTLP endpoint) is not started with --metrics-port: Prometheus is served instead`);
      }
    }
  }
  const sdk = new sdkModule.NodeSDK({
    serviceName: env["OTEL_SERVICE_NAME"] ?? serviceName,
    instrumentations: [],
    ...(traces ? {} : { spanProcessors: [] }),
    ...(metricReaders === undefined ? {} : { metricReaders }),
  });
  sdk.start();
  return { tracerProvider: traces ? trace.getTracerProvider() : undefined, prometheus: handler, warnings, shutdown: () => sdk.shutdown() };
};

import { metrics } from "@opentelemetry/api";
import { DataPointType, MeterProvider, MetricReader, type MetricData } from "@opentelemetry/sdk-metrics";

/** A pull reader: `collect()` on demand, nothing exported in the background. */
class PullReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** One data point, flattened: its attributes and a number (a sum, a gauge value, or a histogram's count and sum). */
export interface Point {
  readonly attributes: Record<string, unknown>;
  readonly value: number;
  readonly count?: number;
  readonly sum?: number;
}

/** A real SDK MeterProvider with an in-memory pull reader (as an application's SDK setup would register). */
export class TestMeters {
  readonly reader = new PullReader();
  readonly provider = new MeterProvider({ readers: [this.reader] });

  /** Registers the provider as the GLOBAL one (what the NodeSDK does); `dispose` removes it again. */
  registerGlobal(): this {
    metrics.setGlobalMeterProvider(this.provider);
    return this;
  }

  /** Collects now: every metric by name, with its points. */
  async collect(): Promise<Map<string, Point[]>> {
    const { resourceMetrics, errors } = await this.reader.collect();
    if (errors.length > 0) throw new Error(`metric collection failed: ${errors.map(String).join("; ")}`);
    const out = new Map<string, Point[]>();
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) out.set(metric.descriptor.name, [...(out.get(metric.descriptor.name) ?? []), ...points(metric)]);
    }
    return out;
  }

  /** Sum of the values of `name`'s points whose attributes include `match`. */
  async total(name: string, match: Record<string, unknown> = {}): Promise<number> {
    return sumOf((await this.collect()).get(name) ?? [], match);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    metrics.disable();
    await this.provider.shutdown();
  }
}

export const matching = (list: readonly Point[], match: Record<string, unknown>): Point[] =>
  list.filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v));

export const sumOf = (list: readonly Point[], match: Record<string, unknown> = {}): number => matching(list, match).reduce((n, p) => n + p.value, 0);

const points = (metric: MetricData): Point[] => {
  if (metric.dataPointType === DataPointType.HISTOGRAM) {
    return metric.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value.count, count: p.value.count, sum: p.value.sum ?? 0 }));
  }
  if (metric.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM) {
    return metric.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value.count, count: p.value.count, sum: p.value.sum ?? 0 }));
  }
  return metric.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value }));
};

import { createServer, type Server } from "node:http";
import { describe, expect, it } from "vitest";
import { tracing } from "@opentelemetry/sdk-node";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { Counter } from "../support/actors.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";
import { TetherProcess } from "../support/processes.ts";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string | undefined;
  name: string;
  attributes?: { key: string; value: { stringValue?: string } }[];
  actorId?: string | undefined;
}

/** A minimal OTLP/HTTP JSON trace receiver on loopback, collecting every span it is sent. */
const startOtlpReceiver = async (): Promise<{ url: string; spans: OtlpSpan[]; server: Server }> => {
  const spans: OtlpSpan[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      try {
        const parsed = JSON.parse(body) as { resourceSpans?: { scopeSpans?: { spans?: OtlpSpan[] }[] }[] };
        for (const rs of parsed.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
      } catch {
        /* not JSON: ignore */
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, spans, server };
};

describe("trace continuity", () => {
  it("follows one traceId across two OS processes with correct parent/child links", async () => {
    await using server = await startServer();
    const receiver = await startOtlpReceiver();
    try {
      const exporter = new tracing.InMemorySpanExporter();
      const provider = new tracing.BasicTracerProvider({ spanProcessors: [new tracing.SimpleSpanProcessor(exporter)] });
      await using local = await startNode(server.url, {}, { tracerProvider: provider, propagator: new W3CTraceContextPropagator() });
      await local.spawn("sink", Counter);
      await using child = new TetherProcess(["node", "start", "--nats", server.url, "--node-id", "traced", "--agents", "test/fixtures/agents.ts"], {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_BSP_SCHEDULE_DELAY: "100",
        OTEL_SERVICE_NAME: "tether-child",
      });
      await child.waitFor(/node traced up/);

      // parent process → relay (child process) → sink (parent process)
      expect(await local.ref<typeof Counter>("relay").ask({ type: "forward", to: "sink", n: 2 })).toBe(2);

      child.child.kill("SIGTERM"); // the child flushes its spans on shutdown
      expect(await child.exited).toBe(0);
      await eventually(() => receiver.spans.some((s) => s.name === "send tether.actor"), 10_000, "child spans");

      const mine = exporter.getFinishedSpans().map((s) => ({
        name: s.name,
        traceId: s.spanContext().traceId,
        spanId: s.spanContext().spanId,
        parentSpanId: s.parentSpanContext?.spanId,
        actorId: s.attributes["tether.actor.id"] as string | undefined,
      }));
      const actorOf = (s: OtlpSpan) => s.actorId ?? s.attributes?.find((a) => a.key === "tether.actor.id")?.value.stringValue;
      const all = [...mine, ...receiver.spans];
      // low-cardinality span names (messaging semantic conventions); the actor is an attribute
      const byName = (name: string, actor: string) => {
        const found = all.filter((s) => s.name === name && actorOf(s) === actor);
        expect(found, `${name} ${actor}`).toHaveLength(1);
        return found[0] as OtlpSpan;
      };
      const sendRelay = byName("send tether.actor", "relay"); // parent
      const receiveRelay = byName("receive tether.actor", "relay"); // child
      const handleRelay = byName("process tether.actor", "relay"); // child
      const sendSink = byName("send tether.actor", "sink"); // child
      const receiveSink = byName("receive tether.actor", "sink"); // parent
      const handleSink = byName("process tether.actor", "sink"); // parent
      const chain = [sendRelay, receiveRelay, handleRelay, sendSink, receiveSink, handleSink];
      expect(new Set(chain.map((s) => s.traceId)).size).toBe(1);
      expect(sendRelay.parentSpanId ?? "").toBe("");
      expect(receiveRelay.parentSpanId).toBe(sendRelay.spanId);
      expect(handleRelay.parentSpanId).toBe(receiveRelay.spanId);
      expect(sendSink.parentSpanId).toBe(handleRelay.spanId);
      expect(receiveSink.parentSpanId).toBe(sendSink.spanId);
      expect(handleSink.parentSpanId).toBe(receiveSink.spanId);
      expect(receiver.spans.map((s) => `${s.name} ${actorOf(s)}`)).toEqual(
        expect.arrayContaining(["receive tether.actor relay", "process tether.actor relay", "send tether.actor sink"]),
      );
    } finally {
      await new Promise((r) => receiver.server.close(() => r(undefined)));
    }
  });

  it("prints spans with OTEL_TRACES_EXPORTER=console alone", async () => {
    await using server = await startServer();
    await using local = await startNode(server.url);
    await using child = new TetherProcess(["node", "start", "--nats", server.url, "--node-id", "consoled", "--agents", "test/fixtures/agents.ts"], {
      OTEL_TRACES_EXPORTER: "console",
      OTEL_BSP_SCHEDULE_DELAY: "100",
    });
    await child.waitFor(/node consoled up/);
    await local.ref<typeof Counter>("relay").ask({ type: "forward", to: "relay-target-missing", n: 1 }).catch(() => undefined);
    await child.waitFor(/name: 'receive tether\.actor'/, 10_000);
    child.child.kill("SIGTERM");
    expect(await child.exited).toBe(0);
  });
});

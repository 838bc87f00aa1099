import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { context, propagation, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { z } from "zod";
import { Actor } from "../../actors/index.ts";
import { Supervisor, constantBackoff, defineSupervisor } from "../../supervisors/index.ts";
import { Counter } from "../support/actors.ts";
import { eventually } from "../support/nats.ts";
import type { ActorContext } from "../../runtime/index.ts";
import { startNode, startServer } from "../support/nats.ts";

const Msg = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("relay"), to: z.string() }),
  z.strictObject({ type: z.literal("work") }),
]);
type Msg = z.infer<typeof Msg>;

/** Relays to another actor inside ctx.act; the receiving end answers with the baggage it sees. */
class Relay extends Actor<Msg, string> {
  static override readonly protocol = Msg;
  async handle(msg: Msg, ctx: ActorContext): Promise<string> {
    switch (msg.type) {
      case "relay":
        return ctx.act("relay", { to: msg.to }, () => ctx.ref<typeof Relay>(msg.to).ask({ type: "work" }));
      case "work":
        return propagation.getBaggage(context.active())?.getEntry("tenant")?.value ?? "";
    }
  }
}

describe("OpenTelemetry through the global providers", () => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  // what an application's standard SDK setup does: global tracer provider, context manager, W3C propagators
  beforeAll(() => provider.register());
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it("records send/receive/process/act spans with no Tether wiring, one trace id across an ask, and carries baggage", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url);
    await using b = await startNode(server.url);
    await a.spawn("relay", Relay);
    await b.spawn("worker", Relay);

    const baggage = propagation.createBaggage({ tenant: { value: "acme" } });
    const tracer = trace.getTracer("app");
    const answer = await tracer.startActiveSpan("app request", (root) =>
      context.with(propagation.setBaggage(context.active(), baggage), async () => {
        try {
          return await b.ref<typeof Relay>("relay").ask({ type: "relay", to: "worker" });
        } finally {
          root.end();
        }
      }),
    );
    expect(answer).toBe("acme"); // baggage crossed two NATS hops

    const spans = exporter.getFinishedSpans();
    const names = spans.map((s) => `${s.name} ${String(s.attributes["tether.actor.id"] ?? "")}`);
    expect(names).toEqual(
      expect.arrayContaining([
        "send tether.actor relay",
        "receive tether.actor relay",
        "process tether.actor relay",
        "act relay relay",
        "send tether.actor worker",
        "receive tether.actor worker",
        "process tether.actor worker",
      ]),
    );
    const root = spans.find((s) => s.name === "app request");
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([root?.spanContext().traceId]));
    const act = spans.find((s) => s.name === "act relay");
    expect(act?.attributes["tether.ect.jti"]).toEqual(expect.any(String));
    const sendWorker = spans.find((s) => s.name === "send tether.actor" && s.attributes["tether.actor.id"] === "worker");
    const processRelay = spans.find((s) => s.name === "process tether.actor" && s.attributes["tether.actor.id"] === "relay");
    expect(act?.parentSpanContext?.spanId).toBe(processRelay?.spanContext().spanId);
    // a ref carries its handler's context (the process span), so the send is the act span's sibling
    expect(sendWorker?.parentSpanContext?.spanId).toBe(processRelay?.spanContext().spanId);
    expect(sendWorker?.attributes).toMatchObject({
      "messaging.system": "nats",
      "messaging.operation.name": "send",
      "messaging.operation.type": "send",
      "messaging.destination.name": "tether.actor",
      "server.address": expect.any(String),
      "server.port": expect.any(Number),
      "messaging.message.id": expect.any(String),
    });
  });

  it("records a span for a supervisor's restart and for a rollback", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    exporter.reset();
    await using sup = await Supervisor.start(
      node,
      defineSupervisor({ id: "traced-tree", backoff: constantBackoff({ delayMs: 5 }), children: [{ id: "traced-child", start: () => new Counter() }] }),
    );
    await node.ref<typeof Counter>("traced-child").ask({ type: "fail", reason: "boom" }).catch(() => undefined);
    await eventually(() => sup.restarts === 1, 10_000, "the restart");
    await eventually(() => exporter.getFinishedSpans().some((s) => s.name === "supervisor restart"), 5_000, "the restart span");
    const restart = exporter.getFinishedSpans().find((s) => s.name === "supervisor restart");
    expect(restart?.attributes["tether.supervisor.id"]).toBe("traced-tree");
    expect(restart?.attributes["tether.supervisor.children"]).toBe("traced-child");

    const report = await node.rollback({ workflow: "00000000-0000-4000-8000-000000000001" }).catch((e: unknown) => e);
    expect(report).toBeDefined();
    const rollback = exporter.getFinishedSpans().find((s) => s.name === "rollback");
    expect(rollback?.attributes["tether.workflow.id"]).toBe("00000000-0000-4000-8000-000000000001");
  });
});

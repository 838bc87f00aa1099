/**
 * A Moleculer 0.15 child of the peers suite, over the same nats-server as Tether: the service is a
 * broker with the `echo` service (action `ping` returns the sequence number, event `bench.ping` is
 * counted); the caller is a broker that calls `echo.ping` and emits `bench.ping`. JSON serializer
 * (Moleculer's fastest mode on this machine; its NATS transporter uses the `nats` v2 client, a dev
 * dependency used only here). JSON has no bytes type, so the payload travels as base64 text.
 */
import { ServiceBroker, type Context } from "moleculer";
import type { ChildConfig } from "./child-control.ts";
import { runPeerChild } from "./peer-child.ts";

interface MoleculerPing {
  readonly seq: number;
  readonly payload: string;
}

const EVENT = "bench.ping";

let broker: ServiceBroker | undefined;

const createBroker = (config: ChildConfig): ServiceBroker => {
  broker = new ServiceBroker({
    namespace: config.network,
    nodeID: `${config.role ?? "service"}-${process.pid}`,
    transporter: { type: "NATS", options: { url: config.server } },
    serializer: "JSON",
    // warn and above go to console.warn / console.error (stderr): stdout is the control channel
    logger: { type: "Console", options: { level: "warn", colors: false } },
    metrics: false,
    tracing: false,
  });
  return broker;
};

await runPeerChild({
  serve: async (config, counter) => {
    const b = createBroker(config);
    b.createService({
      name: "echo",
      actions: { ping: (ctx: Context<MoleculerPing>) => ctx.params.seq },
      events: { [EVENT]: () => counter.hit() },
    });
    await b.start();
  },
  connectCaller: async (config, bytes) => {
    const b = createBroker(config);
    await b.start();
    await b.waitForServices(["echo"], 10_000);
    const payload = Buffer.from(bytes).toString("base64");
    return {
      ask: (seq) => b.call("echo.ping", { seq, payload } satisfies MoleculerPing),
      tell: (seq) => void b.emit(EVENT, { seq, payload } satisfies MoleculerPing),
    };
  },
  close: async () => {
    await broker?.stop();
  },
});

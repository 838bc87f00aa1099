/**
 * A Tether child of the peers suite: the service is a node hosting the `Echo` and `Sink` actors; the
 * caller is a node that asks `Echo` and tells `Sink`, through `ActorRef`s only.
 */
import { Node, createStderrLogger, type ActorRef } from "../runtime/index.ts";
import { Echo, Sink, type Ping } from "./bench-actors.ts";
import { BenchAddresses, type ChildConfig } from "./child-control.ts";
import { runPeerChild } from "./peer-child.ts";

let node: Node | undefined;

const createNode = async (config: ChildConfig): Promise<Node> => {
  const role = config.role ?? "service";
  node = await Node.create(
    { nodeId: `${role}-${process.pid}`, network: config.network, servers: [config.server] },
    { logger: createStderrLogger("warn", { role }) },
  );
  return node;
};

await runPeerChild({
  serve: async (config, counter) => {
    const n = await createNode(config);
    await n.spawn(BenchAddresses.echoActor, Echo);
    await n.spawn(BenchAddresses.sinkActor, Sink, { args: [counter] });
  },
  connectCaller: async (config, payload) => {
    const n = await createNode(config);
    let undeliverable = 0;
    n.onEvent((event) => {
      if (event.type === "undeliverable" && ++undeliverable === 1) process.stderr.write("[tether-caller] a tell was undeliverable (mailbox full?)\n");
    });
    const echo: ActorRef<Ping, number> = n.ref<typeof Echo>(BenchAddresses.echoActor);
    const sink: ActorRef<Ping, void> = n.ref<typeof Sink>(BenchAddresses.sinkActor);
    await echo.ask({ type: "ping", seq: 0, payload }); // the service answers: its actors are registered
    return {
      ask: (seq) => echo.ask({ type: "ping", seq, payload }),
      tell: (seq) => sink.tell({ type: "ping", seq, payload }),
    };
  },
  close: async () => {
    await node?.close();
  },
});

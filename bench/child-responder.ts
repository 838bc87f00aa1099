/**
 * The answering side of the ask benchmark, in its own OS process. `raw`: one subscription that
 * replies to each request's reply subject (`msg.respond`). `tether`: a node hosting the `Echo` actor.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pack, unpack } from "msgpackr";
import { Node, createStderrLogger, credentialsAuthenticator } from "../runtime/index.ts";
import { Echo } from "./bench-actors.ts";
import { BenchAddresses, openChildChannel } from "./child-control.ts";

let nc: NatsConnection | undefined;
let node: Node | undefined;

const channel = openChildChannel(
  (command) => {
    channel.emit({ type: "failed", message: `responder does not handle ${command.type}` });
  },
  async () => {
    await node?.close();
    await nc?.drain();
  },
);

const { config } = channel;
try {
  if (config.mode === "raw") {
    nc = await connect({ servers: [config.server], name: "bench-raw-responder", ...(config.credentials === undefined ? {} : { authenticator: credentialsAuthenticator(config.credentials) }) });
    nc.subscribe(BenchAddresses.rawEcho, {
      callback: (_err, msg) => {
        const request = unpack(msg.data) as { seq: number };
        msg.respond(pack(request.seq));
      },
    });
    await nc.flush();
  } else {
    node = await Node.create(
      {
        nodeId: `responder-${process.pid}`,
        network: config.network,
        servers: [config.server],
        ...(config.credentials === undefined ? {} : { credentials: config.credentials }),
        ...(config.mailboxCapacity === undefined ? {} : { mailboxCapacity: config.mailboxCapacity }),
      },
      { logger: createStderrLogger("warn", { role: "responder" }) },
    );
    await node.spawn(BenchAddresses.echoActor, Echo);
  }
  channel.emit({ type: "ready", pid: process.pid });
} catch (error) {
  channel.emit({ type: "failed", message: String(error) });
  await channel.close(1);
}

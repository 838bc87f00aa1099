/**
 * The receiving side of the tell benchmark, in its own OS process. `raw`: one plain subscription that
 * decodes each msgpack body. `tether`: a node hosting the `Sink` actor. Either way it counts messages
 * and reports (over the control channel) when the armed number has arrived.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { unpack } from "msgpackr";
import { Node, createStderrLogger, credentialsAuthenticator } from "../runtime/index.ts";
import { MessageCounter, Sink } from "./bench-actors.ts";
import { BenchAddresses, answerCounterCommand, openChildChannel } from "./child-control.ts";

const counter = new MessageCounter();
let nc: NatsConnection | undefined;
let node: Node | undefined;

const channel = openChildChannel(
  (command) => {
    if (!answerCounterCommand(command, counter, channel.emit)) {
      channel.emit({ type: "failed", message: `receiver does not handle ${command.type}` });
    }
  },
  async () => {
    await node?.close();
    await nc?.drain();
  },
);

const { config } = channel;
try {
  if (config.mode === "raw") {
    nc = await connect({ servers: [config.server], name: "bench-raw-receiver", ...(config.credentials === undefined ? {} : { authenticator: credentialsAuthenticator(config.credentials) }) });
    nc.subscribe(BenchAddresses.rawTell, {
      callback: (_err, msg) => {
        unpack(msg.data);
        counter.hit();
      },
    });
    await nc.flush();
  } else {
    node = await Node.create(
      {
        nodeId: `receiver-${process.pid}`,
        network: config.network,
        servers: [config.server],
        ...(config.credentials === undefined ? {} : { credentials: config.credentials }),
        ...(config.mailboxCapacity === undefined ? {} : { mailboxCapacity: config.mailboxCapacity }),
        ...(config.tlsCaFile === undefined ? {} : { tls: { caFile: config.tlsCaFile } }),
      },
      { logger: createStderrLogger("warn", { role: "receiver" }) },
    );
    await node.spawn(BenchAddresses.sinkActor, Sink, { args: [counter] });
  }
  channel.emit({ type: "ready", pid: process.pid });
} catch (error) {
  channel.emit({ type: "failed", message: String(error) });
  await channel.close(1);
}

import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { DeadLetterRecord, decodeBody, networkSubjects } from "../../protocols/index.ts";
import { NatsCluster, NatsServer, Node, silentLogger, type NodeDeps, type NodeOptionsInput } from "../../runtime/index.ts";

/**
 * The one helper tests use to get real NATS servers: each on a free loopback port, each stopped by
 * `await using` (also when the test fails), so no test leaves a server running.
 */
export const startServer = (): Promise<NatsServer> => NatsServer.start({ name: "test" });

/** A 3-node JetStream cluster started from the repository's `nats.conf` template. */
export const startCluster = (): Promise<NatsCluster> => NatsCluster.start({ size: 3 });

let counter = 0;

/** A node on the given server(s), quiet unless a test passes its own logger. */
export const startNode = (servers: string | string[], options: NodeOptionsInput = {}, deps: NodeDeps = {}): Promise<Node> =>
  Node.create(
    { nodeId: `t${process.pid}-${++counter}`, servers: Array.isArray(servers) ? servers : [servers], ...options },
    { logger: silentLogger, ...deps },
  );

/** Polls `check` until it returns true or `timeoutMs` passes. */
export const eventually = async (check: () => boolean | Promise<boolean>, timeoutMs = 5_000, what: string | (() => string) = "condition"): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** Reads every dead-letter record of a network from its JetStream stream (decoded and validated). */
export const readDeadLetters = async (url: string, network = "default"): Promise<DeadLetterRecord[]> => {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const name = networkSubjects(network).deadLetterStream();
    const info = await jsm.streams.info(name);
    const out: DeadLetterRecord[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(name, { seq }).catch(() => null);
      if (m !== null) out.push(DeadLetterRecord.parse(decodeBody(m.data)));
    }
    return out;
  } finally {
    await nc.close();
  }
};

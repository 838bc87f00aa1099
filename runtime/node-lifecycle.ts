import { nuid } from "@nats-io/transport-node";
import { TetherError, assertToken, networkSubjects } from "../protocols/index.ts";
import { NatsServer } from "./embedded/nats-server.ts";
import { NodeCore } from "./node-core.ts";
import { resolveNodeOptions, type NodeOptionsInput } from "./node-options.ts";
import { DeadLetters } from "./stores/dead-letters.ts";
import { DurableLane } from "./stores/durable-lane.ts";
import { Registry } from "./stores/registry.ts";
import { StateStore } from "./stores/state-store.ts";
import { systemClock, type TimerHandle } from "./support/clock.ts";
import { createStderrLogger } from "./support/logger.ts";
import { plaintextWarning } from "./support/nats-tls.ts";
import { TetherMetrics } from "./telemetry/metrics.ts";
import { Tracing } from "./telemetry/tracing.ts";
import { assemble, connectNats, type NodeDeps, type Rooms } from "./node-assembly.ts";

/*
 * A node's life outside its API: boot (connect or start an embedded nats-server, open the stores,
 * register the lease, assemble the rooms), start (replies, control plane, heartbeat) and shut down.
 * `Node` (node.ts) only exposes the rooms.
 */

/** Connects (or starts an embedded `nats-server` when `servers` is empty), opens the stores, registers the node lease and assembles the rooms. */
export const bootRooms = async (input: NodeOptionsInput, deps: NodeDeps): Promise<Rooms> => {
  const resolved = resolveNodeOptions(input);
  const nodeId = resolved.nodeId ?? `node-${nuid.next().slice(-10)}`;
  assertToken("node id", nodeId);
  const options = { ...resolved, nodeId };
  const logger = deps.logger ?? createStderrLogger("warn", { node: nodeId });
  const clock = deps.clock ?? systemClock;
  const subjects = networkSubjects(options.network);
  const server =
    options.servers.length === 0
      ? await NatsServer.start({ name: `embedded-${nodeId}`, ...(deps.natsServerBinary === undefined ? {} : { binary: deps.natsServerBinary }) })
      : undefined;
  const nc = await connectNats(options, nodeId, server);
  const plaintext = plaintextWarning(nc.getServer(), nc.info);
  if (plaintext !== undefined) logger.warn(plaintext);
  let registry: Registry | undefined;
  try {
    const replicas = options.jetstreamReplicas;
    const mb = (n: number) => n * 1024 * 1024;
    const budget = options.storage;
    registry = await Registry.open(nc, subjects, { replicas, clock, maxBytes: mb(budget.registryMb) });
    const deadLetters = await DeadLetters.open(nc, subjects, { replicas, maxAgeMs: options.deadLetterMaxAgeMs, maxBytes: mb(budget.deadLettersMb), logger });
    const states = await StateStore.open(nc, subjects, { replicas, maxBytes: mb(budget.stateMb) });
    const lane = await DurableLane.open(nc, subjects, { replicas, maxBytes: mb(budget.durableMb) }, logger);
    const record = await registry.registerNode(nodeId, options.network, options.leaseTtlMs);
    const core = new NodeCore({ id: nodeId, options, subjects, nc, clock, logger, random: deps.random ?? Math.random, tracing: new Tracing(deps.tracerProvider, options.network, deps.propagator, serverAddress(nc.getServer())), metrics: new TetherMetrics(deps.meterProvider, { network: options.network, node: nodeId }) });
    return await assemble(core, server, registry, deadLetters, states, lane, record, deps);
  } catch (error) {
    if (registry !== undefined) await registry.removeNode(nodeId).catch(() => undefined);
    await nc.close().catch(() => undefined);
    await server?.stop();
    throw error;
  }
};

/** Starts listening (replies, control plane) and the lease heartbeat; returns the heartbeat's timer. */
export const startRooms = (rooms: Rooms): TimerHandle => {
  const { core, replies, control, lease, failover } = rooms;
  replies.listen();
  control.listen();
  const heartbeat = core.clock.setInterval(() => {
    if (!core.running) return;
    void lease.beat().then((ok) => {
      if (ok) failover.trigger();
    });
  }, core.options.heartbeatMs);
  heartbeat.unref?.();
  void (async () => {
    for await (const status of core.nc.status()) {
      core.emit({ type: "transport", status: status.type, detail: JSON.stringify(status).slice(0, 512) });
    }
  })();
  return heartbeat;
};

/** Graceful shutdown (see `Node.close`). */
export const shutDownRooms = async (rooms: Rooms, heartbeat: TimerHandle | undefined): Promise<void> => {
  const { core, host, directory, lease, sink, assurance, replies, flow, server, overrides, governance } = rooms;
  overrides.close();
  core.state = "stopping";
  core.emit({ type: "node-stopping", nodeId: core.id });
  if (heartbeat !== undefined) core.clock.clearInterval(heartbeat);
  try {
    await host.stop([...directory.cells.values()]);
    await overrides.flushEvidence(core.options.shutdownTimeoutMs);
    flow.close(); // last credits out, waiting senders released (their next tell fails with ERR_NODE_STOPPED)
    await lease.remove().catch((error: unknown) => core.logger.warn("removing node lease failed", { error }));
    await sink.flush();
    await assurance.release();
    governance.close();
    assurance.close();
    replies.pending.rejectAll(new TetherError("ERR_NODE_STOPPED", `node ${core.id} stopped`));
    await core.nc.drain().catch(() => core.nc.close());
  } finally {
    core.state = "stopped";
    core.metrics.close();
    await server?.stop();
    core.emit({ type: "node-stopped", nodeId: core.id });
  }
};

/** `server.address`/`server.port` span attributes from nats.js's "host:port" of the connected server. */
const serverAddress = (hostPort: string): { address?: string; port?: number } => {
  const i = hostPort.lastIndexOf(":");
  if (i <= 0) return hostPort === "" ? {} : { address: hostPort };
  const port = Number(hostPort.slice(i + 1));
  return Number.isInteger(port) ? { address: hostPort.slice(0, i).replace(/^\[|\]$/g, ""), port } : { address: hostPort };
};

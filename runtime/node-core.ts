import type { NatsConnection } from "@nats-io/transport-node";
import { TetherError, type NetworkSubjects } from "../protocols/index.ts";
import type { NodeEvent, NodeEventListener } from "./node-events.ts";
import type { NodeOptionsResolved } from "./node-options.ts";
import type { Clock } from "./support/clock.ts";
import type { Logger } from "./support/logger.ts";
import type { TetherMetrics } from "./telemetry/metrics.ts";
import type { Tracing } from "./telemetry/tracing.ts";

export type NodeState = "running" | "stopping" | "stopped";

/**
 * What every room of a node shares: identity, compiled options, the connection, time, logging,
 * tracing, metrics and the event stream. One per node, passed explicitly to each room (no globals).
 */
export class NodeCore {
  readonly id: string;
  readonly network: string;
  /** The sender address of messages the node itself sends (`node:<id>`). */
  readonly self: string;
  readonly options: NodeOptionsResolved;
  readonly subjects: NetworkSubjects;
  readonly nc: NatsConnection;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly random: () => number;
  readonly tracing: Tracing;
  /** Tether's OpenTelemetry instruments (no-op without an SDK). */
  readonly metrics: TetherMetrics;
  state: NodeState = "running";
  readonly #listeners = new Set<NodeEventListener>();

  constructor(p: {
    id: string;
    options: NodeOptionsResolved;
    subjects: NetworkSubjects;
    nc: NatsConnection;
    clock: Clock;
    logger: Logger;
    random: () => number;
    tracing: Tracing;
    metrics: TetherMetrics;
  }) {
    this.id = p.id;
    this.network = p.options.network;
    this.self = `node:${p.id}`;
    this.options = p.options;
    this.subjects = p.subjects;
    this.nc = p.nc;
    this.clock = p.clock;
    this.logger = p.logger;
    this.random = p.random;
    this.tracing = p.tracing;
    this.metrics = p.metrics;
  }

  get running(): boolean {
    return this.state === "running";
  }

  assertRunning(): void {
    if (this.state !== "running") throw new TetherError("ERR_NODE_STOPPED", `node ${this.id} is ${this.state}`);
  }

  onEvent(listener: NodeEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: NodeEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error("event listener threw", { error });
      }
    }
  }
}

import type { ActorClass } from "../runtime/index.ts";

/** One agent a node hosts: the actor class, its id, and its constructor arguments. */
export interface AgentSpec<C extends ActorClass = ActorClass> {
  readonly id: string;
  readonly actor: C;
  readonly args?: ConstructorParameters<C>;
  readonly capabilities?: readonly string[];
  readonly mailboxCapacity?: number;
  /** Consume the actor's at-least-once lane (`ref.send`), resuming from its checkpoint. */
  readonly durable?: boolean;
}

/**
 * The list of agents a module exports for `tether node start --agents <module>`:
 * `export default defineAgents([{ id: "triage", actor: Triage }])`.
 * A function receives the node id, so one module can place different agents on different nodes.
 */
export type AgentList = readonly AgentSpec[] | ((node: { readonly nodeId: string; readonly network: string }) => readonly AgentSpec[]);

export const defineAgents = <const L extends AgentList>(agents: L): L => agents;

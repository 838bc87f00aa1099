import type { NatsConnection } from "@nats-io/transport-node";
import { TetherError, assertToken, encodeBody, isLeaseAlive, networkSubjects } from "../../protocols/index.ts";
import { answerOf } from "../messaging/wire-errors.ts";
import { Registry } from "../stores/registry.ts";
import { systemClock } from "../support/clock.ts";
import type { NodeRequest } from "./control-plane.ts";
import type { ControlSigner } from "./control-signer.ts";

/**
 * Signs a control request and sends it to a node's control subject over any NATS connection (a node's,
 * or a tool's such as the CLI's), waiting for the answer. A refusal rejects with the node's error
 * (ERR_CONTROL_FORBIDDEN, …), silence with ERR_NODE_UNREACHABLE. Resolves with the answer's body.
 */
export const sendControl = async (nc: NatsConnection, signer: ControlSigner, nodeId: string, request: NodeRequest, timeoutMs: number): Promise<unknown> => {
  assertToken("node id", nodeId);
  const envelope = await signer.sign(request, nodeId);
  const subject = networkSubjects(signer.network).node(nodeId);
  const reply = await nc.request(subject, encodeBody(envelope), { timeout: timeoutMs }).catch((cause: unknown) => {
    throw new TetherError("ERR_NODE_UNREACHABLE", `node ${nodeId} did not answer: ${String(cause)}`, { cause, details: { nodeId } });
  });
  return answerOf(reply.data);
};

/** A live node of the network (from the registry), for tools that need one to apply and record control. */
export const findLiveNode = async (nc: NatsConnection, network: string): Promise<string> => {
  const registry = await Registry.open(nc, networkSubjects(network), { replicas: 1, clock: systemClock });
  const now = systemClock.now();
  const live = (await registry.listNodes()).filter((n) => isLeaseAlive(n, now));
  const first = live[0];
  if (first === undefined) throw new TetherError("ERR_NODE_UNREACHABLE", `no live node in network ${network} to apply and record this`);
  return first.nodeId;
};

import { defineAgents } from "../actors/index.ts";
import { OrderBook } from "./failover-actor.ts";

/** Each victim node hosts its own durable service, `svc-<nodeId>`, so every round fails over a fresh actor. */
export default defineAgents((node) => [{ id: `svc-${node.nodeId}`, actor: OrderBook, durable: true }]);

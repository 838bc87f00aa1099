import type { Msg } from "@nats-io/transport-node";
import { HoldingQuery, decodeBody, encodeBody, type HoldingReply } from "../../protocols/index.ts";
import type { Logger } from "../support/logger.ts";
import type { HeldOverride } from "./override-apply.ts";

/**
 * A node's answer to a new override actor's holding query (after the override actor failed over):
 * for each override asked about, the local actors it was applied to. The new owner counts them as
 * acknowledged (they did acknowledge, to the previous owner) before it re-arms the deadlines. Answers
 * go to the query's reply subject only; a malformed query is ignored.
 */
export const answerHolding = (msg: Msg, held: ReadonlyMap<string, HeldOverride>, nodeId: string, logger: Logger): void => {
  if (!msg.reply) return;
  let query: HoldingQuery;
  try {
    query = HoldingQuery.parse(decodeBody(msg.data));
  } catch {
    return;
  }
  const reply: HoldingReply = { type: "tether.override.v1.holding", nodeId, held: {} };
  for (const id of query.ids) {
    const h = held.get(id);
    if (h !== undefined && h.applied.size > 0) reply.held[id] = [...h.applied];
  }
  try {
    msg.respond(encodeBody(reply));
  } catch (error) {
    logger.warn("override holding reply not sent", { error });
  }
};

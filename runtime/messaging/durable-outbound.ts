import { headers as natsHeaders, nuid } from "@nats-io/transport-node";
import { HeaderNames, TetherError, encodeBody, messageTypeOf } from "../../protocols/index.ts";
import { outgoingToken, type ExecutionScope } from "../actor/execution-scope.ts";
import type { NodeCore } from "../node-core.ts";
import type { DurableLane } from "../stores/durable-lane.ts";
import { tooLarge } from "./wire-errors.ts";
import { isSafeHeaderValue } from "./wire-headers.ts";
/** Stores a message for `target` in the durable lane (JetStream); resolves once it is acknowledged (deduplicated by id). */
export const publishDurable = async (
  core: NodeCore,
  lane: DurableLane,
  target: string,
  msg: unknown,
  from: string,
  scope: ExecutionScope | undefined,
  idOption: string | undefined,
): Promise<{ id: string; duplicate: boolean }> => {
    core.assertRunning();
    if (idOption !== undefined && (typeof idOption !== "string" || idOption.length === 0 || idOption.length > 128 || !isSafeHeaderValue(idOption))) {
      throw new TetherError("ERR_MESSAGE_INVALID", "send: id must be 1-128 printable ASCII characters");
    }
    const id = idOption ?? nuid.next();
    let data: Uint8Array;
    try {
      data = encodeBody(msg);
    } catch (cause) {
      throw new TetherError("ERR_MESSAGE_INVALID", `message to ${target} cannot be encoded: ${String(cause)}`, { cause });
    }
    if (data.length > core.options.maxPayloadBytes) throw tooLarge(target, data.length, core.options.maxPayloadBytes);
    const messageType = messageTypeOf(msg);
    // JetStream publish adds its own headers (Nats-Msg-Id), so this lane uses the client's MsgHdrs
    const h = natsHeaders();
    h.set(HeaderNames.kind, "tell");
    h.set(HeaderNames.id, id);
    h.set(HeaderNames.from, from);
    if (messageType !== undefined && isSafeHeaderValue(messageType)) h.set(HeaderNames.type, messageType);
    const ect = outgoingToken(scope);
    if (ect !== undefined && ect.token !== "") h.set(HeaderNames.executionContext, ect.token);
    const { duplicate } = await lane.publish(target, data, h, id);
    return { id, duplicate };
};

import type { z } from "zod";
import { TetherError } from "../../protocols/index.ts";

/**
 * Turns a failed parse with an actor's protocol into a typed error: ERR_MESSAGE_UNKNOWN_TYPE when the
 * `type` field names no variant the actor accepts, ERR_MESSAGE_INVALID otherwise. The first issues are
 * kept in `details` (bounded) so the sender can see what was wrong.
 */
export const classifySchemaError = (actorId: string, messageType: string | undefined, error: z.ZodError): TetherError => {
  const issues = error.issues.slice(0, 8).map((i) => ({ path: i.path.map(String).join(".").slice(0, 200), message: i.message.slice(0, 300) }));
  const unknownType = messageType !== undefined && error.issues.some(
    (i) => (i.code === "invalid_union" && i.path.length === 1 && i.path[0] === "type") || (i.code === "invalid_value" && i.path.length === 1 && i.path[0] === "type"),
  );
  const summary = issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ");
  if (unknownType) {
    return new TetherError("ERR_MESSAGE_UNKNOWN_TYPE", `actor ${actorId} does not accept messages of type ${JSON.stringify(messageType ?? null)}`, {
      details: { actorId, messageType: messageType ?? null, issues: summary.slice(0, 1024) },
    });
  }
  return new TetherError("ERR_MESSAGE_INVALID", `message to ${actorId} failed its schema: ${summary}`.slice(0, 2048), {
    details: { actorId, messageType: messageType ?? null, issues: summary.slice(0, 1024) },
  });
};

/**
 * Every stable error code Tether emits. A code is never reused for another meaning.
 * `docs/errors.md` lists each one; `test/unit/error-codes.test.ts` keeps the two in step.
 */
export const ErrorCodes = {
  ERR_CONFIG_INVALID: { retryable: false, summary: "Node or CLI options failed validation." },
  ERR_ADDRESS_INVALID: { retryable: false, summary: "An actor id, node id or network name is not a valid subject token." },
  ERR_ACTOR_NOT_FOUND: { retryable: true, summary: "No live actor has this id in the network (nothing is subscribed to its address)." },
  ERR_ACTOR_ALREADY_ACTIVE: { retryable: false, summary: "The actor id is already owned by a live node (single activation)." },
  ERR_ACTOR_CLASS_INVALID: { retryable: false, summary: "The class passed to spawn does not declare a zod `protocol` or a `handle` method." },
  ERR_ACTOR_START_FAILED: { retryable: true, summary: "The actor's onStart hook threw or did not finish within its time limit." },
  ERR_ACTOR_STOPPED: { retryable: true, summary: "The actor stopped before it could handle the message." },
  ERR_ACTOR_HANDLER_FAILED: { retryable: false, summary: "The actor's handle() threw while processing the message." },
  ERR_MAILBOX_FULL: { retryable: true, summary: "The actor's bounded mailbox is full; the message was rejected (backpressure)." },
  ERR_MESSAGE_INVALID: { retryable: false, summary: "The message failed the receiving actor's zod schema." },
  ERR_MESSAGE_UNKNOWN_TYPE: { retryable: false, summary: "The message's `type` is not one the receiving actor accepts." },
  ERR_MESSAGE_MALFORMED: { retryable: false, summary: "The bytes could not be decoded as a Tether envelope (bad msgpack or headers)." },
  ERR_MESSAGE_TOO_LARGE: { retryable: false, summary: "The encoded message exceeds the configured maximum payload size." },
  ERR_ASK_TIMEOUT: { retryable: true, summary: "No reply arrived within the ask's timeout." },
  ERR_HANDLER_ABORTED: { retryable: true, summary: "The handler in flight was aborted through ctx.signal." },
  ERR_NODE_STOPPED: { retryable: true, summary: "The node is shutting down or closed; it accepts no new work." },
  ERR_TRANSPORT_FAILED: { retryable: true, summary: "The NATS connection failed or the server refused an operation." },
  ERR_REGISTRY_FAILED: { retryable: true, summary: "The JetStream KV registry could not be read or written." },
  ERR_SERVER_START_FAILED: { retryable: false, summary: "An embedded or test nats-server process did not start (missing binary, bad config)." },
  ERR_AGENTS_MODULE_INVALID: { retryable: false, summary: "The module given to `tether node start --agents` does not export a valid agent list." },
  ERR_SHUTDOWN_TIMEOUT: { retryable: false, summary: "Draining did not finish within the shutdown time limit; remaining messages were dead-lettered." },
} as const satisfies Record<string, { retryable: boolean; summary: string }>;

export type ErrorCode = keyof typeof ErrorCodes;

export const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === "string" && Object.hasOwn(ErrorCodes, value);

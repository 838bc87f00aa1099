/**
 * Every stable error code Tether emits. A code is never reused for another meaning.
 * `docs/errors.md` lists each one; `test/unit/error-codes.test.ts` keeps the two in step.
 */
export const ErrorCodes = {
  ERR_CONFIG_INVALID: { retryable: false, summary: "Node or CLI options failed validation." },
  ERR_ADDRESS_INVALID: { retryable: false, summary: "An actor id, node id or network name is not a valid subject token." },
  ERR_ACTOR_NOT_FOUND: { retryable: true, summary: "No live actor has this id in the network (nothing is subscribed to its address)." },
  ERR_ACTOR_ALREADY_ACTIVE: { retryable: false, summary: "The actor id is already owned by a live node (single activation)." },
  ERR_ACTOR_FENCED: {
    retryable: false,
    summary: "This copy of the actor no longer owns its id: another node took it over (this one was paused or partitioned), so its checkpoint write was refused and the copy stopped.",
  },
  ERR_NODE_UNREACHABLE: { retryable: true, summary: "A node did not answer a control request (activate, stop, pause) in time." },
  ERR_CONTEXT_MISUSE: { retryable: false, summary: "A handler used its ctx in a way that cannot work (deferReply on a tell, meter outside ctx.act, a bad unit or amount)." },
  ERR_MIGRATION_FAILED: { retryable: true, summary: "Moving an actor to another node was aborted (its state could not be checkpointed); it stays where it was." },
  ERR_ACTOR_CLASS_INVALID: { retryable: false, summary: "The class passed to spawn does not declare a zod `protocol` or a `handle` method." },
  ERR_ACTOR_START_FAILED: { retryable: true, summary: "The actor's onStart hook threw or did not finish within its time limit." },
  ERR_ACTOR_STOPPED: { retryable: true, summary: "The actor stopped before it could handle the message." },
  ERR_ACTOR_HANDLER_FAILED: { retryable: false, summary: "The actor's handle() threw while processing the message." },
  ERR_ACTOR_PAUSED: { retryable: true, summary: "The actor is paused (quarantined): it refuses new messages until it is resumed." },
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
  ERR_TELEMETRY_SDK_MISSING: {
    retryable: false,
    summary: "OTEL_* variables ask `tether node start` to export telemetry, but the optional peer dependency @opentelemetry/sdk-node is not installed.",
  },
  ERR_SHUTDOWN_TIMEOUT: { retryable: false, summary: "Draining did not finish within the shutdown time limit; remaining messages were dead-lettered." },
  // Supervision, breakers and bulkheads (supervisors/)
  ERR_SUPERVISOR_SPEC_INVALID: {
    retryable: false,
    summary: "A supervisor spec, or the options of a supervision primitive (backoff, restart intensity, circuit breaker, bulkhead, admission pool), failed validation.",
  },
  ERR_SUPERVISOR_CHILD_UNKNOWN: { retryable: false, summary: "The supervisor has no child with this id." },
  ERR_SUPERVISOR_SPEC_UNKNOWN: {
    retryable: false,
    summary: "No supervision tree with this supervisor id is registered on the node that was to host it (register the tree on every node that may host it).",
  },
  ERR_BREAKER_OPEN: {
    retryable: true,
    summary: "The circuit breaker on this caller→target edge is open (or half-open with every probe slot taken); the call failed fast without reaching the target.",
  },
  ERR_BULKHEAD_FULL: { retryable: true, summary: "The bulkhead or admission pool is at its in-flight limit and its wait queue is full; the request was rejected at once." },
  ERR_BULKHEAD_TIMEOUT: { retryable: true, summary: "The request waited in a bulkhead or admission pool queue longer than its time limit." },
  ERR_BULKHEAD_ABORTED: { retryable: true, summary: "The request's AbortSignal fired while it waited in a bulkhead or admission pool queue." },
  ERR_BULKHEAD_CLASS_UNKNOWN: { retryable: false, summary: "The admission pool has no priority class with this name." },
  ERR_ROLLBACK_INVALID: { retryable: false, summary: "A rollback request is malformed or names an action that is not in the workflow." },
  ERR_ROLLBACK_NOT_COMPENSABLE: { retryable: false, summary: "The actor asked to compensate an action has no compensate() method." },
  ERR_ROLLBACK_COMPENSATION_FAILED: { retryable: true, summary: "A compensation kept failing after its retries; the rollback stopped there and was escalated." },
  ERR_QUOTA_EXCEEDED: { retryable: true, summary: "The action would exceed a configured quota; it was refused before it ran (no partial effects)." },
  ERR_LEDGER_UNAVAILABLE: { retryable: true, summary: "The audit ledger did not acknowledge an append in time (regulated profile); dependent work must not proceed." },
  // Audit ledger (protocols/audit)
  ERR_AUDIT_RECORD_INVALID: { retryable: false, summary: "An audit ledger record failed its schema, or a range/record asked of a ledger is not in it." },
  ERR_AUDIT_CANONICAL_JSON: { retryable: false, summary: "The value has no RFC 8785 canonical JSON form (non-finite number, lone surrogate, undefined in an array, function, bigint, cycle, …)." },
  ERR_AUDIT_MERKLE_INPUT_INVALID: { retryable: false, summary: "A Merkle leaf is not a base64url SHA-256 digest, or the leaf index is outside the tree." },
  ERR_AUDIT_CHECKPOINT_INVALID: { retryable: false, summary: "A checkpoint signature does not verify (alg, typ, kid, key, signature, payload), or a checkpoint to sign is malformed." },
  ERR_AUDIT_RECEIPT_UNAVAILABLE: { retryable: true, summary: "No checkpoint covers the record yet; ask again after the next checkpoint." },
  ERR_AUDIT_KEY_LOOKUP_FAILED: { retryable: true, summary: "The checkpoint key resolver failed; nothing was concluded about the ledger." },
  ERR_AUDIT_TAMPERED: { retryable: false, summary: "`tether audit verify` found a modified, deleted, inserted or reordered record, or an invalid checkpoint." },
  // Execution Context Tokens (protocols/ect): one code per validation failure, in the spec's order.
  ERR_ECT_MALFORMED: { retryable: false, summary: "The token is not a well-formed compact JWS / JWT (or not valid L1 unsigned JSON)." },
  ERR_ECT_ALG_NOT_ALLOWED: { retryable: false, summary: "The JOSE `alg` is not on the allow-list (ES256, EdDSA); `none` is always refused." },
  ERR_ECT_TYP_INVALID: { retryable: false, summary: "The JOSE `typ` is neither `wimse-exec+jwt` (-00) nor `exec+jwt` (-01)." },
  ERR_ECT_KID_MISSING: { retryable: false, summary: "The JOSE header has no `kid`." },
  ERR_ECT_KID_UNKNOWN: { retryable: false, summary: "No trusted key has the token's `kid`." },
  ERR_ECT_KEY_REVOKED: { retryable: false, summary: "The token's `kid` names a revoked key." },
  ERR_ECT_SIGNATURE_INVALID: { retryable: false, summary: "The signature does not verify with the key named by `kid`." },
  ERR_ECT_CLAIM_INVALID: { retryable: false, summary: "A required claim is missing or a claim has the wrong type or form." },
  ERR_ECT_AUDIENCE_MISMATCH: { retryable: false, summary: "The verifier is not among the token's `aud`." },
  ERR_ECT_EXPIRED: { retryable: false, summary: "The token's `exp` has passed (beyond the allowed clock skew)." },
  ERR_ECT_IAT_TOO_OLD: { retryable: false, summary: "The token's `iat` is older than the maximum age (900 s)." },
  ERR_ECT_IAT_IN_FUTURE: { retryable: false, summary: "The token's `iat` is in the future beyond the clock skew (30 s)." },
  ERR_ECT_REPLAYED: { retryable: false, summary: "The `jti` was already seen within the expiry window (scoped to `wid` when present)." },
  ERR_ECT_TOO_MANY_PARENTS: { retryable: false, summary: "`par` (or -01 `pred`) lists more than 100 parents." },
  ERR_ECT_PARENT_MISSING: { retryable: false, summary: "A parent `jti` named in `par` is not in the ECT store." },
  ERR_ECT_PARENT_NEWER: { retryable: false, summary: "A parent's `iat` is later than the child's `iat` plus the clock skew." },
  ERR_ECT_CYCLE: { retryable: false, summary: "Following `par` links leads back to the token (or the traversal exceeded 10,000 nodes)." },
  ERR_ECT_EXT_TOO_LARGE: { retryable: false, summary: "`ext` (or -01 `ect_ext`) serializes to more than 4096 bytes." },
  ERR_ECT_EXT_TOO_DEEP: { retryable: false, summary: "`ext` nests deeper than 5 levels." },
  ERR_ECT_LEVEL_TOO_LOW: { retryable: false, summary: "The token's assurance level is below the receiver's configured minimum." },
} as const satisfies Record<string, { retryable: boolean; summary: string }>;

export type ErrorCode = keyof typeof ErrorCodes;

export const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === "string" && Object.hasOwn(ErrorCodes, value);

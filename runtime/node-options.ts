import { z } from "zod";
import { Advertisement, TetherError, isValidToken } from "../protocols/index.ts";
import { AssuranceOptions } from "./assurance/assurance-options.ts";
import type { ActorClass } from "./actor/actor-types.ts";
import { NatsTlsOptions } from "./support/nats-tls.ts";

const token = (what: string) =>
  z.string().refine(isValidToken, { message: `${what} must be 1-128 characters of A-Z a-z 0-9 _ -, starting with a letter or digit` });

/**
 * Node options. `z.input` is what users pass; `z.output` (with every default filled in) is what the
 * runtime uses. This schema is the one place defaults live; README "Configuration" documents each.
 */
export const NodeOptionsSchema = z.strictObject({
  /** Stable id of this node (default: a random id). Must be unique among live nodes. */
  nodeId: token("nodeId").optional(),
  /** The network (tenant) this node belongs to; every subject is under `tether.<network>.`. */
  network: token("network").default("default"),
  /** NATS server URLs. Empty: the node starts an embedded `nats-server` on a free loopback port. */
  servers: z.array(z.string().min(1)).default([]),
  /**
   * TLS of the connection (docs/tls.md): `caFile` to trust (e.g. `tether cluster up --tls`'s ca.pem),
   * `certFile` + `keyFile` for servers that verify clients. Absent: TLS only if the server requires it
   * (or a URL is `tls://`), verified against the system CAs.
   */
  tls: NatsTlsOptions.optional(),
  /**
   * Credentials of this node's identity in its network (docs/networks.md): the path of a credentials
   * file (`tether network create` writes them, mode 0600) or its contents. Absent: no authentication
   * (the embedded default, or an open server).
   */
  credentials: z.string().min(1).max(16_384).optional(),
  /** Default bound of each actor's normal mailbox lane. */
  mailboxCapacity: z.number().int().positive().max(1_000_000).default(1024),
  /** Bound of each actor's priority lane. */
  priorityCapacity: z.number().int().positive().max(100_000).default(256),
  /** Default ask timeout. */
  askTimeoutMs: z.number().int().positive().default(5_000),
  /**
   * Flow control of `tell` (README "Flow control"): tells this node may have in flight to one remote
   * actor before `ref.tell()` returns false and `ref.ready()` waits. A stream is lossless while
   * (sending nodes × window) ≤ the target's mailbox capacity (default 4 × 256 = 1024).
   */
  tellWindow: z.number().int().positive().max(1_000_000).default(256),
  /** A receiving node returns credits after this many handled tells from one node to one actor… */
  tellCreditBatch: z.number().int().positive().max(100_000).default(32),
  /** …or this long after the first uncredited one, whichever comes first. */
  tellCreditDelayMs: z.number().int().positive().default(10),
  /** A sender waiting in `ref.ready()` that receives no credit for this long resets its window (lost messages never block it for good). */
  tellCreditTimeoutMs: z.number().int().positive().default(5_000),
  /** Largest encoded message body accepted or sent. */
  maxPayloadBytes: z.number().int().positive().max(64 * 1024 * 1024).default(1024 * 1024),
  /** Node heartbeat period (renews the node lease in the registry). */
  heartbeatMs: z.number().int().positive().default(1_000),
  /** A node whose last heartbeat is older than this is considered dead; its actors' ids become claimable. */
  leaseTtlMs: z.number().int().positive().default(5_000),
  /** Time allowed to drain mailboxes on shutdown before the rest is dead-lettered. */
  shutdownTimeoutMs: z.number().int().positive().default(10_000),
  /** Time allowed for an actor's onStart / onStop hooks. */
  actorStartTimeoutMs: z.number().int().positive().default(5_000),
  actorStopTimeoutMs: z.number().int().positive().default(5_000),
  /** Client reconnect wait; the client's 2 s default is too slow for failover. Jitter is added. */
  reconnectTimeWaitMs: z.number().int().nonnegative().default(250),
  reconnectJitterMs: z.number().int().nonnegative().default(100),
  /** Replicas of the registry bucket and dead-letter stream (3 on a 3-node cluster). */
  jetstreamReplicas: z.number().int().min(1).max(5).default(1),
  /** How long dead letters are kept. */
  deadLetterMaxAgeMs: z.number().int().positive().default(7 * 24 * 3600 * 1000),
  /** Durable lane: wait before an unacknowledged message is redelivered, and deliveries before it is dead-lettered. */
  durableAckWaitMs: z.number().int().min(100).default(10_000),
  durableMaxDeliver: z.number().int().min(1).max(1_000).default(5),
  /** How long the ECT DAG store keeps tokens (parent lookups, rollback, usage roll-ups). */
  ectMaxAgeMs: z.number().int().positive().default(7 * 24 * 3600 * 1000),
  /**
   * The network's storage budget, per server holding a replica, in MiB: every stream and bucket a node
   * creates gets an explicit limit, so JetStream reserves a known amount and the stock 3-node cluster
   * (2 GB file store per server) holds at least 10 networks with replicas 3 (165 MiB each by default).
   * (2 GB file store per server) holds at least 10 networks with replicas 3 (161 MiB each by default).
   * The dead letters drop their oldest records when full; the durable lane refuses new sends (no loss);
   * the KV buckets refuse writes (the node reports ERR_*_FAILED). The audit stream is the ledger's own.
   */
  storage: z
    .strictObject({
      deadLettersMb: z.number().int().min(1).default(48),
      durableMb: z.number().int().min(1).default(32),
      stateMb: z.number().int().min(1).default(32),
      ectMb: z.number().int().min(1).default(32),
      registryMb: z.number().int().min(1).default(8),
      keysMb: z.number().int().min(1).default(2),
      usageMb: z.number().int().min(1).default(4),
      breakersMb: z.number().int().min(1).default(2),
      /** Active overrides (KV) and the human work queue a takeover fills (stream). */
      overridesMb: z.number().int().min(1).default(1),
      humanWorkMb: z.number().int().min(1).default(4),
      /** Members and policy (signed entries, 8 revisions per key, 32 KiB each at most). */
      governanceMb: z.number().int().min(1).default(1),
    })
    .prefault({}),
  /** Assurance profile, keys, ledger policy and quotas (see README "Assurance profiles"). */
  assurance: AssuranceOptions.prefault({}),
});

export type NodeOptionsInput = z.input<typeof NodeOptionsSchema>;
export type NodeOptionsResolved = z.output<typeof NodeOptionsSchema>;

/** Validates and fills in defaults; bad input becomes ERR_CONFIG_INVALID with every problem listed. */
export const resolveNodeOptions = (input: unknown): NodeOptionsResolved => {
  const result = NodeOptionsSchema.safeParse(input ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new TetherError("ERR_CONFIG_INVALID", `invalid node options: ${problems.join("; ")}`, { details: { problems } });
  }
  const out = result.data;
  if (out.leaseTtlMs <= out.heartbeatMs) {
    throw new TetherError("ERR_CONFIG_INVALID", `leaseTtlMs (${out.leaseTtlMs}) must exceed heartbeatMs (${out.heartbeatMs})`);
  }
  return out;
};

/**
 * The data part of `spawn` options, validated once when an actor is spawned (bad values are
 * ERR_CONFIG_INVALID). Absent values fall back to the node's options (`mailboxCapacity`).
 */
export const SpawnOptionsSchema = z.object({
  /** Capabilities recorded in the registry (default: the class's static `capabilities`). */
  capabilities: z.array(z.string().min(1).max(128)).max(64).readonly().optional(),
  /** Versioned capabilities and protocols recorded in the registry (default: the class's static `advertise`). */
  advertise: Advertisement.optional(),
  /** Normal-lane bound of this actor's mailbox (default: the node's `mailboxCapacity`). */
  mailboxCapacity: z.number().int().positive().max(1_000_000).optional(),
  /** Resume from the actor's last checkpoint (`ctx.checkpoint()`), if there is one, before it starts. */
  restore: z.boolean().default(false),
  /**
   * Passivate after this long without messages: checkpoint the state and drop the instance (the id,
   * claim and subscription stay). The next message re-creates the instance from the checkpoint.
   */
  passivateAfterMs: z.number().int().positive().optional(),
  /**
   * Consume the actor's at-least-once lane (`ref.send`). Implies `restore`: the state and the ids of the
   * durable messages it already includes are checkpointed before each acknowledgement.
   */
  durable: z.boolean().default(false),
});

/** Options of `node.spawn`: the validated data fields plus the constructor arguments. */
export type SpawnOptions<C extends ActorClass = ActorClass> = z.input<typeof SpawnOptionsSchema> & {
  /** Constructor arguments (the actor's dependencies). */
  readonly args?: ConstructorParameters<C>;
};
export type SpawnOptionsResolved = z.output<typeof SpawnOptionsSchema>;

/** Validates spawn options; bad input becomes ERR_CONFIG_INVALID naming the field. */
export const resolveSpawnOptions = (input: SpawnOptions<ActorClass>): SpawnOptionsResolved => {
  const { args: _args, ...data } = input;
  const result = SpawnOptionsSchema.safeParse(data);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new TetherError("ERR_CONFIG_INVALID", `invalid spawn options: ${problems.join("; ")}`, { details: { problems } });
  }
  return result.data;
};

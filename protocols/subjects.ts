import { TetherError } from "./errors.ts";

/**
 * Every NATS subject and JetStream name Tether uses is built here, under one prefix per network:
 * `tether.<network>.…`. Tokens are validated so no id can inject a wildcard or an extra level.
 */
export const SUBJECT_PREFIX = "tether";

const TOKEN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export const isValidToken = (value: string): boolean => TOKEN.test(value);

/** Throws ERR_ADDRESS_INVALID unless `value` is a safe subject token. */
export const assertToken = (kind: "actor id" | "node id" | "network" | "correlation id", value: unknown): string => {
  if (typeof value !== "string" || !TOKEN.test(value)) {
    throw new TetherError(
      "ERR_ADDRESS_INVALID",
      `invalid ${kind} ${JSON.stringify(value)}: use 1-128 characters of A-Z a-z 0-9 _ -, starting with a letter or digit`,
      { details: { kind, value: typeof value === "string" ? value.slice(0, 200) : typeof value } },
    );
  }
  return value;
};

export interface NetworkSubjects {
  readonly network: string;
  /** Where an actor receives tells and asks. Its address names no host. */
  actor(actorId: string): string;
  /** Wildcard over every actor of the network (used by tools, never by nodes). */
  allActors(): string;
  /**
   * One wildcard reply inbox per node: `…reply.<node>.<id>` carries an ask's reply (unique per ask, so a
   * "no responders" notice names the ask); `…reply.<node>.t.<target>` is the fixed reply subject of every
   * tell from this node to `<target>`: rejection reports (with the tell's id in the body), flow-control
   * credits and "no responders" notices come back there. Message ids are 22-character nuids, never `t`.
   */
  replyInbox(nodeId: string): string;
  /** Prefix of the inbox, with the trailing dot. */
  replyPrefix(nodeId: string): string;
  reply(nodeId: string, correlationId: string): string;
  tellReply(nodeId: string, target: string): string;
  /** Control plane of one node (ping, stats). */
  node(nodeId: string): string;
  /** Dead-letter records, by reason code. */
  deadLetter(code: string): string;
  deadLetterAll(): string;
  /** JetStream stream holding dead letters of this network. */
  deadLetterStream(): string;
  /** JetStream KV bucket of actor ownership and node leases. */
  registryBucket(): string;
  /** Handler failures of an actor, published by its node (supervisors on other nodes listen). */
  failures(actorId: string): string;
  failuresAll(): string;
  /** At-least-once lane of one actor, every actor, and the stream holding it. */
  durable(actorId: string): string;
  durableAll(): string;
  durableStream(): string;
  /** JetStream KV bucket of public keys (the network's JWKS). */
  keysBucket(): string;
  /** JetStream KV bucket of the network's members and policy (signed entries, verified on read). */
  governanceBucket(): string;
  /** JetStream KV buckets of actor state checkpoints, quota counters and shared breaker state. */
  stateBucket(): string;
  usageBucket(): string;
  breakersBucket(): string;
  /** Per-edge call statistics nodes publish for cascade detection. */
  cascadeEdges(): string;
  /** JetStream KV bucket of Execution Context Tokens by jti (the ECT DAG store). */
  ectBucket(): string;
  /** JetStream stream of the audit ledger, and its subject. */
  auditStream(): string;
  audit(): string;
  /** JetStream stream of the ledger's checkpoint anchors (outside the ledger stream), and its subject. */
  auditAnchorStream(): string;
  auditAnchor(kind: "checkpoint" | "head"): string;
  auditAnchorAll(): string;
}

export const networkSubjects = (network: string): NetworkSubjects => {
  const net = assertToken("network", network);
  const base = `${SUBJECT_PREFIX}.${net}`;
  return {
    network: net,
    actor: (id) => `${base}.actor.${assertToken("actor id", id)}`,
    allActors: () => `${base}.actor.*`,
    replyInbox: (nodeId) => `${base}.reply.${assertToken("node id", nodeId)}.>`,
    replyPrefix: (nodeId) => `${base}.reply.${assertToken("node id", nodeId)}.`,
    reply: (nodeId, corr) => `${base}.reply.${assertToken("node id", nodeId)}.${assertToken("correlation id", corr)}`,
    tellReply: (nodeId, target) => `${base}.reply.${assertToken("node id", nodeId)}.t.${assertToken("actor id", target)}`,
    node: (nodeId) => `${base}.node.${assertToken("node id", nodeId)}`,
    deadLetter: (code) => `${base}.dlq.${assertToken("correlation id", code)}`,
    deadLetterAll: () => `${base}.dlq.>`,
    deadLetterStream: () => `TETHER_${net.replaceAll("-", "_")}_DLQ`,
    registryBucket: () => `tether_${net}_registry`,
    keysBucket: () => `tether_${net}_keys`,
    governanceBucket: () => `tether_${net}_governance`,
    stateBucket: () => `tether_${net}_state`,
    usageBucket: () => `tether_${net}_usage`,
    breakersBucket: () => `tether_${net}_breakers`,
    cascadeEdges: () => `${base}.cascade.edges`,
    failures: (id) => `${base}.failures.${assertToken("actor id", id)}`,
    failuresAll: () => `${base}.failures.*`,
    durable: (id) => `${base}.durable.${assertToken("actor id", id)}`,
    durableAll: () => `${base}.durable.*`,
    durableStream: () => `TETHER_${net.replaceAll("-", "_")}_DURABLE`,
    ectBucket: () => `tether_${net}_ect`,
    auditStream: () => `TETHER_${net.replaceAll("-", "_")}_AUDIT`,
    audit: () => `${base}.audit.ledger`,
    auditAnchorStream: () => `TETHER_${net.replaceAll("-", "_")}_AUDIT_ANCHOR`,
    auditAnchor: (kind) => `${base}.audit.anchor.${kind}`,
    auditAnchorAll: () => `${base}.audit.anchor.*`,
  };
};

/** Registry keys (KV keys allow dots; the actor and node ids are tokens). */
export const registryKeys = {
  actor: (id: string): string => `actor.${assertToken("actor id", id)}`,
  node: (id: string): string => `node.${assertToken("node id", id)}`,
  /** Index of the actors a node owns: `owned.<nodeId>.<actorId>` (failover finds a dead node's actors). */
  owned: (nodeId: string, actorId: string): string => `owned.${assertToken("node id", nodeId)}.${assertToken("actor id", actorId)}`,
  ownedPrefix: (nodeId: string): string => `owned.${assertToken("node id", nodeId)}.`,
  actorPrefix: "actor.",
  nodePrefix: "node.",
} as const;

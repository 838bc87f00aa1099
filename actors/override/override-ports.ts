import { createInbox } from "@nats-io/transport-node";
import {
  OVERRIDE_ACTOR_ID,
  HoldingReply,
  OverrideAck,
  decodeBody,
  encodeBody,
  isLeaseAlive,
  overrideSubjects,
  type ActorRecord,
  type ControlEnvelope,
  type HumanTask,
  type HumanTaskDone,
  type OverrideEscalation,
  type RollbackReport,
  type RollbackRequestInput,
  type OverrideSignalBody,
  type VerifiedControl,
} from "../../protocols/index.ts";
import { OverrideStore, type Clock, type Node } from "../../runtime/index.ts";

/** What the override actor needs from its node, passed in (see `createOverridePorts`). */
export interface OverridePorts {
  readonly network: string;
  /** Timers for acknowledgement deadlines (inject a fake clock in tests). */
  readonly clock: Clock;
  /** Actors no node/network/capability scope touches (the audit ledger). */
  readonly exempt: readonly string[];
  readonly store: Pick<OverrideStore, "get" | "put" | "delete" | "list" | "settle" | "amend">;
  verify(envelope: ControlEnvelope): Promise<VerifiedControl>;
  broadcast(op: "apply" | "lift", envelope: ControlEnvelope): void;
  listActors(): Promise<ActorRecord[]>;
  recordEvent(event: string, subject: string, details: Record<string, unknown>): Promise<unknown>;
  /** Mints the signal's ECT (`tether.override.signal`) into the ECT store and the audit ledger. */
  recordSignal?(signal: OverrideSignalBody, by: { kid: string; role: string; owner: string }): Promise<unknown>;
  /** Calls `listener` with every acknowledgement of `overrideId`; returns a function that stops. */
  watchAcks(overrideId: string, listener: (ack: OverrideAck) => void): () => void;
  publishEscalation(escalation: OverrideEscalation): void;
  /**
   * Asks every node which of its actors hold these overrides (after a failover of the override actor):
   * override id → actor id → node id. Resolves once every live node answered, or after `windowMs`.
   */
  queryHolding(ids: readonly string[]): Promise<Map<string, Map<string, string>>>;
  rollback(request: RollbackRequestInput): Promise<RollbackReport>;
  completeTask(taskId: string): Promise<HumanTask>;
  /** Announces a completed task; true when the node holding its ask answered the asker with the result. */
  announceTaskDone(done: HumanTaskDone): Promise<boolean>;
}

/** The override actor's ports on `node`. `clock` defaults to the node's. */
export const createOverridePorts = async (node: Node, options: { clock?: Clock; holdingWindowMs?: number } = {}): Promise<OverridePorts> => {
  const subjects = overrideSubjects(node.network);
  const store = await OverrideStore.open(node.nats, node.network, { replicas: node.options.jetstreamReplicas, maxBytes: node.options.storage.overridesMb * 1024 * 1024 });
  return {
    network: node.network,
    clock: options.clock ?? node.clock,
    exempt: [node.options.assurance.ledger.actorId],
    store,
    verify: (envelope) => node.overrides.verifyRequest(envelope),
    broadcast: (op, envelope) => node.nats.publish(subjects.signals(), encodeBody({ type: "tether.override.v1.broadcast", op, envelope })),
    listActors: () => node.listActors(),
    recordEvent: (event, subject, details) => node.assurance.recordEvent(event, subject, details),
    recordSignal: (signal, by) => node.overrides.recordSignal(signal, by, OVERRIDE_ACTOR_ID),
    watchAcks: (overrideId, listener) => {
      const sub = node.nats.subscribe(subjects.acks(overrideId), {
        callback: (_err, msg) => {
          const ack = OverrideAck.safeParse(decodeBody(msg.data));
          if (ack.success) listener(ack.data);
        },
      });
      return () => sub.unsubscribe();
    },
    queryHolding: async (ids) => {
      const out = new Map<string, Map<string, string>>();
      if (ids.length === 0) return out;
      const now = node.clock.now();
      const alive = (await node.listNodes().catch(() => [])).filter((n) => isLeaseAlive(n, now)).map((n) => n.nodeId);
      const answered = new Set<string>();
      let done: () => void = () => undefined;
      const finished = new Promise<void>((resolve) => (done = resolve));
      const inbox = createInbox();
      const sub = node.nats.subscribe(inbox, {
        callback: (_err, msg) => {
          const reply = HoldingReply.safeParse(decodeBody(msg.data));
          if (!reply.success) return;
          answered.add(reply.data.nodeId);
          for (const [id, actors] of Object.entries(reply.data.held)) {
            const holders = out.get(id) ?? new Map<string, string>();
            out.set(id, holders);
            for (const actorId of actors) holders.set(actorId, reply.data.nodeId);
          }
          if (alive.every((n) => answered.has(n))) done();
        },
      });
      // real time, not the override clock: it bounds a network round trip, not a deadline
      const timer = setTimeout(() => done(), options.holdingWindowMs ?? 2_000);
      try {
        node.nats.publish(subjects.holding(), encodeBody({ type: "tether.override.v1.holding-query", ids: [...ids] }), { reply: inbox });
        await finished;
      } finally {
        clearTimeout(timer);
        sub.unsubscribe();
      }
      return out;
    },
    publishEscalation: (escalation) => node.nats.publish(subjects.escalations(escalation.overrideId), encodeBody(escalation)),
    rollback: (request) => node.rollback(request),
    completeTask: (taskId) => node.humanWork.complete(taskId),
    announceTaskDone: async (done) => {
      try {
        const reply = await node.nats.request(subjects.done(), encodeBody(done), { timeout: 5_000 });
        return (decodeBody(reply.data) as { delivered?: unknown } | undefined)?.delivered === true;
      } catch {
        return false; // no node holds the ask any more (it restarted, or the asker gave up)
      }
    },
  };
};

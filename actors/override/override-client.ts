import { nuid, type NatsConnection } from "@nats-io/transport-node";
import {
  ErrorReply,
  IssueReply,
  OVERRIDE_ACTOR_ID,
  OVERRIDE_TARGET,
  OverrideAck,
  OverrideEscalation,
  OverrideLiftBody,
  OverrideTaskResultBody,
  OverrideSignalBody,
  TetherError,
  decodeBody,
  decodeEnvelope,
  encodeSend,
  errorFromWire,
  networkSubjects,
  overrideSubjects,
  type ControlBody,
  type LiftDisposition,
  type OverrideAction,
  type OverrideConstraints,
  type OverrideLevel,
  type OverrideScopeInput,
} from "../../protocols/index.ts";
import { systemClock, type Clock, type ControlSigner } from "../../runtime/index.ts";
import { CoverageTally, type Coverage } from "./coverage.ts";
import { resolveSubtree } from "./subtree.ts";

export interface OverrideInput {
  readonly action: OverrideAction;
  readonly scope: OverrideScopeInput;
  readonly reason: string;
  /** Default: emergency for stop and takeover, mandatory otherwise. */
  readonly level?: OverrideLevel;
  readonly onLift?: LiftDisposition;
  /** Default 5 s. */
  readonly ackDeadlineMs?: number;
  readonly constraints?: OverrideConstraints;
  readonly rollback?: { workflow: string; from?: string };
  /** Default: a fresh nuid. */
  readonly id?: string;
}

export interface OverrideOutcome {
  readonly id: string;
  readonly reply: IssueReply;
  readonly coverage: Coverage;
  /** The deadline passed with expected actors missing (the override actor escalated it too). */
  readonly escalated: boolean;
}

/** Sees coverage grow: on every acknowledgement, and once when the expected set becomes known (`ack` undefined). */
export type CoverageListener = (coverage: Coverage, ack: OverrideAck | undefined) => void;

/**
 * Issues override signals as a person, over any NATS connection (the CLI's, an application's): signs
 * each with the operator's key (`ControlSigner.fromKeyFile`), hands it to the override actor, and
 * follows the acknowledgements until every expected actor acknowledged or the deadline passed.
 *
 *   const overrides = new OverrideClient({ nc, signer });
 *   const { coverage } = await overrides.issue({ action: "stop", scope: { kind: "agent", id: "pharmacist" }, reason: "wrong dose" });
 */
export class OverrideClient {
  readonly #nc: NatsConnection;
  readonly #signer: ControlSigner;
  readonly #clock: Clock;
  readonly #actorId: string;
  readonly #timeoutMs: number;

  constructor(options: { nc: NatsConnection; signer: ControlSigner; clock?: Clock; actorId?: string; timeoutMs?: number }) {
    this.#nc = options.nc;
    this.#signer = options.signer;
    this.#clock = options.clock ?? systemClock;
    this.#actorId = options.actorId ?? OVERRIDE_ACTOR_ID;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Issues a signal and follows its acknowledgements (`onAck` sees coverage grow). */
  async issue(input: OverrideInput, onAck?: CoverageListener): Promise<OverrideOutcome> {
    const scope = input.scope.kind === "subtree" ? await this.resolveSubtree(input.scope.id, input.scope.members ?? []) : input.scope;
    const preempting = input.action === "stop" || input.action === "takeover";
    const signal = OverrideSignalBody.parse({
      type: "tether.override.v1.signal",
      id: input.id ?? nuid.next(),
      action: input.action,
      scope,
      level: input.level ?? (preempting ? "emergency" : "mandatory"),
      reason: input.reason,
      ...(input.onLift === undefined ? {} : { onLift: input.onLift }),
      ...(input.ackDeadlineMs === undefined ? {} : { ackDeadlineMs: input.ackDeadlineMs }),
      ...(input.constraints === undefined ? {} : { constraints: input.constraints }),
      ...(input.rollback === undefined ? {} : { rollback: input.rollback }),
    });
    return this.#send(signal.id, signal, "tether.override.v1.issue", signal.ackDeadlineMs, onAck);
  }

  /**
   * A subtree scope as it is signed: the supervisor `id` and every actor under it, transitively, wherever
   * it runs (asked of the supervisors themselves), plus `extra` members given by hand. The resolved list
   * is part of the signed signal, so nodes trust it as the operator's. ERR_OVERRIDE_INVALID when `id` is
   * not a running supervisor and no member was given.
   */
  async resolveSubtree(id: string, extra: readonly string[] = []): Promise<{ kind: "subtree"; id: string; members: string[] }> {
    let resolved: string[] | undefined;
    try {
      resolved = await resolveSubtree((actorId, body) => this.#ask(body, actorId), id);
    } catch (error) {
      // e.g. a regulated node refusing an ask without an execution context: the members given by hand still apply
      if (extra.length === 0) throw new TetherError("ERR_OVERRIDE_INVALID", `the subtree of ${id} could not be resolved (${String(error).slice(0, 300)}): name its actors with members / --members`, { cause: error });
      resolved = undefined;
    }
    if (resolved === undefined && extra.length === 0) {
      throw new TetherError("ERR_OVERRIDE_INVALID", `${id} is not a running supervisor: its subtree cannot be resolved (name the actors with members / --members)`);
    }
    return { kind: "subtree", id, members: [...new Set([...(resolved ?? []), ...extra])] };
  }

  /** Lifts an active override; a stop's kept messages are released or dead-lettered. */
  async lift(id: string, options: { disposition?: LiftDisposition; reason?: string; ackDeadlineMs?: number } = {}, onAck?: CoverageListener): Promise<OverrideOutcome> {
    const lift = OverrideLiftBody.parse({ type: "tether.override.v1.lift", id, reason: options.reason ?? "", ...(options.disposition === undefined ? {} : { disposition: options.disposition }) });
    return this.#send(id, lift, "tether.override.v1.lift-request", options.ackDeadlineMs ?? 5_000, onAck);
  }

  /** The active overrides. */
  async list(): Promise<unknown> {
    return this.#ask({ type: "tether.override.v1.list" });
  }

  /**
   * Completes a task of the human work queue with the signer's result: it answers the original asker
   * (when one waits) and is recorded in the ledger as the action's outcome, under the signer's name.
   */
  async completeTask(taskId: string, result: unknown): Promise<unknown> {
    const body = OverrideTaskResultBody.parse({ type: "tether.override.v1.task-result", taskId, result });
    return this.#ask({ type: "tether.override.v1.work-result", envelope: await this.#signer.sign(body, OVERRIDE_TARGET) });
  }

  async #send(id: string, body: ControlBody, type: "tether.override.v1.issue" | "tether.override.v1.lift-request", deadlineMs: number, onAck?: CoverageListener): Promise<OverrideOutcome> {
    const subjects = overrideSubjects(this.#signer.network);
    const tally = new CoverageTally(id);
    let wake: () => void = () => undefined;
    let escalated = false;
    let known = false;
    const check = () => {
      if (known && tally.complete) wake();
    };
    const acks = this.#nc.subscribe(subjects.acks(id), {
      callback: (_err, msg) => {
        const ack = OverrideAck.safeParse(decodeBody(msg.data));
        if (!ack.success) return;
        tally.add(ack.data);
        onAck?.(tally.snapshot, ack.data);
        check();
      },
    });
    const escalations = this.#nc.subscribe(subjects.escalations(id), {
      callback: (_err, msg) => {
        if (OverrideEscalation.safeParse(decodeBody(msg.data)).success) {
          escalated = true;
          wake();
        }
      },
    });
    try {
      await this.#nc.flush();
      const envelope = await this.#signer.sign(body, OVERRIDE_TARGET);
      const reply = IssueReply.parse(await this.#ask({ type, envelope }));
      tally.expect(reply.expected);
      known = true;
      onAck?.(tally.snapshot, undefined);
      await new Promise<void>((resolve) => {
        const timer = this.#clock.setTimeout(() => resolve(), deadlineMs);
        wake = () => {
          this.#clock.clearTimeout(timer);
          resolve();
        };
        check();
      });
      const coverage = tally.snapshot;
      return { id, reply, coverage, escalated: escalated || (coverage.expected !== null && coverage.missing.length > 0) };
    } finally {
      acks.unsubscribe();
      escalations.unsubscribe();
    }
  }

  async #ask(body: unknown, actorId = this.#actorId): Promise<unknown> {
    const subject = networkSubjects(this.#signer.network).actor(actorId);
    const reply = await this.#nc.request(subject, encodeSend("ask", nuid.next(), "override-client", true, body), { timeout: this.#timeoutMs }).catch((cause: unknown) => {
      throw new TetherError("ERR_NODE_UNREACHABLE", `${actorId === this.#actorId ? "the override actor " : ""}${actorId} did not answer: ${String(cause)}`, { cause });
    });
    const envelope = decodeEnvelope(reply.data);
    if (envelope.kind === "error") {
      const { details, ...rest } = ErrorReply.parse(envelope.body);
      throw errorFromWire(details === undefined ? rest : { ...rest, details });
    }
    if (envelope.kind !== "reply") throw new TetherError("ERR_MESSAGE_MALFORMED", `expected a reply, got a ${envelope.kind} envelope`);
    return envelope.body;
  }
}

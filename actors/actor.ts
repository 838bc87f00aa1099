import type { z } from "zod";
import type { AdvertisementInput, BehaviourProfile } from "../protocols/index.ts";
import type { ActorContext, ActorLifecycleContext, OverrideDecision, OverrideNotice } from "../runtime/index.ts";

/**
 * Base class of every agent. Declare the messages once as a zod schema in `static protocol`; `handle`
 * receives each message already parsed, one at a time. Its return value is the reply to an `ask`.
 *
 * ```ts
 * class Triage extends Actor<TriageMsg, { seen: number }> {
 *   static readonly protocol = TriageMsg;
 *   state = { seen: 0 };
 *   async handle(msg: TriageMsg, ctx: ActorContext) { … }
 * }
 * ```
 */
export abstract class Actor<M = unknown, S = undefined> {
  /** The zod schema of the messages this actor accepts (parsed at the boundary). */
  static readonly protocol: z.ZodType;
  /** Capabilities advertised in the registry. */
  static readonly capabilities: readonly string[] = [];
  /** Versioned capabilities and protocol versions advertised in the registry (docs/capabilities.md). */
  static readonly advertise: AdvertisementInput | undefined = undefined;
  /**
   * What the agent may do, enforced before each `ctx.act` and each message it sends
   * (`static override readonly profile = defineProfile({…})`; see docs/behaviour-profiles.md).
   */
  static readonly profile: BehaviourProfile | undefined = undefined;

  /** The actor's state. Only `handle` touches it, one message at a time. */
  state!: S;

  abstract handle(msg: M, ctx: ActorContext): unknown;

  /** Runs once before the first message (bounded by the node's `actorStartTimeoutMs`). */
  onStart?(ctx: ActorLifecycleContext): Promise<void> | void;

  /** Runs once after the last message (bounded by `actorStopTimeoutMs`). */
  onStop?(ctx: ActorLifecycleContext): Promise<void> | void;

  /**
   * Decides an advisory override (comply or decline, with a reason; the decision is acknowledged and
   * recorded). Without it an advisory signal is complied with; mandatory and emergency never ask.
   */
  onOverride?(signal: OverrideNotice): OverrideDecision | Promise<OverrideDecision>;
}

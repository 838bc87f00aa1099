import {
  BehaviourProfile,
  TetherError,
  checkActionStatic,
  overUnits,
  peerAllowed,
  type BehaviourProfileInput,
  type ProfileRate,
  type ProfileViolation,
} from "../../protocols/index.ts";
import type { Clock } from "../support/clock.ts";
import type { Logger } from "../support/logger.ts";
import type { Judged } from "./violation-evidence.ts";
import { ViolationLog, type RecordEvent } from "./violation-log.ts";

/** A violation as the response port sees it. */
export interface ViolationNotice extends ProfileViolation {
  readonly actorId: string;
  /** jti of the evidence ECT (undefined when it could not be stored). */
  readonly evidence: string | undefined;
  readonly quarantineMs: number;
}

/**
 * Acts on a violation after it was blocked and recorded, per the violated profile's `onViolation`.
 * A port so the override plane can take over quarantine (pause) and escalation (approval gates).
 */
export type OnViolation = (notice: ViolationNotice) => void;

export interface ProfileGuardDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  /** The profile an actor's class declares (`static profile`), if it runs here. */
  readonly declared: (actorId: string) => BehaviourProfile | undefined;
  /** Mints the violation's evidence ECT; resolves with its jti. */
  readonly evidence: (judged: Judged, violation: ProfileViolation) => Promise<string>;
  readonly recordEvent: RecordEvent;
  readonly onViolation: OnViolation;
}

const TOTAL = "\u0000total";

/**
 * Holds the profiles of this node's actors and checks actions and messages against them. The
 * effective profile is a list of layers (the class's declaration, then each `constrain`): a call
 * passes only when every layer allows it, so constraining can only narrow.
 */
export class ProfileGuard {
  readonly #deps: ProfileGuardDeps;
  readonly #constraints = new Map<string, BehaviourProfile[]>();
  /** Timestamps (ms) of allowed actions per actor and action name (and TOTAL), oldest first. */
  readonly #history = new Map<string, Map<string, number[]>>();
  readonly #violations: ViolationLog;

  constructor(deps: ProfileGuardDeps) {
    this.#deps = deps;
    this.#violations = new ViolationLog(deps.recordEvent, () => deps.clock.now());
  }

  /** The layers in force for an actor (empty: unconstrained, nothing is checked). */
  layers(actorId: string): readonly BehaviourProfile[] {
    const declared = this.#deps.declared(actorId);
    const added = this.#constraints.get(actorId);
    if (added === undefined) return declared === undefined ? [] : [declared];
    return declared === undefined ? added : [declared, ...added];
  }

  /** Whether anything is checked for this actor. */
  has(actorId: string): boolean {
    return this.#constraints.has(actorId) || this.#deps.declared(actorId) !== undefined;
  }

  /**
   * Narrows an actor's profile at run time (no restart): the partial profile becomes one more layer
   * every call must also pass. It can add limits, never lift one.
   */
  constrain(actorId: string, partial: BehaviourProfileInput): BehaviourProfile {
    const layer = BehaviourProfile.parse(partial);
    const list = this.#constraints.get(actorId) ?? [];
    list.push(layer);
    this.#constraints.set(actorId, list);
    return layer;
  }

  /** Checks one action before it runs; throws ERR_PROFILE_VIOLATION (after recording it) when a layer refuses. */
  async checkAction(actorId: string, name: string, params: unknown, cost: Readonly<Record<string, number>> | undefined, judged: () => Judged): Promise<void> {
    const layers = this.layers(actorId);
    if (layers.length === 0) return;
    const now = this.#deps.clock.now();
    const history = this.#historyOf(actorId);
    for (const layer of layers) {
      const found = checkActionStatic(layer, name, params, cost) ?? this.#rateProblem(layer, history, name, now);
      if (found !== undefined) await this.#refuse(actorId, { ...found, response: layer.onViolation }, layer.quarantineMs, judged());
    }
    push(history, name, now);
    push(history, TOTAL, now);
  }

  /**
   * After an action ran: usage metered beyond a layer's `maxUnits` cannot be undone, so it is recorded
   * (evidence, ledger, response) without failing the action. Resolves with the violation, if any.
   */
  async checkUsage(actorId: string, name: string, units: Readonly<Record<string, number>> | undefined, judged: () => Judged): Promise<ProfileViolation | undefined> {
    if (units === undefined) return undefined;
    for (const layer of this.layers(actorId)) {
      const over = overUnits(layer.actions?.[name]?.maxUnits, units);
      if (over === undefined) continue;
      const violation: ProfileViolation = { kind: "resource", judged: name, reason: `metered ${over.unit} ${over.amount} exceeded the limit ${over.limit}`, response: layer.onViolation };
      await this.#record(actorId, violation, layer.quarantineMs, judged()).catch(() => undefined);
      return violation;
    }
    return undefined;
  }

  /** Checks a message a handler sends; throws ERR_PROFILE_VIOLATION synchronously (recording runs in the background). */
  checkPeer(actorId: string, target: string, judged: () => Judged): void {
    for (const layer of this.layers(actorId)) {
      if (peerAllowed(layer, target)) continue;
      const violation: ProfileViolation = { kind: "peer", judged: target, reason: `${actorId} may not send to ${target}`, response: layer.onViolation };
      void this.#record(actorId, violation, layer.quarantineMs, judged()).catch(() => undefined);
      throw violationError(actorId, violation);
    }
  }

  /** Drops an actor's rate history (its constraints stay: they bind the id, not the instance). */
  forget(actorId: string): void {
    this.#history.delete(actorId);
  }

  #rateProblem(layer: BehaviourProfile, history: Map<string, number[]>, name: string, now: number): Omit<ProfileViolation, "response"> | undefined {
    const perAction = layer.actions?.[name]?.rate;
    if (perAction !== undefined && over(history.get(name), perAction, now)) {
      return { kind: "rate", judged: name, reason: `more than ${perAction.max} ${name} actions within ${perAction.windowMs} ms` };
    }
    if (layer.rate !== undefined && over(history.get(TOTAL), layer.rate, now)) {
      return { kind: "rate", judged: name, reason: `more than ${layer.rate.max} actions within ${layer.rate.windowMs} ms` };
    }
    return undefined;
  }

  async #refuse(actorId: string, violation: ProfileViolation, quarantineMs: number, judged: Judged): Promise<never> {
    await this.#record(actorId, violation, quarantineMs, judged).catch(() => undefined);
    throw violationError(actorId, violation);
  }

  async #record(actorId: string, violation: ProfileViolation, quarantineMs: number, judged: Judged): Promise<void> {
    let evidence: string | undefined;
    try {
      evidence = await this.#deps.evidence(judged, violation);
    } catch (error) {
      this.#deps.logger.warn("profile violation evidence not stored", { actorId, error });
    }
    this.#violations.record(actorId, {
      source: "profile",
      code: "ERR_PROFILE_VIOLATION",
      kind: violation.kind,
      judged: violation.judged.slice(0, 256),
      response: violation.response,
      reason: violation.reason.slice(0, 512),
      messageId: judged.messageId.slice(0, 128),
      ...(evidence === undefined ? {} : { evidence }),
    });
    try {
      this.#deps.onViolation({ ...violation, actorId, evidence, quarantineMs });
    } catch (error) {
      this.#deps.logger.warn("profile violation response failed", { actorId, error });
    }
  }

  #historyOf(actorId: string): Map<string, number[]> {
    let history = this.#history.get(actorId);
    if (history === undefined) {
      history = new Map();
      this.#history.set(actorId, history);
    }
    return history;
  }
}

/** Timestamps kept per key: the largest `max` a rate may declare. */
const KEEP = 10_000;

const push = (history: Map<string, number[]>, key: string, now: number): void => {
  let list = history.get(key);
  if (list === undefined) {
    list = [];
    history.set(key, list);
  }
  list.push(now);
  if (list.length > 2 * KEEP) list.splice(0, list.length - KEEP);
};

/** True when `max` allowed actions already fall within the window (the next one would exceed it). */
const over = (list: readonly number[] | undefined, rate: ProfileRate, now: number): boolean => {
  if (rate.max === 0) return true;
  if (list === undefined || list.length < rate.max) return false;
  const nth = list[list.length - rate.max] as number;
  return nth > now - rate.windowMs;
};

export const violationError = (actorId: string, v: ProfileViolation): TetherError =>
  new TetherError("ERR_PROFILE_VIOLATION", `profile of ${actorId} refused: ${v.reason}`, {
    details: { kind: v.kind, judged: v.judged, response: v.response, reason: v.reason },
  });

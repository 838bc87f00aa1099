import type { AssuranceLevel } from "../../protocols/index.ts";

/** An ECT a message carried in (verified), or one an action minted. */
export interface ScopeToken {
  readonly token: string;
  readonly jti: string;
  readonly wid: string | undefined;
  readonly level: AssuranceLevel;
  /** The ledger's signed receipt (`tether-receipt+jwt`) when the token was appended synchronously (L3). */
  readonly receipt: string | undefined;
}

/** Usage metered for the action in progress. */
export interface Usage {
  messages: number;
  bytes: number;
  readonly units: Record<string, number>;
}

/** Usage of one finished action, as the meter link measured it. */
export interface MeasuredUsage {
  readonly wallMs: number;
  readonly cpuUs: number;
  readonly messages: number;
  readonly bytes: number;
  readonly units?: Readonly<Record<string, number>>;
}

/** One action's record, filled in by the links of the action chain as it runs (one object per `ctx.act`). */
export interface ActionRecord {
  usage?: MeasuredUsage;
  minted?: ScopeToken;
}

/**
 * What one handled message carries through its handler: the ECT it arrived with, the latest ECT
 * its actions minted (sent on every message the handler sends afterwards), and the workflow id.
 */
export interface ExecutionScope {
  readonly incoming: ScopeToken | undefined;
  current: ScopeToken | undefined;
  wid: string | undefined;
  /** Set while a ctx.act runs: messages, bytes and reported units accrue to it. */
  meter: Usage | undefined;
}

export const newScope = (incoming: ScopeToken | undefined): ExecutionScope => ({
  incoming,
  current: undefined,
  wid: incoming?.wid,
  meter: undefined,
});

/** The token a message sent now should carry: the latest action's, else the one that came in. */
export const outgoingToken = (scope: ExecutionScope | undefined): ScopeToken | undefined => scope?.current ?? scope?.incoming;

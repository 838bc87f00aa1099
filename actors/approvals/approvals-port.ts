import { randomUUID } from "node:crypto";
import {
  TETHER_EXT_PREFIX,
  TetherError,
  mintEct,
  mintUnsignedEct,
  verifyControl,
  type AssuranceLevel,
  type ReplayCache,
  type VerifiedControl,
} from "../../protocols/index.ts";
import { agentUri, hashValue, networkAudience, type Clock, type Node } from "../../runtime/index.ts";

/** An ECT the approvals actor minted (request or decision). */
export interface MintedEct {
  readonly jti: string;
  readonly token: string;
  readonly level: AssuranceLevel;
}

/** What the approvals actor needs from the node hosting it (`approvalsPort(node)` builds it). */
export interface ApprovalsPort {
  readonly network: string;
  /** The clock approval deadlines run on (the node's unless a test passes a fake one). */
  readonly clock: Clock;
  /** Verifies a signed decision addressed to the approvals actor `target` (signature, key, time, role may `approve`, nonce). */
  verify(input: unknown, target: string, replay: ReplayCache): Promise<VerifiedControl>;
  /** Mints and stores an ECT issued by the approvals actor. */
  mint(p: { actorId: string; act: string; par: readonly string[]; wid: string | undefined; input: unknown; ext: Record<string, unknown> }): Promise<MintedEct>;
  /** Tells an actor a message from outside any handler (the deadline timer's tick). */
  tell(actorId: string, msg: unknown): void;
  /** Appends an event to the audit ledger (and logs when it cannot). */
  record(event: string, subject: string, details: Record<string, unknown>): Promise<void>;
}

/** The port over a node: its key registry verifies, its signing key mints, its ledger records. */
export const approvalsPort = (node: Node, clock: Clock = node.clock): ApprovalsPort => ({
  network: node.network,
  clock,
  verify: (input, target, replay) =>
    verifyControl(input, {
      network: node.network,
      target,
      now: node.clock.now(),
      keys: node.assurance.keys,
      replay,
      clockSkewMs: node.options.assurance.clockSkewSeconds * 1000,
      accept: (body) => {
        if (body.type !== "tether.approval.v1.decision") throw new TetherError("ERR_CONTROL_MISDIRECTED", "the approvals actor accepts only approval decisions");
      },
    }),
  mint: async ({ actorId, act, par, wid, input, ext }) => {
    const assurance = node.assurance;
    const jti = randomUUID();
    const claims = {
      iss: agentUri(node.network, actorId),
      aud: [networkAudience(node.network)],
      jti,
      exec_act: act,
      par: [...par],
      ...(wid === undefined ? {} : { wid }),
      inp_hash: hashValue(input),
      ext: { [`${TETHER_EXT_PREFIX}node`]: node.id, [`${TETHER_EXT_PREFIX}level`]: assurance.level, ...ext },
    };
    // ECTs carry real time (verifiers compare iat and exp with theirs), whatever clock deadlines run on
    const now = () => node.clock.now();
    const ttlSeconds = node.options.assurance.tokenTtlSeconds;
    const key = assurance.signingKey;
    const token = key === undefined ? mintUnsignedEct(claims, { now, ttlSeconds }) : await mintEct(claims, { key: key.privateKey, kid: key.kid, alg: key.alg, now, ttlSeconds });
    await assurance.store.put({
      jti,
      iat: Math.floor(now() / 1000),
      par: claims.par,
      ...(wid === undefined ? {} : { wid }),
      iss: claims.iss,
      exec_act: act,
      level: assurance.level,
      token,
      actor: actorId,
      at: now(),
      outcome: "ok",
    });
    return { jti, token, level: assurance.level };
  },
  tell: (actorId, msg) => {
    node.ref(actorId).tell(msg);
  },
  record: async (event, subject, details) => {
    await node.assurance.recordEvent(event, subject, details).catch(() => undefined);
  },
});

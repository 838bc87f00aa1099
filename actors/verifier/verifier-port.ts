import { jetstreamManager } from "@nats-io/jetstream";
import { TETHER_EXT_PREFIX, decodeBody, verifyEct, verifyUnsignedEct, type EctClaims } from "../../protocols/index.ts";
import { StoredEctRecord, hashValue, networkAudience, type Clock, type Node } from "../../runtime/index.ts";
import { mintActorEct, type ActorEct, type MintedEct } from "../ect-minter.ts";
import type { EctObservation } from "./drift-book.ts";

/** One entry of the ECT stream: its stream sequence, and the observation when it is an action record that verifies. */
export interface StreamEntry {
  readonly seq: number;
  readonly observation?: EctObservation;
  /** Why an ECT record was not appraised (a forged or malformed record). */
  readonly rejected?: string;
}

/** What the verifier actor needs from its node (`verifierPort(node)` builds it). */
export interface VerifierPort {
  /** Up to `limit` entries of the ECT stream after sequence `after`, in order. */
  read(after: number, limit: number): Promise<StreamEntry[]>;
  mint(p: ActorEct): Promise<MintedEct>;
  record(event: string, subject: string, details: Record<string, unknown>): Promise<void>;
  /** Epoch ms (rate-limits refusal records). */
  now(): number;
  /** The clock the appraisal timer runs on (the node's unless a test passes a fake one). */
  readonly clock: Clock;
  /** Sends a message to an actor (the verifier's own timer ticks). */
  tell(actorId: string, msg: unknown): void;
}

const decoder = new TextDecoder();

/** Evidence ECTs the runtime and built-in actors mint about others: not actions of the issuer. */
const NOT_ACTIONS = /^tether\.(profile\.violation|verifier\.drift)$|^trust\./;

const agentOf = (iss: string, network: string): string | undefined => {
  const prefix = `tether://${network}/agent/`;
  return iss.startsWith(prefix) ? iss.slice(prefix.length) : undefined;
};

/**
 * The port over a node. It reads the ECT DAG store's KV stream (`KV_tether_<net>_ect`) record by
 * record and believes only what the token proves: the agent is the token's issuer, the action its
 * `exec_act`, the outcome and usage its signed `ext`, and params (kept in the record only for
 * compensable actions) only when they hash to the token's `inp_hash`. A record whose token does not
 * verify against the network's keys (or, on a relaxed L1 node, does not parse) is rejected and reported.
 * Token lifetimes are checked at the token's own `iat`: the verifier appraises after the fact.
 */
export const verifierPort = (node: Node, clock: Clock = node.clock): VerifierPort => {
  const network = node.network;
  const bucket = node.subjects.ectBucket();
  const stream = `KV_${bucket}`;
  const prefix = `$KV.${bucket}.ect.`;

  const claimsOf = async (record: StoredEctRecord): Promise<EctClaims> => {
    const common = { audience: networkAudience(network), clockSkewSeconds: node.options.assurance.clockSkewSeconds, now: () => record.iat * 1000, allowMissingParents: true };
    if (!record.token.includes(".")) {
      if (node.assurance.level !== "L1") throw new Error("unsigned token on a signed network");
      return (await verifyUnsignedEct(record.token, common)).claims;
    }
    return (await verifyEct(record.token, { ...common, keys: node.assurance.keys })).claims;
  };

  const observe = async (record: StoredEctRecord): Promise<EctObservation | string | undefined> => {
    let claims: EctClaims;
    try {
      claims = await claimsOf(record);
    } catch (error) {
      return `token does not verify: ${error instanceof Error ? error.message.slice(0, 200) : "malformed"}`;
    }
    if (claims.jti !== record.jti) return "record jti differs from its token's";
    const agent = agentOf(claims.iss, network);
    if (agent === undefined || NOT_ACTIONS.test(claims.exec_act)) return undefined;
    const ext = claims.ext ?? {};
    const outcome = ext[`${TETHER_EXT_PREFIX}outcome`];
    const usage = ext[`${TETHER_EXT_PREFIX}usage`] as { units?: unknown } | undefined;
    let params: Record<string, unknown> | undefined;
    if (record.undo !== undefined) {
      try {
        const data = decodeBody(Buffer.from(record.undo.data, "base64")) as { params?: unknown };
        if (typeof data.params === "object" && data.params !== null && hashValue(data.params) === claims.inp_hash) params = data.params as Record<string, unknown>;
      } catch {
        params = undefined;
      }
    }
    const parent = claims.par[0] === undefined ? undefined : await node.assurance.store.get(claims.par[0]);
    const peerIss = parent === undefined ? undefined : (decodeIss(parent.token) ?? parent.iss);
    const at = record.at !== undefined && Math.abs(record.at - claims.iat * 1000) <= 1000 ? record.at : claims.iat * 1000;
    return {
      jti: claims.jti,
      agent,
      act: claims.exec_act,
      at,
      outcome: outcome === "failed" || outcome === "refused" ? outcome : "ok",
      params,
      units: typeof usage?.units === "number" ? usage.units : undefined,
      peer: peerIss === undefined ? undefined : agentOf(peerIss, network),
    };
  };

  return {
    read: async (after, limit) => {
      const jsm = await jetstreamManager(node.nats);
      const info = await jsm.streams.info(stream).catch(() => undefined);
      const last = info?.state.last_seq ?? 0;
      const entries: StreamEntry[] = [];
      for (let seq = Math.max(after + 1, info?.state.first_seq ?? 1); seq <= last && entries.length < limit; seq += 1) {
        const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
        if (m === null || !m.subject.startsWith(prefix) || m.data.length === 0) {
          entries.push({ seq });
          continue;
        }
        let parsed;
        try {
          parsed = StoredEctRecord.safeParse(JSON.parse(decoder.decode(m.data)));
        } catch {
          parsed = undefined;
        }
        if (parsed?.success !== true) {
          entries.push({ seq, rejected: "malformed ECT record" });
          continue;
        }
        const result = await observe(parsed.data);
        entries.push(typeof result === "string" ? { seq, rejected: result } : result === undefined ? { seq } : { seq, observation: result });
      }
      return entries;
    },
    mint: (p) => mintActorEct(node, p),
    now: () => node.clock.now(),
    clock,
    tell: (actorId, msg) => node.ref(actorId).tell(msg),
    record: async (event, subject, details) => {
      await node.assurance.recordEvent(event, subject, details).catch(() => undefined);
    },
  };
};

/** The parent's issuer from its token's payload (the store's `iss` field is unsigned metadata; the parent's own appraisal verifies it). */
const decodeIss = (token: string): string | undefined => {
  try {
    const part = token.includes(".") ? token.split(".")[1] : token;
    const payload = JSON.parse(Buffer.from(part ?? "", "base64url").toString("utf8")) as { iss?: unknown };
    return typeof payload.iss === "string" ? payload.iss : undefined;
  } catch {
    return undefined;
  }
};

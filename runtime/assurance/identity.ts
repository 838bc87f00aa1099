import { canonicalJson, encodeBody, sha256B64url } from "../../protocols/index.ts";

/** `tether://<network>/agent/<id>`: an agent's stable workload identifier (ECT `iss`). */
export const agentUri = (network: string, actorId: string): string => `tether://${network}/agent/${actorId}`;
/** The audience of every token minted in a network: its agents and its ledger verify them. */
export const networkAudience = (network: string): string => `tether://${network}`;

/** SHA-256 (base64url) of a value's RFC 8785 canonical JSON; values JSON cannot express are hashed as msgpack. */
export const hashValue = (value: unknown): string => {
  try {
    return sha256B64url(canonicalJson(value));
  } catch {
    return sha256B64url(encodeBody(value));
  }
};

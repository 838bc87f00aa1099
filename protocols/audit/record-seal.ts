import { CompactSign, compactVerify, decodeProtectedHeader } from "jose";
import { b64url, jwsSign } from "../ect/index.ts";
import type { CheckpointSigner, ResolveCheckpointKey } from "./checkpoint.ts";

/** JOSE `typ` of a record seal: the ledger key's signature over one record's hash. */
export const RECORD_SEAL_TYP = "tether-audit-seal+jwt";
/** The JetStream message header that carries a record's seal. */
export const RECORD_SEAL_HEADER = "Tether-Ledger-Seal";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Seals a message the ledger wrote: a compact JWS (payload: the hash of the message's last record,
 * which commits to every record of the message, see `chainedMessageRecords`) by the ledger key. A
 * message without a seal that verifies was not written by the ledger: whoever can publish on the
 * ledger subject can forge well-formed, correctly chained records, but not this signature.
 */
export const sealRecord = async (hash: string, signer: CheckpointSigner): Promise<string> => {
  if (signer.key instanceof Uint8Array) {
    return new CompactSign(encoder.encode(hash)).setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: RECORD_SEAL_TYP }).sign(signer.key);
  }
  // node:crypto directly (see jws-crypto.ts): the same compact JWS, one synchronous signature per stored message
  const input = `${b64url(JSON.stringify({ alg: signer.alg, kid: signer.kid, typ: RECORD_SEAL_TYP }))}.${b64url(hash)}`;
  return `${input}.${jwsSign(input, signer.alg, signer.key)}`;
};

/**
 * True when `seal` is a seal over `hash` by a key `resolveKey` knows (with its algorithm). Any
 * malformed, missing or foreign seal is false; key lookup failures are passed on.
 */
export const recordSealValid = async (seal: string | undefined, hash: string, resolveKey: ResolveCheckpointKey): Promise<boolean> => {
  if (seal === undefined || seal.length === 0 || seal.length > 4_096) return false;
  let kid: unknown;
  let alg: unknown;
  let typ: unknown;
  try {
    ({ kid, alg, typ } = decodeProtectedHeader(seal));
  } catch {
    return false;
  }
  if (typeof kid !== "string" || typ !== RECORD_SEAL_TYP) return false;
  const key = await resolveKey(kid);
  if (key === undefined || key.alg !== alg) return false;
  try {
    const { payload } = await compactVerify(seal, key.key, { algorithms: [key.alg] });
    return decoder.decode(payload) === hash;
  } catch {
    return false;
  }
};

import { createHash, type KeyObject } from "node:crypto";
import type { CryptoKey } from "jose";
import { echo, ectError } from "./ect-errors.ts";
import { isEctAlgorithm, type EctAlgorithm } from "./header.ts";
import { b64url, jwsSign, jwsVerify } from "./jws-crypto.ts";

/** JOSE `typ` of a message binding. */
export const BINDING_TYP = "tether-binding+jws";
/** Longest binding header value read (header plus signature of either algorithm fit easily). */
const MAX_BINDING_CHARS = 1024;

/**
 * What a message binding covers: the token's `jti`, the message id, the target actor, the network and
 * the SHA-256 of the message's wire bytes (the encoded envelope: kind, id, sender, priority, body).
 */
export interface BindingSubject {
  readonly network: string;
  readonly jti: string;
  readonly messageId: string;
  readonly target: string;
  /** The message as it crosses the bus (the NATS payload). */
  readonly data: Uint8Array;
}

/** The key that signs bindings: the sending node's. */
export interface BindingSigner {
  readonly kid: string;
  readonly alg: EctAlgorithm;
  readonly key: CryptoKey | KeyObject;
}

/**
 * The detached payload (RFC 7515 Appendix F): never sent, rebuilt by the receiver from the message
 * itself. RFC 8785 canonical JSON of `{ body, id, jti, net, to }` (string members, keys sorted).
 */
export const bindingPayload = (s: BindingSubject): string =>
  JSON.stringify({ body: createHash("sha256").update(s.data).digest("base64url"), id: s.messageId, jti: s.jti, net: s.network, to: s.target });

const protectedHeader = (signer: BindingSigner): string => b64url(JSON.stringify({ alg: signer.alg, kid: signer.kid, typ: BINDING_TYP }));

/**
 * Signs a binding of a token to one message: a compact JWS with a detached payload,
 * `<b64url protected header>..<b64url signature>`, the value of the `Execution-Context-Binding` header.
 */
export const signMessageBinding = (subject: BindingSubject, signer: BindingSigner): string => {
  const header = protectedHeader(signer);
  return `${header}..${jwsSign(`${header}.${b64url(bindingPayload(subject))}`, signer.alg, signer.key)}`;
};

/** The header of a binding, read without trusting it. */
export interface BindingHeader {
  readonly kid: string;
  readonly alg: EctAlgorithm;
  readonly encoded: string;
  readonly signature: string;
}

/** Splits and checks a binding's shape and header; ERR_ECT_BINDING_INVALID when it is not one. */
export const readMessageBinding = (binding: string): BindingHeader => {
  const invalid = (reason: string) => ectError("ERR_ECT_BINDING_INVALID", `the message binding is invalid: ${reason}`, { reason, binding: echo(binding) });
  if (binding.length > MAX_BINDING_CHARS) throw invalid("too long");
  const parts = binding.split(".");
  if (parts.length !== 3 || parts[1] !== "" || parts[0] === "" || parts[2] === "") throw invalid("not a compact JWS with a detached payload");
  const encoded = parts[0] as string;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(encoded, "base64url").toString("utf8"));
  } catch {
    throw invalid("the header is not base64url JSON");
  }
  const h = json as Record<string, unknown> | null;
  if (typeof h !== "object" || h === null || Array.isArray(h)) throw invalid("the header is not an object");
  if (h["typ"] !== BINDING_TYP) throw invalid(`typ is not ${BINDING_TYP}`);
  if (Object.hasOwn(h, "crit") || Object.hasOwn(h, "b64")) throw invalid("unsupported header parameters");
  const alg = h["alg"];
  const kid = h["kid"];
  if (!isEctAlgorithm(alg)) throw invalid(`alg ${String(echo(alg))} is not allowed`);
  if (typeof kid !== "string" || kid.length === 0 || kid.length > 128) throw invalid("no usable kid");
  return { kid, alg, encoded, signature: parts[2] as string };
};

/**
 * True when the binding's signature, by `key` (the public key its `kid` names, already checked to be
 * a node's key with the header's algorithm), covers exactly this token id, message id, target, network
 * and body.
 */
export const messageBindingValid = (header: BindingHeader, subject: BindingSubject, key: CryptoKey | KeyObject): boolean =>
  jwsVerify(`${header.encoded}.${b64url(bindingPayload(subject))}`, header.signature, header.alg, key);

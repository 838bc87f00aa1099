import { base64url } from "jose";
import { echo, ectError } from "./ect-errors.ts";
import { EctLimits } from "./limits.ts";

const BASE64URL_SEGMENT = /^[A-Za-z0-9_-]+$/;

export type JsonObject = Record<string, unknown>;

/** The three segments of a compact JWS, header decoded but not trusted. */
export interface CompactJwsParts {
  readonly header: JsonObject;
  readonly headerSegment: string;
  readonly payloadSegment: string;
  readonly signatureSegment: string;
}

/** Checks that a token is a string of sane length; ERR_ECT_MALFORMED otherwise. */
export const assertTokenString = (token: unknown): string => {
  if (typeof token !== "string") {
    throw ectError("ERR_ECT_MALFORMED", "an ECT must be a string", { received: echo(token) });
  }
  if (token.length === 0 || token.length > EctLimits.maxTokenChars) {
    throw ectError("ERR_ECT_MALFORMED", `an ECT must be 1-${EctLimits.maxTokenChars} characters long`, {
      length: token.length,
      limit: EctLimits.maxTokenChars,
    });
  }
  return token;
};

/** An L1 (unsigned) token is one base64url segment; a compact JWS always has dots. */
export const isUnsignedForm = (token: string): boolean => !token.includes(".");

const decodeSegment = (segment: string, what: string): Uint8Array => {
  // Length 1 mod 4 cannot come from any byte string; jose's decoder would throw a TypeError.
  if (!BASE64URL_SEGMENT.test(segment) || segment.length % 4 === 1) {
    throw ectError("ERR_ECT_MALFORMED", `the ECT ${what} is not base64url`, { segment: what });
  }
  try {
    return base64url.decode(segment);
  } catch (cause) {
    throw ectError("ERR_ECT_MALFORMED", `the ECT ${what} is not base64url`, { segment: what }, cause);
  }
};

/** Strict UTF-8, then JSON, then a plain object (not an array, not null). */
export const parseJsonObject = (bytes: Uint8Array, what: string): JsonObject => {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw ectError("ERR_ECT_MALFORMED", `the ECT ${what} is not UTF-8 JSON`, { segment: what }, cause);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw ectError("ERR_ECT_MALFORMED", `the ECT ${what} is not a JSON object`, { segment: what });
  }
  return value as JsonObject;
};

/**
 * Splits a compact JWS and decodes its header without trusting anything. Header and payload must
 * be non-empty base64url; the signature may be empty here so that an `alg: none` token reaches
 * the allow-list check and is refused there with ERR_ECT_ALG_NOT_ALLOWED.
 */
export const splitCompactJws = (token: string): CompactJwsParts => {
  const segments = token.split(".");
  if (segments.length !== 3) {
    throw ectError("ERR_ECT_MALFORMED", "an ECT must be a compact JWS (three dot-separated segments)", {
      segments: segments.length,
    });
  }
  const [headerSegment = "", payloadSegment = "", signatureSegment = ""] = segments;
  if (payloadSegment === "" || !BASE64URL_SEGMENT.test(payloadSegment)) {
    throw ectError("ERR_ECT_MALFORMED", "the ECT payload is not base64url", { segment: "payload" });
  }
  if (signatureSegment !== "" && !BASE64URL_SEGMENT.test(signatureSegment)) {
    throw ectError("ERR_ECT_MALFORMED", "the ECT signature is not base64url", { segment: "signature" });
  }
  const header = parseJsonObject(decodeSegment(headerSegment, "header"), "header");
  return { header, headerSegment, payloadSegment, signatureSegment };
};

export const decodePayloadSegment = (segment: string): JsonObject =>
  parseJsonObject(decodeSegment(segment, "payload"), "payload");

/** What `decodeEctUnverified` shows: nothing in it is verified. */
export interface DecodedEct {
  /** `jws`: a compact JWS (L2 if it verifies); `unsigned`: an L1 token. */
  readonly form: "jws" | "unsigned";
  /** The JOSE header; absent for an unsigned token. */
  readonly header: JsonObject | undefined;
  /** The payload exactly as sent (-01 names are not normalized, nothing is validated). */
  readonly claims: JsonObject;
}

/**
 * Decodes a token for display (`tether ect inspect`) without verifying anything. Throws
 * ERR_ECT_MALFORMED when it is neither a compact JWS nor an L1 token with a JSON object inside.
 */
export const decodeEctUnverified = (token: unknown): DecodedEct => {
  const text = assertTokenString(token);
  if (isUnsignedForm(text)) {
    return { form: "unsigned", header: undefined, claims: decodePayloadSegment(text) };
  }
  const parts = splitCompactJws(text);
  return { form: "jws", header: parts.header, claims: decodePayloadSegment(parts.payloadSegment) };
};

import { z } from "zod";

/** A network name as a NATS subject token (the rule of `protocols/subjects.ts`, kept in step by a test). */
const NETWORK = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export const NetworkName = z.string().regex(NETWORK, { error: "must be a network name (1-128 of A-Z a-z 0-9 _ -)" });

/** A non-negative safe integer: a record's position in the chain. */
export const ChainIndex = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Milliseconds since the epoch. */
export const EpochMs = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Seconds since the epoch (JWT `iat`). */
export const EpochSeconds = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** A compact JWS: three base64url segments, the signature not empty. */
export const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

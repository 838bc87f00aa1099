import { createECDH, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { base64url, CompactSign } from "jose";
import { expect } from "vitest";
import { isTetherError } from "../../../protocols/index.ts";
import {
  appendRecord,
  checkpointRange,
  hashRecord,
  signCheckpoint,
  type CheckpointAlgorithm,
  type CheckpointKey,
  type LedgerRecord,
  type ResolveCheckpointKey,
} from "../../../protocols/index.ts";

/** The fixed clock of every audit unit test: 2025-10-09T08:53:20Z. */
export const NOW_MS = 1_760_000_000_000;
export const NOW_S = NOW_MS / 1000;

/** mulberry32: a small seeded PRNG, so every generated ledger is the same on every run. */
export const seeded = (seed: number): (() => number) => {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

/** A digest-shaped value from the PRNG (a valid base64url SHA-256 that hashes nothing in the ledger). */
export const fakeDigest = (random: () => number): string => {
  const bytes = Buffer.alloc(32);
  for (let i = 0; i < 32; i += 1) bytes[i] = Math.floor(random() * 256);
  return bytes.toString("base64url");
};

export interface TestKey {
  readonly kid: string;
  readonly alg: CheckpointAlgorithm;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** Ed25519 from a fixed 32-byte seed (RFC 8410 PKCS#8 prefix + seed): the same key on every run. */
export const ed25519Key = (kid: string, seedByte: number): TestKey => {
  const prefix = Buffer.from("302e020100300506032b657004220420", "hex");
  const privateKey = createPrivateKey({ key: Buffer.concat([prefix, Buffer.alloc(32, seedByte)]), format: "der", type: "pkcs8" });
  return { kid, alg: "EdDSA", privateKey, publicKey: createPublicKey(privateKey) };
};

/** P-256 from a fixed scalar. */
export const p256Key = (kid: string, seedByte: number): TestKey => {
  const d = Buffer.alloc(32, seedByte);
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(d);
  const point = ecdh.getPublicKey();
  const jwk = {
    kty: "EC",
    crv: "P-256",
    x: point.subarray(1, 33).toString("base64url"),
    y: point.subarray(33, 65).toString("base64url"),
    d: d.toString("base64url"),
  };
  const privateKey = createPrivateKey({ key: jwk, format: "jwk" });
  return { kid, alg: "ES256", privateKey, publicKey: createPublicKey(privateKey) };
};

export const LEDGER_KEY = p256Key("ledger-key-1", 7);
export const OTHER_LEDGER_KEY = ed25519Key("ledger-key-2", 9);
export const AGENT_KEY = ed25519Key("agent-a-key", 3);

/** A resolver over the given public keys. */
export const keyring = (...keys: readonly TestKey[]): ResolveCheckpointKey => {
  const byKid = new Map<string, CheckpointKey>(keys.map((key) => [key.kid, { key: key.publicKey, alg: key.alg }]));
  return (kid) => Promise.resolve(byKid.get(kid));
};

export const resolveKey = keyring(LEDGER_KEY, OTHER_LEDGER_KEY);

export interface EctClaims {
  readonly iss: string;
  readonly aud: readonly string[];
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
  readonly exec_act: string;
  readonly par: readonly string[];
  readonly wid?: string;
}

/** An L1 token (unsigned JSON in one base64url segment). */
export const unsignedToken = (claims: EctClaims): string => base64url.encode(JSON.stringify(claims));

/** An L2 token: a compact JWS (EdDSA, deterministic) with the -00 `typ`. */
export const signedToken = (claims: EctClaims, key: TestKey = AGENT_KEY): Promise<string> =>
  new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "wimse-exec+jwt" })
    .sign(key.privateKey);

/** The `ect` body the ledger writer stores for a token. */
export const ectBody = (token: string, claims: EctClaims, level: "L1" | "L2" | "L3") => ({
  token,
  jti: claims.jti,
  ...(claims.wid === undefined ? {} : { wid: claims.wid }),
  iss: claims.iss,
  exec_act: claims.exec_act,
  par: [...claims.par],
  iat: claims.iat,
  level,
});

/** A deterministic UUID-shaped id from the PRNG. */
export const seededUuid = (random: () => number): string => {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
};

/** Appends a checkpoint over `fromIndex..(last index)` signed by `key`. */
export const appendCheckpoint = async (
  records: LedgerRecord[],
  fromIndex: number,
  key: TestKey,
  network: string,
): Promise<void> => {
  const last = records[records.length - 1] as LedgerRecord;
  const range = checkpointRange(records, fromIndex, last.index);
  const signature = await signCheckpoint(
    { network, ...range, iat: Math.floor((NOW_MS + records.length * 1000) / 1000) },
    { key: key.privateKey, kid: key.kid, alg: key.alg },
  );
  records.push(appendRecord(last, { network, kind: "checkpoint", body: { ...range, signature }, at: NOW_MS + records.length * 1000 }));
};

export interface BuildLedgerOptions {
  readonly network?: string;
  /** Total records, checkpoints included. */
  readonly count?: number;
  /** A checkpoint after this many other records. */
  readonly checkpointEvery?: number;
  readonly seed?: number;
  readonly key?: TestKey;
}

/**
 * A valid ledger: `ect` (L1, some in one workflow) and `event` records chosen by the PRNG, and after
 * every `checkpointEvery` of them a checkpoint covering everything since the previous checkpoint
 * (that checkpoint included). Default: 50 records, checkpoints at positions 10, 21, 32 and 43.
 */
export const buildLedger = async (options: BuildLedgerOptions = {}): Promise<LedgerRecord[]> => {
  const { network = "clinic", count = 50, checkpointEvery = 10, seed = 42, key = LEDGER_KEY } = options;
  const random = seeded(seed);
  const records: LedgerRecord[] = [];
  let sinceCheckpoint = 0;
  let nextFrom = 0;
  const wid = seededUuid(random);
  let previousJti: string | undefined;
  while (records.length < count) {
    if (sinceCheckpoint === checkpointEvery) {
      await appendCheckpoint(records, nextFrom, key, network);
      nextFrom = records.length - 1;
      sinceCheckpoint = 0;
      continue;
    }
    const at = NOW_MS + records.length * 1000;
    const prev = records[records.length - 1];
    if (random() < 0.6) {
      const claims: EctClaims = {
        iss: `spiffe://example.com/agent/${Math.floor(random() * 5)}`,
        aud: ["spiffe://example.com/audit"],
        jti: seededUuid(random),
        iat: Math.floor(at / 1000),
        exp: Math.floor(at / 1000) + 600,
        exec_act: `step_${records.length}`,
        par: previousJti === undefined ? [] : [previousJti],
        wid,
      };
      previousJti = claims.jti;
      records.push(appendRecord(prev, { network, kind: "ect", body: ectBody(unsignedToken(claims), claims, "L1"), at }));
    } else {
      const names = ["key.rotated", "override.stop", "approval.granted", "violation"] as const;
      const event = names[Math.floor(random() * names.length)] as string;
      records.push(
        appendRecord(prev, {
          network,
          kind: "event",
          body: { event, subject: `agent-${Math.floor(random() * 5)}`, details: { n: records.length, note: "ok" } },
          at,
        }),
      );
    }
    sinceCheckpoint += 1;
  }
  return records;
};

/** A deep, plain-JSON copy (what a reader gets back from the stream). */
export const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

type Mutable = Record<string, unknown> & { body: Record<string, unknown> };

/** Edits record `position` of a copy; with `rehash`, also recomputes that record's own hash. */
export const edit = (
  records: readonly LedgerRecord[],
  position: number,
  change: (record: Mutable) => void,
  rehash = false,
): unknown[] => {
  const out = copy(records) as unknown as Mutable[];
  const target = out[position] as Mutable;
  change(target);
  if (rehash) target["hash"] = hashRecord(target);
  return out;
};

/** Re-hashes every record from `position` on, re-linking the chain (an attacker rewriting history). */
export const rehashFrom = (records: unknown[], position: number): unknown[] => {
  for (let p = position; p < records.length; p += 1) {
    const record = records[p] as Mutable;
    if (p > position) record["prevHash"] = (records[p - 1] as Mutable)["hash"];
    record["hash"] = hashRecord(record);
  }
  return records;
};

/** Asserts a TetherError with the given code (audit codes are not in ErrorCode yet). */
export const expectAuditError = (run: () => unknown, code: string): void => {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(isTetherError(caught), `expected a TetherError ${code}, got ${String(caught)}`).toBe(true);
  expect((caught as { code: string }).code).toBe(code);
};

export const expectAuditRejection = async (promise: Promise<unknown>, code: string): Promise<void> => {
  const caught = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(isTetherError(caught), `expected a TetherError ${code}, got ${String(caught)}`).toBe(true);
  expect((caught as { code: string }).code).toBe(code);
};

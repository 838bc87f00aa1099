import { createPublicKey, randomUUID, type JsonWebKey, type KeyObject } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";
import {
  EctTypes,
  JwksKeyResolver,
  TETHER_EXT_PREFIX,
  generateSigningKey,
  mintEct,
  sha256B64url,
  verifyEct,
  type EctAlgorithm,
  type EctClaimsInput,
  type SigningKey,
} from "../protocols/index.ts";
import { compared, progress, type ComparedMetric } from "./report.ts";
import { median, ownCpuUs, within } from "./stats.ts";

export interface EctCryptoOptions {
  readonly rounds: number;
  /** Tokens per sequential round (one at a time). */
  readonly sequential: number;
  /** Tokens per concurrent round. */
  readonly concurrentTokens: number;
  /** Operations in flight in the concurrent rounds. */
  readonly concurrency: number;
}

type Side = "tether" | "raw";
type Op = "sign" | "verify";
type Mode = "seq" | "c";

const ALGORITHMS: readonly EctAlgorithm[] = ["ES256", "EdDSA"];
/** Distinct tokens cycled through by the verify rounds (verification keeps no state between calls). */
const VERIFY_POOL = 512;
const RUN_LIMIT_MS = 120_000;
/**
 * Each round's count is run in this many slices, alternating the two sides slice by slice, so that a
 * burst of load from elsewhere on the machine lands on both sides alike.
 */
const SLICES = 4;

/** What one algorithm's rounds need: the key and the four operations. */
interface AlgSetup {
  readonly alg: EctAlgorithm;
  readonly ops: Record<Side, Record<Op, (i: number) => Promise<unknown>>>;
}

/**
 * Claims shaped like the ones a node mints for a `ctx.act` (one parent, a workflow, an input hash
 * and Tether's `ext` members); `iat`, `exp` and `jti` are filled in per token by both sides.
 */
const benchClaims = (): EctClaimsInput => ({
  iss: "tether://bench/agent/builder",
  aud: ["tether://bench"],
  exec_act: "implement_module",
  par: [randomUUID()],
  wid: randomUUID(),
  inp_hash: sha256B64url('{"by":"builder","seq":1}'),
  ext: {
    [`${TETHER_EXT_PREFIX}node`]: "bench-b",
    [`${TETHER_EXT_PREFIX}outcome`]: "ok",
    [`${TETHER_EXT_PREFIX}level`]: "L3",
    [`${TETHER_EXT_PREFIX}usage`]: { wallMs: 1, cpuUs: 180, messages: 0, bytes: 0 },
  },
});

const setUp = async (alg: EctAlgorithm): Promise<AlgSetup> => {
  const key: SigningKey = await generateSigningKey(alg);
  const resolver = new JwksKeyResolver({ keys: [key.publicJwk] });
  // the raw side verifies with the same public key, as a KeyObject (what JwksKeyResolver resolves to)
  const publicKey: KeyObject = createPublicKey({ key: key.publicJwk as JsonWebKey, format: "jwk" });
  const claims = benchClaims();
  const typ = EctTypes.v00;
  const tetherSign = () => mintEct(claims, { key: key.privateKey, kid: key.kid, alg });
  const rawSign = () => {
    const iat = Math.floor(Date.now() / 1000);
    return new SignJWT({ ...claims, iat, exp: iat + 600, jti: randomUUID() }).setProtectedHeader({ alg, typ, kid: key.kid }).sign(key.privateKey);
  };
  const pool: string[] = [];
  for (let i = 0; i < VERIFY_POOL; i++) pool.push(await tetherSign());
  const token = (i: number): string => pool[i % VERIFY_POOL] as string;
  const setup: AlgSetup = {
    alg,
    ops: {
      tether: {
        sign: tetherSign,
        verify: (i) => verifyEct(token(i), { keys: resolver, allowMissingParents: true }),
      },
      raw: {
        sign: rawSign,
        verify: (i) => jwtVerify(token(i), publicKey, { algorithms: [alg], typ }),
      },
    },
  };
  // both sides accept each other's tokens: the comparison is like for like
  const checked = await verifyEct(await rawSign(), { keys: resolver, allowMissingParents: true });
  const rawChecked = await jwtVerify(token(0), publicKey, { algorithms: [alg], typ });
  if (checked.claims.exec_act !== claims.exec_act || rawChecked.payload["exec_act"] !== claims.exec_act) {
    throw new Error(`ect ${alg}: the tokens of the two sides do not verify alike`);
  }
  return setup;
};

interface Timed {
  ms: number;
  cpuUs: number;
}

/** Runs `n` operations, `concurrency` at a time (1: strictly sequential); adds its wall and CPU time to `into`. */
const timed = async (op: (i: number) => Promise<unknown>, n: number, concurrency: number, what: string, into: Timed): Promise<void> => {
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (issued < n) await op(issued++);
  };
  const cpu0 = ownCpuUs();
  const t0 = performance.now();
  await within(Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker)), RUN_LIMIT_MS, what);
  into.ms += performance.now() - t0;
  into.cpuUs += ownCpuUs() - cpu0;
};

/**
 * Part `crypto` of `bench ect`: tokens signed and verified per second, sequentially and with
 * `concurrency` in flight, for ES256 and EdDSA. Tether = `mintEct` / `verifyEct`; raw = jose's
 * `SignJWT` / `jwtVerify` on the same claims, header and keys. Interleaved round by round.
 */
export const runEctCrypto = async (options: EctCryptoOptions): Promise<ComparedMetric[]> => {
  const setups: AlgSetup[] = [];
  for (const alg of ALGORITHMS) setups.push(await setUp(alg));
  const modes: ReadonlyArray<{ mode: Mode; n: number; concurrency: number }> = [
    { mode: "seq", n: options.sequential, concurrency: 1 },
    { mode: "c", n: options.concurrentTokens, concurrency: options.concurrency },
  ];
  const label = (mode: Mode) => (mode === "seq" ? "seq" : `c${options.concurrency}`);
  const results = new Map<string, Record<Side, { rate: number[]; cpu: number[] }>>();
  const keyOf = (alg: EctAlgorithm, op: Op, mode: Mode) => `${op}|${alg}|${mode}`;

  // warm-up (JIT, key import caches), not measured
  const scratch: Timed = { ms: 0, cpuUs: 0 };
  for (const s of setups) {
    for (const side of ["tether", "raw"] as const) {
      for (const op of ["sign", "verify"] as const) await timed(s.ops[side][op], 500, 16, `warm-up ${s.alg} ${op}`, scratch);
    }
  }
  progress("ect crypto: warm-up done");

  for (let round = 1; round <= options.rounds; round++) {
    for (const s of setups) {
      for (const op of ["sign", "verify"] as const) {
        for (const m of modes) {
          const key = keyOf(s.alg, op, m.mode);
          const entry = results.get(key) ?? { tether: { rate: [], cpu: [] }, raw: { rate: [], cpu: [] } };
          results.set(key, entry);
          const sums: Record<Side, Timed> = { tether: { ms: 0, cpuUs: 0 }, raw: { ms: 0, cpuUs: 0 } };
          for (let slice = 0; slice < SLICES; slice++) {
            const n = Math.floor((m.n * (slice + 1)) / SLICES) - Math.floor((m.n * slice) / SLICES);
            // alternate which side goes first, slice by slice and round by round
            const order: Side[] = (round + slice) % 2 === 1 ? ["raw", "tether"] : ["tether", "raw"];
            for (const side of order) await timed(s.ops[side][op], n, m.concurrency, `${side} ${op} ${s.alg} ${label(m.mode)}`, sums[side]);
          }
          for (const side of ["tether", "raw"] as const) {
            entry[side].rate.push(m.n / (sums[side].ms / 1000));
            entry[side].cpu.push(sums[side].cpuUs / m.n);
          }
          progress(
            `ect crypto: round ${round} ${op} ${s.alg} ${label(m.mode)}: tether ${Math.round(m.n / (sums.tether.ms / 1000))}, raw ${Math.round(m.n / (sums.raw.ms / 1000))} tokens/s; cpu tether ${(sums.tether.cpuUs / m.n).toFixed(0)}, raw ${(sums.raw.cpuUs / m.n).toFixed(0)} µs/token`,
          );
        }
      }
    }
  }

  const metrics: ComparedMetric[] = [];
  const none = { tether: { rate: [], cpu: [] }, raw: { rate: [], cpu: [] } };
  for (const s of setups) {
    for (const op of ["sign", "verify"] as const) {
      for (const m of modes) {
        const entry = results.get(keyOf(s.alg, op, m.mode)) ?? none;
        metrics.push(compared("ect", `ect_${op}_${s.alg.toLowerCase()}_${label(m.mode)}`, "tokens/s", median(entry.tether.rate), median(entry.raw.rate)));
      }
    }
  }
  // CPU per token (process CPU, crypto worker threads included) from the sequential runs: steadier than rates
  for (const s of setups) {
    for (const op of ["sign", "verify"] as const) {
      const entry = results.get(keyOf(s.alg, op, "seq")) ?? none;
      metrics.push(compared("ect", `ect_${op}_${s.alg.toLowerCase()}_cpu_per_token`, "µs/token", median(entry.tether.cpu), median(entry.raw.cpu)));
    }
  }
  return metrics;
};

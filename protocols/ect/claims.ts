import { z } from "zod";
import type { ErrorCode } from "../error-codes.ts";
import type { TetherError } from "../errors.ts";
import { ectError } from "./ect-errors.ts";
import { EctLimits } from "./limits.ts";

/**
 * The one reverse-domain prefix of the `ext` keys Tether writes itself, e.g. `dev.tether.node`
 * (*Tether*: the draft asks for reverse-domain keys and leaves the choice to each implementation).
 */
export const TETHER_EXT_PREFIX = "dev.tether.";

/** Name of the zod issue param through which a size limit carries its own error code. */
const LIMIT_CODE = "ectCode";

/** An absolute URI: a scheme, then no whitespace or control characters, and parseable by WHATWG URL. */
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s\p{Cc}]+$/u;
/** Plain base64url of a 32-byte digest: 43 characters, no padding, no `sha-256:` prefix. */
const SHA256_B64URL = /^[A-Za-z0-9_-]{43}$/;
/**
 * Reverse-domain key: at least two dot-separated labels, e.g. `dev.tether.node`, `com.example.risk_score`.
 * *Tether*: the draft gives no grammar; labels after the first may use `_` and mixed case.
 */
const REVERSE_DOMAIN_KEY = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9_-]+)+$/;

const limitIssue = (input: unknown, code: ErrorCode, message: string, details: Record<string, unknown>) =>
  ({ code: "custom", message, input, params: { [LIMIT_CODE]: code, ...details } }) as const;

const isPlainObject = (value: object): boolean => {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

/**
 * Walks a would-be JSON value, stopping as soon as it is too deep (which also stops on a cyclic
 * object handed to the minter). `depth` is the level of `value` when it is a container.
 */
const jsonProblem = (value: unknown, depth: number): "too_deep" | "not_json" | undefined => {
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? undefined : "not_json";
  if (typeof value !== "object") return "not_json";
  if (depth > EctLimits.maxExtDepth) return "too_deep";
  const children = Array.isArray(value) ? value : isPlainObject(value) ? Object.values(value) : undefined;
  if (children === undefined) return "not_json";
  for (const child of children) {
    const problem = jsonProblem(child, depth + 1);
    if (problem !== undefined) return problem;
  }
  return undefined;
};

const utf8Length = (text: string): number => new TextEncoder().encode(text).length;

const IssuerUri = z
  .string()
  .max(EctLimits.maxUriChars)
  .refine((s) => ABSOLUTE_URI.test(s) && URL.canParse(s), { error: "must be an absolute URI (e.g. a SPIFFE ID)" });

const AudienceEntry = z.string().min(1).max(EctLimits.maxUriChars);

/** `aud`: one verifier, or a non-empty list of them. Kept in the form it came in. */
const Audience = z.union([AudienceEntry, z.array(AudienceEntry).min(1).max(EctLimits.maxAudiences)]);

/** NumericDate in whole seconds (RFC 7519), a safe non-negative integer. */
const NumericDate = z.int().nonnegative();

export const Sha256B64url = z
  .string()
  .regex(SHA256_B64URL, { error: "must be a plain base64url SHA-256 digest (43 characters of A-Z a-z 0-9 _ -)" });

const ExecAction = z.string().min(1).max(EctLimits.maxActionChars);

/**
 * `par` (-00) / `pred` (-01): parent `jti`s, `[]` for a root. More than 100 is its own error code.
 * *Tether*: entries are bounded strings (not forced to be UUIDs, so a peer's ids still resolve);
 * a parent listed twice is refused, since it names the same DAG edge twice.
 */
const ParentList = z.array(z.string().min(1).max(EctLimits.maxParentIdChars)).check((ctx) => {
  const count = ctx.value.length;
  if (count > EctLimits.maxParents) {
    ctx.issues.push(
      limitIssue(ctx.value, "ERR_ECT_TOO_MANY_PARENTS", `lists ${count} parents, more than ${EctLimits.maxParents}`, {
        limit: EctLimits.maxParents,
        actual: count,
      }),
    );
  } else if (new Set(ctx.value).size !== count) {
    ctx.issues.push({ code: "custom", message: "lists the same parent more than once", input: ctx.value });
  }
});

/**
 * `ext` (-00) / `ect_ext` (-01): an object with reverse-domain keys and JSON values, nesting depth
 * at most 5 (the object itself is level 1), at most 4096 bytes as `JSON.stringify` writes it in UTF-8
 * (*Tether*: the draft does not say which serialization; this one is deterministic for parsed input).
 */
const Extension = z
  .record(
    z.string().max(EctLimits.maxExtKeyChars).regex(REVERSE_DOMAIN_KEY, { error: "ext keys must be reverse-domain names such as dev.tether.node" }),
    z.unknown(),
  )
  .check((ctx) => {
    const problem = jsonProblem(ctx.value, 1);
    if (problem === "too_deep") {
      ctx.issues.push(
        limitIssue(ctx.value, "ERR_ECT_EXT_TOO_DEEP", `nests deeper than ${EctLimits.maxExtDepth} levels`, {
          limit: EctLimits.maxExtDepth,
        }),
      );
      return;
    }
    if (problem === "not_json") {
      ctx.issues.push({ code: "custom", message: "holds a value that is not plain JSON", input: ctx.value });
      return;
    }
    const bytes = utf8Length(JSON.stringify(ctx.value));
    if (bytes > EctLimits.maxExtBytes) {
      ctx.issues.push(
        limitIssue(ctx.value, "ERR_ECT_EXT_TOO_LARGE", `serializes to ${bytes} bytes, more than ${EctLimits.maxExtBytes}`, {
          limit: EctLimits.maxExtBytes,
          actual: bytes,
        }),
      );
    }
  });

/** Claims common to -00 and -01 under the same name. */
const commonShape = {
  iss: IssuerUri,
  aud: Audience,
  iat: NumericDate,
  exp: NumericDate,
  jti: z.uuid(),
  exec_act: ExecAction,
  wid: z.uuid().optional(),
  inp_hash: Sha256B64url.optional(),
  out_hash: Sha256B64url.optional(),
};

type Payload<T> = { value: T; issues: z.core.$ZodRawIssue[] };

/** *Tether*: a token whose `exp` is not after its `iat` is never valid, whatever the clock says. */
const expAfterIat = (ctx: Payload<{ iat: number; exp: number }>): void => {
  if (ctx.value.exp <= ctx.value.iat) {
    ctx.issues.push({ code: "custom", message: "must be later than iat", input: ctx.value.exp, path: ["exp"] });
  }
};

/**
 * Claims of an ECT in Tether's internal shape: the -00 names (`par`, `ext`). Unknown claims
 * (`pol`, `pol_decision`, `sub`, …) are allowed and kept as they came.
 */
export const EctClaims = z.looseObject({ ...commonShape, par: ParentList, ext: Extension.optional() }).check(expAfterIat);
export type EctClaims = z.infer<typeof EctClaims>;

/**
 * Claims as they arrive on the wire: -00 (`par`, `ext`) or -01 (`pred`, `ect_ext`), normalized to
 * `EctClaims`. Carrying both names of one claim is refused: the two could disagree.
 */
export const EctWireClaims = z
  .looseObject({
    ...commonShape,
    par: ParentList.optional(),
    pred: ParentList.optional(),
    ext: Extension.optional(),
    ect_ext: Extension.optional(),
  })
  .check((ctx) => {
    const { par, pred, ext, ect_ext } = ctx.value;
    if (par !== undefined && pred !== undefined) {
      ctx.issues.push({ code: "custom", message: "carries both par (-00) and pred (-01)", input: pred, path: ["pred"] });
    } else if (par === undefined && pred === undefined) {
      ctx.issues.push({ code: "custom", message: "is required ([] for a root task)", input: undefined, path: ["par"] });
    }
    if (ext !== undefined && ect_ext !== undefined) {
      ctx.issues.push({ code: "custom", message: "carries both ext (-00) and ect_ext (-01)", input: ect_ext, path: ["ect_ext"] });
    }
  })
  .check(expAfterIat)
  .transform(({ par, pred, ext, ect_ext, ...rest }): EctClaims => {
    const extension = ext ?? ect_ext;
    return { ...rest, par: par ?? pred ?? [], ...(extension === undefined ? {} : { ext: extension }) };
  });

/**
 * What a caller passes to the minters: the claims with `iat`, `exp` and `jti` optional (filled in
 * when absent). Only the -00 names: Tether emits -00, so `pred` / `ect_ext` are refused here.
 */
export const EctClaimsInput = z.looseObject({
  ...commonShape,
  iat: NumericDate.optional(),
  exp: NumericDate.optional(),
  jti: z.uuid().optional(),
  par: ParentList,
  ext: Extension.optional(),
  pred: z.never({ error: "use par: Tether emits the -00 claim names" }).optional(),
  ect_ext: z.never({ error: "use ext: Tether emits the -00 claim names" }).optional(),
});
export type EctClaimsInput = z.input<typeof EctClaimsInput>;

const MAX_REPORTED_ISSUES = 8;

const pathOf = (path: readonly PropertyKey[]): string => (path.length === 0 ? "(claims)" : path.map(String).join("."));

/**
 * One TetherError for a failed claims parse. A size limit wins over other problems (it has its
 * own code); otherwise ERR_ECT_CLAIM_INVALID naming the first claim at fault.
 */
export const claimsError = (issues: readonly z.core.$ZodIssue[]): TetherError => {
  const limited = issues.find((i) => i.code === "custom" && typeof i.params?.[LIMIT_CODE] === "string");
  const issue = limited ?? issues[0];
  const claim = issue === undefined ? "(claims)" : pathOf(issue.path);
  const details: Record<string, unknown> = {
    claim,
    issues: issues.slice(0, MAX_REPORTED_ISSUES).map((i) => ({ claim: pathOf(i.path), message: i.message })),
  };
  if (limited?.code === "custom" && limited.params !== undefined) {
    const { [LIMIT_CODE]: code, ...limit } = limited.params as Record<string, unknown>;
    return ectError(code as ErrorCode, `ECT claim ${claim} ${limited.message}`, { ...details, ...limit });
  }
  return ectError("ERR_ECT_CLAIM_INVALID", `ECT claim ${claim} is invalid: ${issue?.message ?? "unknown problem"}`, details);
};

/** Parses a payload in either draft's names into `EctClaims`; throws a TetherError with an ECT code. */
export const parseWireClaims = (payload: unknown): EctClaims => {
  const result = EctWireClaims.safeParse(payload);
  if (!result.success) throw claimsError(result.error.issues);
  return result.data;
};

import type { z } from "zod";
import { TetherError, type ErrorCode } from "../protocols/index.ts";

/** The codes supervisors/ emits (registered in protocols/error-codes.ts). */
export type SupervisorErrorCode = Extract<ErrorCode, `ERR_SUPERVISOR_${string}` | `ERR_BREAKER_${string}` | `ERR_BULKHEAD_${string}`>;

/** Builds a TetherError with one of the codes above; the only place supervisors/ constructs errors. */
export const supervisorError = (
  code: SupervisorErrorCode,
  message: string,
  options: { readonly cause?: unknown; readonly details?: Record<string, unknown> } = {},
): TetherError =>
  new TetherError(code, message, options);

/** Lists every problem of a failed parse as `path: message`, following the closest branch of a union. */
const problemsOf = (issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): string[] =>
  issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      // Report the branch that came closest (fewest problems) instead of zod's bare "Invalid input".
      const closest = issue.errors.reduce((best, branch) => (branch.length < best.length ? branch : best));
      if (closest.length > 0) return problemsOf(closest, path);
    }
    return [`${path.map(String).join(".") || "(root)"}: ${issue.message}`];
  });

/**
 * Validates `input` against an options schema and fills in its defaults; any problem becomes one
 * ERR_SUPERVISOR_SPEC_INVALID listing them all (`details.problems`).
 */
export const parseSupervisorOptions = <S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> => {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = problemsOf(result.error.issues);
  throw supervisorError("ERR_SUPERVISOR_SPEC_INVALID", `invalid ${what}: ${problems.join("; ")}`, { details: { what, problems } });
};

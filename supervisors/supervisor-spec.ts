import { z } from "zod";
import { isValidToken } from "../protocols/index.ts";
import { BackoffPolicy, exponentialBackoff } from "./backoff.ts";
import { RestartIntensityOptions } from "./restart-intensity.ts";
import { parseSupervisorOptions, supervisorError } from "./supervisor-errors.ts";

/** What a supervisor does when a child fails (Erlang/OTP's strategies). */
export const Strategy = {
  /** Restart only the failed child. */
  oneForOne: "one_for_one",
  /** Stop every child (reverse order) and start them all again (in order). */
  oneForAll: "one_for_all",
  /** Restart the failed child and every child started after it. */
  restForOne: "rest_for_one",
} as const;
export type Strategy = (typeof Strategy)[keyof typeof Strategy];

/** When a child is restarted after it exits. */
export const RestartType = {
  /** Always. */
  permanent: "permanent",
  /** Only after an abnormal exit (an error); a normal exit leaves it stopped. */
  transient: "transient",
  /** Never, not even when a sibling's failure takes it down under one_for_all or rest_for_one. */
  temporary: "temporary",
} as const;
export type RestartType = (typeof RestartType)[keyof typeof RestartType];

/** How the runtime reacts to a child failure: restart per the strategy, or roll back the work first. */
export const FailureMode = { restart: "restart", rollback: "rollback" } as const;
export type FailureMode = (typeof FailureMode)[keyof typeof FailureMode];

const token = (what: string) =>
  z.string().refine(isValidToken, { message: `${what} must be 1-128 characters of A-Z a-z 0-9 _ -, starting with a letter or digit` });
const limitMs = z.number().int().positive().max(3_600_000);

/** Default backoff between restarts: 100 ms doubling to 10 s, 20 % jitter. */
export const DEFAULT_BACKOFF: BackoffPolicy = exponentialBackoff({ initialMs: 100, maxMs: 10_000 });

/** A worker child: the runtime calls `start` to make its actor. Defaults are documented per field. */
export const WorkerChildSpec = z
  .strictObject({
    kind: z.literal("worker").default("worker"),
    /** Unique in the whole tree (ids name actors in one network). */
    id: token("child id"),
    /** A factory the runtime calls (again) on every start; supervisors/ never calls it. */
    start: z.custom<() => unknown>((v) => typeof v === "function", { message: "start must be a function that creates the child" }),
    /** Default "permanent". */
    restart: z.enum(RestartType).default("permanent"),
    /** Time the child gets to stop before it is killed. Default 5 000 ms. */
    shutdownMs: limitMs.default(5_000),
    /** Time the child gets to start before the start counts as a failure. Default 5 000 ms. */
    startMs: limitMs.default(5_000),
    /** Placement hint: the node id the child should run on. Default: wherever the runtime places it. */
    node: token("node").optional(),
  })
  .readonly();

/**
 * A supervisor: strategy, restart intensity, backoff and ordered children, each of which is a worker or
 * another supervisor. As a child, a supervisor takes `restart`, `shutdownMs`, `startMs` and `node` like a
 * worker; its own `shutdownMs`/`startMs` default to the sum of its children's (they stop and start one
 * after another), so a parent's limit never cuts a well-behaved subtree short.
 */
export const SupervisorSpecSchema = z.strictObject({
  kind: z.literal("supervisor").default("supervisor"),
  id: token("supervisor id"),
  /** Default "one_for_one". */
  strategy: z.enum(Strategy).default("one_for_one"),
  /** Default 3 restarts within 5 000 ms; exceeding it stops the children and escalates to the parent. */
  intensity: RestartIntensityOptions.prefault({}),
  /** Delay before each restart. Default `DEFAULT_BACKOFF`. */
  backoff: BackoffPolicy.default(DEFAULT_BACKOFF),
  /** Default "restart". */
  onFailure: z.enum(FailureMode).default("restart"),
  /** Restart type of this supervisor as a child of another. Default "permanent". */
  restart: z.enum(RestartType).default("permanent"),
  /** Default: the sum of the children's shutdownMs. */
  shutdownMs: limitMs.optional(),
  /** Default: the sum of the children's startMs. */
  startMs: limitMs.optional(),
  node: token("node").optional(),
  /** Started in this order, stopped in reverse. */
  get children() {
    return z.array(z.union([WorkerChildSpec, SupervisorSpecSchema])).max(1_000).readonly();
  },
});

export type WorkerChildSpecInput = z.input<typeof WorkerChildSpec>;
export type WorkerChildSpec = z.output<typeof WorkerChildSpec>;
export type SupervisorSpecInput = z.input<typeof SupervisorSpecSchema>;
type ParsedSupervisorSpec = z.output<typeof SupervisorSpecSchema>;
/** A defined supervisor: every default filled in, every object frozen. */
export type SupervisorSpec = Readonly<Omit<ParsedSupervisorSpec, "shutdownMs" | "startMs" | "children">> & {
  readonly shutdownMs: number;
  readonly startMs: number;
  readonly children: readonly ChildSpec[];
};
export type ChildSpec = WorkerChildSpec | SupervisorSpec;

const finish = (spec: ParsedSupervisorSpec): SupervisorSpec => {
  const children = Object.freeze(spec.children.map((child): ChildSpec => (child.kind === "worker" ? child : finish(child))));
  const sum = (pick: (c: ChildSpec) => number) => children.reduce((total, c) => total + pick(c), 0);
  return Object.freeze({
    ...spec,
    shutdownMs: spec.shutdownMs ?? Math.max(1, sum((c) => c.shutdownMs)),
    startMs: spec.startMs ?? Math.max(1, sum((c) => c.startMs)),
    children,
  });
};

const duplicateIds = (spec: ParsedSupervisorSpec): string[] => {
  const seen = new Map<string, string>();
  const problems: string[] = [];
  const visit = (node: ParsedSupervisorSpec | WorkerChildSpec, path: string): void => {
    const first = seen.get(node.id);
    if (first === undefined) seen.set(node.id, path);
    else problems.push(`${path}.id: duplicate id "${node.id}" (also at ${first})`);
    if (node.kind === "supervisor") node.children.forEach((child, i) => visit(child, `${path}.children.${i}`));
  };
  visit(spec, "(root)");
  return problems;
};

/**
 * Validates a supervision tree and returns it as frozen plain data with every default filled in.
 * Bad input throws ERR_SUPERVISOR_SPEC_INVALID listing every problem (`details.problems`).
 * Ids must be unique across the whole tree; a defined supervisor may be used as another's child.
 */
export const defineSupervisor = (spec: SupervisorSpecInput): SupervisorSpec => {
  const parsed = parseSupervisorOptions(SupervisorSpecSchema, spec, "supervisor spec");
  const problems = duplicateIds(parsed);
  if (problems.length > 0) {
    throw supervisorError("ERR_SUPERVISOR_SPEC_INVALID", `invalid supervisor spec: ${problems.join("; ")}`, {
      details: { what: "supervisor spec", problems },
    });
  }
  return finish(parsed);
};

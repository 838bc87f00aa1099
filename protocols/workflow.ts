import { z } from "zod";
import { TetherError } from "./errors.ts";
import { Gate } from "./hitl.ts";

/**
 * Durable DAG workflows (issue #10, seed 03 "Agent Task DAG"): a declarative definition, validated
 * here (schema, unique ids, no dangling references, no cycles: each error names the step), run by a
 * workflow actor that checkpoints after every step. Each step's ECT names its dependencies' ECTs as
 * parents, so the workflow's ECT DAG is the workflow DAG.
 */

const Id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "1-64 letters, digits, _ or -");
const ActorId = z.string().min(1).max(128);

/** Where a message field comes from: the workflow's input, an earlier step's output (optionally a dot path into it), or a constant. */
export const InputSource = z.union([
  z.strictObject({ from: z.literal("input"), path: z.string().max(256).optional() }),
  z.strictObject({ from: z.literal("step"), step: Id, path: z.string().max(256).optional() }),
  z.strictObject({ value: z.unknown() }),
]);
export type InputSource = z.infer<typeof InputSource>;

export const RetryPolicy = z.strictObject({
  /** Attempts in all (1: no retry). */
  maxAttempts: z.number().int().min(1).max(20).default(1),
  backoffMs: z.number().int().min(0).max(3_600_000).default(0),
});

export const WorkflowStep = z.strictObject({
  id: Id,
  /** The actor that runs the step, or … */
  agent: ActorId.optional(),
  /** … any live actor advertising this capability. */
  capability: z.string().min(1).max(128).optional(),
  /** The message asked of the agent (its `type` and constant fields). */
  message: z.record(z.string().max(128), z.unknown()).refine((m) => typeof m["type"] === "string", "a step's message needs a string `type`"),
  /** Fields added to the message, each from the workflow input or an earlier step's output. */
  input: z.record(z.string().max(128), InputSource).default({}),
  dependsOn: z.array(Id).max(64).default([]),
  /** A human gate before the step runs (needs approvals wired into the workflow actor). */
  gate: Gate.optional(),
  /** Asked of the same agent (or `agent`) to undo the step when the workflow is compensated. */
  compensation: z.strictObject({ agent: ActorId.optional(), message: z.record(z.string().max(128), z.unknown()) }).optional(),
  retry: RetryPolicy.default({ maxAttempts: 1, backoffMs: 0 }),
  /** Ready steps start highest priority first (when `maxParallel` holds some back). */
  priority: z.number().int().min(-1000).max(1000).default(0),
  /**
   * The message field that carries `<wid>/<step>`: a step that was in flight when the workflow's node
   * died is asked again with the same key, so the agent can run it once (at-least-once delivery,
   * exactly-once effect when the agent dedupes by it).
   */
  idempotencyKey: z.string().min(1).max(128).optional(),
  timeoutMs: z.number().int().min(1).max(86_400_000).default(30_000),
});
export type WorkflowStepInput = z.input<typeof WorkflowStep>;
export type WorkflowStep = z.output<typeof WorkflowStep>;

export const WorkflowDefinition = z.strictObject({
  type: z.literal("tether.workflow.v1.definition").default("tether.workflow.v1.definition"),
  name: z.string().min(1).max(128),
  steps: z.array(WorkflowStep).min(1).max(256),
  /** Steps running at once, at most. */
  maxParallel: z.number().int().min(1).max(256).default(16),
  /** What a failed step does to the workflow: stop, or stop and run the done steps' compensations in reverse order. */
  onFailure: z.enum(["stop", "compensate"]).default("stop"),
});
export type WorkflowDefinitionInput = z.input<typeof WorkflowDefinition>;
export type WorkflowDefinition = z.output<typeof WorkflowDefinition>;

export const StepState = z.enum(["pending", "running", "done", "failed", "rolled_back"]);
export type StepState = z.infer<typeof StepState>;

const invalid = (message: string, step: string | undefined, extra: Record<string, unknown> = {}): TetherError =>
  new TetherError("ERR_WORKFLOW_INVALID", step === undefined ? message : `step ${JSON.stringify(step)}: ${message}`, { details: { ...(step === undefined ? {} : { step }), ...extra } });

/**
 * Parses and checks a definition: schema, unique step ids, exactly one of agent/capability, every
 * `dependsOn` and input `step` names a step (an input read from a step also needs a dependency on it),
 * and no cycles. Throws ERR_WORKFLOW_INVALID naming the offending step. Returns the steps in
 * topological order (ties by priority, then definition order).
 */
export const validateWorkflow = (input: unknown): { definition: WorkflowDefinition; order: string[] } => {
  const parsed = WorkflowDefinition.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path ?? [];
    const index = path[0] === "steps" && typeof path[1] === "number" ? path[1] : undefined;
    const raw = index === undefined ? undefined : (input as { steps?: { id?: unknown }[] }).steps?.[index]?.id;
    const step = typeof raw === "string" ? raw.slice(0, 64) : index === undefined ? undefined : `#${index}`;
    throw invalid(`${path.map(String).join(".")}: ${issue?.message ?? "invalid"}`, step, { issues: parsed.error.issues.slice(0, 8).map((i) => `${i.path.map(String).join(".")}: ${i.message}`) });
  }
  const definition = parsed.data;
  const byId = new Map<string, WorkflowStep>();
  for (const step of definition.steps) {
    if (byId.has(step.id)) throw invalid("a second step has this id", step.id);
    byId.set(step.id, step);
  }
  for (const step of definition.steps) {
    if ((step.agent === undefined) === (step.capability === undefined)) throw invalid("name exactly one of agent and capability", step.id);
    for (const dep of step.dependsOn) {
      if (!byId.has(dep)) throw invalid(`depends on ${JSON.stringify(dep)}, which is not a step`, step.id, { missing: dep });
      if (dep === step.id) throw invalid("depends on itself", step.id);
    }
    for (const [field, source] of Object.entries(step.input)) {
      if (!("from" in source) || source.from !== "step") continue;
      if (!byId.has(source.step)) throw invalid(`input ${field} reads step ${JSON.stringify(source.step)}, which is not a step`, step.id, { missing: source.step });
      if (!step.dependsOn.includes(source.step)) throw invalid(`input ${field} reads step ${JSON.stringify(source.step)} but does not depend on it`, step.id, { missing: source.step });
    }
  }
  // Kahn's algorithm; what is left over lies on (or behind) a cycle
  const indegree = new Map(definition.steps.map((s) => [s.id, s.dependsOn.length]));
  const order: string[] = [];
  const ready = () =>
    definition.steps.filter((s) => indegree.get(s.id) === 0 && !order.includes(s.id)).sort((a, b) => b.priority - a.priority);
  for (let batch = ready(); batch.length > 0; batch = ready()) {
    for (const s of batch) {
      order.push(s.id);
      for (const other of definition.steps) if (other.dependsOn.includes(s.id)) indegree.set(other.id, (indegree.get(other.id) ?? 0) - 1);
    }
  }
  if (order.length < definition.steps.length) {
    const left = definition.steps.filter((s) => !order.includes(s.id));
    // walk dependencies among the leftovers until a step repeats: that step is on the cycle
    let at = left[0] as WorkflowStep;
    const seen: string[] = [];
    while (!seen.includes(at.id)) {
      seen.push(at.id);
      const next = at.dependsOn.map((d) => byId.get(d)).find((d) => d !== undefined && !order.includes(d.id));
      if (next === undefined) break;
      at = next;
    }
    const cycle = seen.slice(seen.indexOf(at.id));
    throw invalid(`is on a dependency cycle (${[...cycle, at.id].join(" → ")})`, at.id, { cycle });
  }
  return { definition, order };
};

/** Reads a dot path (`a.b.0`) out of a value. */
export const readPath = (value: unknown, path: string | undefined): unknown => {
  if (path === undefined || path === "") return value;
  let at: unknown = value;
  for (const key of path.split(".")) {
    if (typeof at !== "object" || at === null) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
};

/** The message a step sends: its constant fields plus each mapped input. */
export const stepMessage = (step: WorkflowStep, input: unknown, outputs: Readonly<Record<string, unknown>>): Record<string, unknown> => {
  const msg: Record<string, unknown> = { ...step.message };
  for (const [field, source] of Object.entries(step.input)) {
    if ("value" in source) msg[field] = source.value;
    else if (source.from === "input") msg[field] = readPath(input, source.path);
    else msg[field] = readPath(outputs[source.step], source.path);
  }
  return msg;
};

/** What a workflow actor keeps per step. */
export const StepRecord = z.strictObject({
  state: StepState,
  attempts: z.number().int().min(0),
  output: z.unknown().optional(),
  error: z.strictObject({ code: z.string().max(64), message: z.string().max(1024) }).optional(),
  ect: z.string().max(256).optional(),
  /** Set while a done step's ECT is named but not yet stored (a resuming owner mints it again). */
  ectPending: z.boolean().optional(),
  startedAt: z.number().int().optional(),
  endedAt: z.number().int().optional(),
});
export type StepRecord = z.infer<typeof StepRecord>;

export const WorkflowStatus = z.strictObject({
  wid: z.string().max(128),
  name: z.string().max(128),
  status: z.enum(["new", "running", "done", "failed", "rolled_back"]),
  order: z.array(z.string()),
  dependsOn: z.record(z.string(), z.array(z.string())),
  steps: z.record(z.string(), StepRecord),
  startEct: z.string().max(256).optional(),
});
export type WorkflowStatus = z.infer<typeof WorkflowStatus>;

const InternalKey = z.string().min(1).max(64);

export const WorkflowMessage = z.discriminatedUnion("type", [
  /** `wid` is the ECT workflow id: a UUID. */
  z.strictObject({ type: z.literal("tether.workflow.v1.start"), wid: z.uuid(), definition: z.unknown(), input: z.unknown().optional() }),
  // The actor's messages to itself (step outcomes, retries, resume) carry `key`, a secret of the running
  // instance that never leaves its process: one without it, from anyone on the bus, is refused.
  z.strictObject({ type: z.literal("tether.workflow.v1.step-done"), key: InternalKey, step: Id, attempt: z.number().int(), output: z.unknown().optional() }),
  z.strictObject({ type: z.literal("tether.workflow.v1.step-failed"), key: InternalKey, step: Id, attempt: z.number().int(), code: z.string().max(64), message: z.string().max(1024) }),
  z.strictObject({ type: z.literal("tether.workflow.v1.retry"), key: InternalKey, step: Id, attempt: z.number().int() }),
  z.strictObject({ type: z.literal("tether.workflow.v1.resume"), key: InternalKey }),
  z.strictObject({ type: z.literal("tether.workflow.v1.status") }),
  /** Answered with the status once the workflow is done, failed or rolled back (at once if it is). */
  z.strictObject({ type: z.literal("tether.workflow.v1.await") }),
]);
export type WorkflowMessage = z.infer<typeof WorkflowMessage>;

/** The id of the actor that runs workflow `wid`. */
export const workflowActorId = (wid: string): string => `wf-${wid}`;

import { z } from "zod";

/**
 * Behavioural profiles: what an agent class may do, checked by the runtime before each `ctx.act` and
 * each outbound message (see `docs/behaviour-profiles.md`). Declared in code (`static profile =
 * defineProfile({…})`), so parameter bounds are zod schemas; the checks themselves are pure functions.
 */

/** At most `max` allowed actions within a sliding `windowMs`. */
export const ProfileRate = z.strictObject({
  max: z.number().int().min(0).max(10_000),
  windowMs: z.number().int().min(1).max(86_400_000),
});
export type ProfileRate = z.infer<typeof ProfileRate>;

const UnitLimits = z.record(z.string().min(1).max(64), z.number().min(0).refine(Number.isFinite, "finite"));

/** What one named action may do. */
export const ProfileAction = z.strictObject({
  /** The action's params must parse with this schema (bounds, enums, sizes). */
  params: z.custom<z.ZodType>((v) => v instanceof z.ZodType, "a zod schema").optional(),
  rate: ProfileRate.optional(),
  /** Max units per action: a declared cost above it is blocked; metered usage above it is recorded. */
  maxUnits: UnitLimits.optional(),
});
export type ProfileAction = z.infer<typeof ProfileAction>;

/** What happens besides blocking (a violation is always blocked). */
export const ProfileResponse = z.enum(["block", "quarantine", "escalate", "trust-penalty"]);
export type ProfileResponse = z.infer<typeof ProfileResponse>;

/** An actor-id pattern: exact (`billing`), or a prefix ending in `*` (`worker-*`, `*` for any). */
const PeerPattern = z.string().min(1).max(256);

export const BehaviourProfile = z.strictObject({
  /** Allowed action names with their bounds; an action not named here is blocked. Absent: any name. */
  actions: z.record(z.string().min(1).max(256), ProfileAction).optional(),
  /** A rate over all actions together. */
  rate: ProfileRate.optional(),
  /** Actors this agent may send to from a handler. Absent: any. */
  peers: z.array(PeerPattern).max(1024).optional(),
  onViolation: ProfileResponse.default("block"),
  /** How long a `quarantine` response pauses the actor. */
  quarantineMs: z.number().int().min(1).max(86_400_000).default(60_000),
});
export type BehaviourProfile = z.output<typeof BehaviourProfile>;
export type BehaviourProfileInput = z.input<typeof BehaviourProfile>;

/** Validates a profile declaration once (where it is declared); throws a ZodError on a bad one. */
export const defineProfile = (input: BehaviourProfileInput): BehaviourProfile => BehaviourProfile.parse(input);

export const ViolationKind = z.enum(["action", "params", "rate", "resource", "peer"]);
export type ViolationKind = z.infer<typeof ViolationKind>;

/** What a check found wrong (the details of ERR_PROFILE_VIOLATION). */
export interface ProfileViolation {
  readonly kind: ViolationKind;
  readonly reason: string;
  /** The action name, or the target actor id of a message. */
  readonly judged: string;
  readonly response: ProfileResponse;
}

/** Whether an actor id matches a peer pattern. */
export const peerMatches = (pattern: string, id: string): boolean =>
  pattern.endsWith("*") ? id.startsWith(pattern.slice(0, -1)) : pattern === id;

/** The action checks that need no history: name, params, declared cost. Undefined when they pass. */
export const checkActionStatic = (
  profile: BehaviourProfile,
  name: string,
  params: unknown,
  cost: Readonly<Record<string, number>> | undefined,
): Omit<ProfileViolation, "response"> | undefined => {
  if (profile.actions === undefined) return undefined;
  const rule = Object.hasOwn(profile.actions, name) ? profile.actions[name] : undefined;
  if (rule === undefined) return { kind: "action", judged: name, reason: `action ${name} is not in the profile` };
  if (rule.params !== undefined) {
    const parsed = rule.params.safeParse(params);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { kind: "params", judged: name, reason: `params out of bounds: ${issue?.path.join(".") ?? ""} ${issue?.message ?? ""}`.slice(0, 512) };
    }
  }
  const over = overUnits(rule.maxUnits, cost);
  if (over !== undefined) return { kind: "resource", judged: name, reason: `declared ${over.unit} ${over.amount} exceeds the limit ${over.limit}` };
  return undefined;
};

/** The first unit whose amount is above its limit. */
export const overUnits = (
  limits: Readonly<Record<string, number>> | undefined,
  amounts: Readonly<Record<string, number>> | undefined,
): { unit: string; amount: number; limit: number } | undefined => {
  if (limits === undefined || amounts === undefined) return undefined;
  for (const [unit, limit] of Object.entries(limits)) {
    const amount = amounts[unit];
    if (amount !== undefined && amount > limit) return { unit, amount, limit };
  }
  return undefined;
};

/** Whether the profile lets a handler send to `target`. */
export const peerAllowed = (profile: BehaviourProfile, target: string): boolean =>
  profile.peers === undefined || profile.peers.some((p) => peerMatches(p, target));
